#pragma once
// Thin RAII over the SQLite C API. A connection is used by one thread at a time; the
// statements it prepares belong to it and must not outlive it.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "webhookd/result.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace webhookd::sqlite {

// A prepared statement. step() returns true while a row is available; reset() makes it
// reusable (the owner's cache calls it on every statement it hands out).
class statement {
public:
    statement(sqlite3* db, std::string_view sql);  // throws sqlite::failure
    ~statement();
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;

    statement& bind(int index, std::int64_t value);
    statement& bind(int index, std::string_view text);
    statement& bind_blob(int index, std::span<const char> bytes);
    statement& bind_null(int index);
    // NULL for none (named apart: std::string converts to both this and string_view).
    statement& bind_text(int index, const std::optional<std::string>& text) {
        return text ? bind(index, std::string_view(*text)) : bind_null(index);
    }
    statement& bind(int index, std::optional<std::int64_t> value) {
        return value ? bind(index, *value) : bind_null(index);
    }

    bool step();   // throws sqlite::failure on error
    void run() { while (step()) {} }
    void reset();

    bool is_null(int col) const;
    std::int64_t int64(int col) const;
    std::string text(int col) const;
    std::string_view text_view(int col) const;  // valid until the next step/reset

private:
    sqlite3* db_;
    sqlite3_stmt* stmt_ = nullptr;
};

// An error from SQLite, with its extended result code.
struct failure : std::runtime_error {
    failure(int code, const std::string& what) : std::runtime_error(what), code(code) {}
    int code;
    // True for conditions that may pass: full disk, I/O error, busy, locked.
    bool transient() const;
};

class connection {
public:
    // Opens (creating if needed) the file. Throws sqlite::failure.
    explicit connection(const std::string& path, bool read_only = false);
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    void exec(std::string_view sql);  // throws sqlite::failure
    // A cached prepared statement, reset and with bindings cleared.
    statement& prepare(std::string_view sql);
    std::int64_t changes() const;
    std::int64_t last_insert_rowid() const;
    sqlite3* handle() const { return db_; }

private:
    // A statement's text is hashed at every prepare: this hash reads its length and three
    // words of it, not every byte. Texts that agree on those cost one longer comparison.
    struct sql_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view sql) const noexcept;
    };

    sqlite3* db_ = nullptr;
    std::unordered_map<std::string, std::unique_ptr<statement>, sql_hash, std::equal_to<>> cache_;
};

// Commits on commit(), rolls back otherwise (BEGIN IMMEDIATE: the write lock up front).
class transaction {
public:
    explicit transaction(connection& db);
    ~transaction();
    void commit();

private:
    connection& db_;
    bool done_ = false;
};

}  // namespace webhookd::sqlite
