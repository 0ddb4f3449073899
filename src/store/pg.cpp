#include "store/pg.hpp"

#include <libpq-fe.h>

#include <charconv>

namespace webhookd::pg {

namespace {

failure result_failure(const PGresult* r, pg_conn* conn) {
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    std::string message = r ? PQresultErrorMessage(r) : PQerrorMessage(conn);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
    return failure(state ? state : "", "postgresql: " + message);
}

// r if it is a success (rows, a command, or an empty statement); otherwise frees it and
// throws its error.
PGresult* checked(PGresult* r, pg_conn* conn) {
    auto status = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) return r;
    auto f = result_failure(r, conn);
    if (r) PQclear(r);
    throw f;
}

}  // namespace

bool failure::transient() const {
    if (sqlstate.empty()) return true;  // no answer from the server: the connection
    return sqlstate.starts_with("08") || sqlstate.starts_with("53") || sqlstate.starts_with("57P") ||
           sqlstate.starts_with("40");
}

void array::separate() {
    if (size_++ > 0) text_ += ',';
}

array& array::add(std::string_view text) {
    separate();
    text_ += '"';
    for (char c : text) {
        if (c == '"' || c == '\\') text_ += '\\';
        text_ += c;
    }
    text_ += '"';
    return *this;
}

array& array::add(std::int64_t v) {
    separate();
    text_ += std::to_string(v);
    return *this;
}

array& array::add(bool v) {
    separate();
    text_ += v ? 't' : 'f';
    return *this;
}

array& array::add_or_null(const std::optional<std::string>& text) {
    if (text) return add(std::string_view(*text));
    separate();
    text_ += "NULL";
    return *this;
}

namespace {

void put_be32(std::string& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift & 0xff));
}

constexpr std::uint32_t bytea_oid = 17;
constexpr std::size_t array_count_at = 12;  // ndim, flags, element type, then the count

}  // namespace

bytea_array::bytea_array() {
    put_be32(data_, 1);          // one dimension
    put_be32(data_, 0);          // no NULLs
    put_be32(data_, bytea_oid);  // of bytea
    put_be32(data_, 0);          // its length, set when sent
    put_be32(data_, 1);          // its lower bound
}

bytea_array& bytea_array::add(std::string_view bytes) {
    put_be32(data_, static_cast<std::uint32_t>(bytes.size()));
    data_.append(bytes);
    ++size_;
    return *this;
}

bytea_array::operator param() const {
    std::string count;
    put_be32(count, static_cast<std::uint32_t>(size_));
    param p = param::bytes(data_);
    p.value->replace(array_count_at, 4, count);
    return p;
}

rows::rows(pg_result* r) : r_(r) {}
rows::~rows() {
    if (r_) PQclear(r_);
}
rows& rows::operator=(rows&& o) noexcept {
    if (this != &o) {
        if (r_) PQclear(r_);
        r_ = o.r_;
        o.r_ = nullptr;
    }
    return *this;
}
int rows::size() const { return r_ ? PQntuples(r_) : 0; }
bool rows::is_null(int row, int col) const { return PQgetisnull(r_, row, col) != 0; }
std::string_view rows::text(int row, int col) const {
    return std::string_view(PQgetvalue(r_, row, col), static_cast<std::size_t>(PQgetlength(r_, row, col)));
}
std::int64_t rows::int64(int row, int col) const {
    auto t = text(row, col);
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (ec != std::errc() || end != t.data() + t.size()) {
        throw failure("22P02", "postgresql: column " + std::to_string(col) + " is not an integer: " + std::string(t));
    }
    return v;
}
std::string rows::bytes(int row, int col) const {
    auto t = text(row, col);
    if (!t.starts_with("\\x")) return std::string(t);
    auto nibble = [](char c) {
        return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
    };
    std::string out;
    out.reserve((t.size() - 2) / 2);
    for (std::size_t i = 2; i + 1 < t.size(); i += 2) out.push_back(static_cast<char>(nibble(t[i]) << 4 | nibble(t[i + 1])));
    return out;
}

std::int64_t rows::affected() const {
    const char* n = r_ ? PQcmdTuples(r_) : "";
    return *n ? std::stoll(n) : 0;
}

connection::connection(const std::string& url) {
    conn_ = PQconnectdb(url.c_str());
    if (PQstatus(conn_) != CONNECTION_OK) {
        auto f = result_failure(nullptr, conn_);
        PQfinish(conn_);
        conn_ = nullptr;
        throw f;
    }
    // Errors and notices belong to the caller, not to libpq's stderr.
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
}

connection::~connection() {
    if (conn_) PQfinish(conn_);
}

bool connection::ok() const { return conn_ && PQstatus(conn_) == CONNECTION_OK; }

rows connection::exec(std::string_view sql) {
    // PQexec runs every statement of the string in one round trip and returns the last
    // one's result, or the first error's.
    return rows(checked(PQexec(conn_, std::string(sql).c_str()), conn_));
}

const std::string& connection::prepared(std::string_view sql, int params) {
    static const std::string unprepared;
    std::string key(sql);
    if (auto it = prepared_.find(key); it != prepared_.end()) return it->second;
    if (prepared_.size() >= max_prepared) return unprepared;
    std::string name = "w" + std::to_string(prepared_.size() + 1);
    PQclear(checked(PQprepare(conn_, name.c_str(), key.c_str(), params, nullptr), conn_));
    return prepared_.emplace(std::move(key), std::move(name)).first->second;
}

rows connection::query(std::string_view sql, const std::vector<param>& params) {
    std::vector<const char*> values;
    std::vector<int> lengths, formats;
    values.reserve(params.size());
    lengths.reserve(params.size());
    formats.reserve(params.size());
    for (const auto& p : params) {
        values.push_back(p.value ? p.value->data() : nullptr);
        lengths.push_back(p.value ? static_cast<int>(p.value->size()) : 0);
        formats.push_back(p.binary ? 1 : 0);
    }
    auto n = static_cast<int>(values.size());
    const auto& name = prepared(sql, n);
    if (name.empty()) {
        return rows(checked(
            PQexecParams(conn_, std::string(sql).c_str(), n, nullptr, values.data(), lengths.data(), formats.data(), 0),
            conn_));
    }
    return rows(checked(PQexecPrepared(conn_, name.c_str(), n, values.data(), lengths.data(), formats.data(), 0), conn_));
}

transaction::transaction(connection& db) : db_(db) { db_.exec("BEGIN"); }

transaction::~transaction() {
    if (done_) return;
    try {
        db_.exec("ROLLBACK");
    } catch (const failure&) {
        // The connection is gone; so is the transaction.
    }
}

void transaction::commit() {
    db_.exec("COMMIT");
    done_ = true;
}

}  // namespace webhookd::pg
