#include "store/sqlite.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstring>

#include "store/sqlite_memory.hpp"
#include "store/sqlite_page_cache.hpp"

namespace webhookd::sqlite {

namespace {

// How long a statement waits for another connection's lock before SQLITE_BUSY, unless
// the owner sets its own (the outbox takes storage.busy_timeout).
constexpr int default_busy_timeout_ms = 5000;

[[noreturn]] void raise(sqlite3* db, int code, std::string_view context) {
    std::string msg(context);
    msg += ": ";
    msg += db ? sqlite3_errmsg(db) : sqlite3_errstr(code);
    throw failure(db ? sqlite3_extended_errcode(db) : code, msg);
}

}  // namespace

bool failure::transient() const {
    switch (code & 0xff) {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
        return true;
    default:
        return false;
    }
}

statement::statement(sqlite3* db, std::string_view sql) : db_(db) {
    int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                &stmt_, nullptr);
    if (rc != SQLITE_OK) raise(db, rc, "prepare \"" + std::string(sql.substr(0, 60)) + "\"");
}

statement::~statement() { sqlite3_finalize(stmt_); }

statement& statement::bind(int index, std::int64_t value) {
    sqlite3_bind_int64(stmt_, index, value);
    return *this;
}

statement& statement::bind(int index, std::string_view text) {
    sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
    return *this;
}

statement& statement::bind_blob(int index, std::span<const char> bytes) {
    sqlite3_bind_blob64(stmt_, index, bytes.data(), bytes.size(), SQLITE_TRANSIENT);
    return *this;
}

statement& statement::bind_null(int index) {
    sqlite3_bind_null(stmt_, index);
    return *this;
}

bool statement::step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    raise(db_, rc, "step");
}

void statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

bool statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

std::int64_t statement::int64(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string_view statement::text_view(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string_view(p, static_cast<std::size_t>(n)) : std::string_view();
}

std::string statement::text(int col) const { return std::string(text_view(col)); }

connection::connection(const std::string& path, bool read_only) {
    // Before SQLite initialises (the first open): no allocation statistics, which cost a
    // global mutex on every malloc and free, small blocks reused per thread
    // (sqlite_memory.hpp), and the page cache that skips needless scans
    // (sqlite_page_cache.hpp). Later calls change nothing and are ignored.
    static const bool configured = [] {
        sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
        install_memory();
        install_page_cache();
        return true;
    }();
    (void)configured;
    if (!read_only && path != ":memory:" && !path.empty()) {
        // A new database is readable by its owner only, whatever the umask: it holds the
        // endpoints' secrets and every payload. SQLite gives its -wal and -shm files the
        // database file's mode. An existing file keeps the mode it has.
        int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) ::close(fd);
    }
    int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    flags |= SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = "open " + path + ": " + (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc));
        sqlite3_close(db_);
        db_ = nullptr;
        throw failure(rc, msg);
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, default_busy_timeout_ms);
}

connection::~connection() {
    cache_.clear();  // finalize statements before closing
    sqlite3_close(db_);
}

void connection::exec(std::string_view sql) {
    char* err = nullptr;
    std::string s(sql);
    int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string msg = err ? err : sqlite3_errstr(rc);
        sqlite3_free(err);
        throw failure(sqlite3_extended_errcode(db_), "exec: " + msg);
    }
}

std::size_t connection::sql_hash::operator()(std::string_view sql) const noexcept {
    if (sql.size() < 8) return std::hash<std::string_view>{}(sql);
    std::uint64_t h = sql.size() * 0x9e3779b97f4a7c15ull;
    for (std::size_t at : {std::size_t{0}, (sql.size() - 8) / 2, sql.size() - 8}) {
        std::uint64_t w;
        std::memcpy(&w, sql.data() + at, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return static_cast<std::size_t>(h);
}

statement& connection::prepare(std::string_view sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) {
        it = cache_.emplace(std::string(sql), std::make_unique<statement>(db_, sql)).first;
    } else {
        it->second->reset();
    }
    return *it->second;
}

std::int64_t connection::changes() const { return sqlite3_changes64(db_); }

std::int64_t connection::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

// Prepared once, like every other statement: sqlite3_exec parsed each of these anew, with
// a parser allocated and freed for every transaction.
transaction::transaction(connection& db) : db_(db) { db_.prepare("BEGIN IMMEDIATE").run(); }

transaction::~transaction() {
    if (!done_) {
        try {
            db_.prepare("ROLLBACK").run();
        } catch (const failure&) {
            // A failed COMMIT may already have rolled back; nothing more to undo.
        }
    }
}

void transaction::commit() {
    db_.prepare("COMMIT").run();
    done_ = true;
}

}  // namespace webhookd::sqlite
