#pragma once
// Thin RAII over libpq, the PostgreSQL C client, in the shape of store/sqlite.hpp. A
// connection is used by one thread at a time. Statements are sent with parameters in text
// form ($1, $2, ...), never spliced into the SQL; results are read by row and column.

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct pg_conn;
struct pg_result;

namespace webhookd::pg {

// An error from PostgreSQL or libpq, with its SQLSTATE ("" when the connection failed
// before the server answered).
struct failure : std::runtime_error {
    failure(std::string sqlstate, const std::string& what) : std::runtime_error(what), sqlstate(std::move(sqlstate)) {}
    std::string sqlstate;
    // True for conditions that may pass: a lost or refused connection, a server shutting
    // down or starting, too many connections, a serialization failure or a deadlock, a
    // full disk (classes 08, 53, 57P, 40).
    bool transient() const;
    // A unique or primary key was violated (23505).
    bool unique_violation() const { return sqlstate == "23505"; }
};

// One parameter: text, NULL, or bytes (param::bytes, for a bytea column).
struct param {
    param(std::nullopt_t) {}
    param(std::string_view v) : value(std::string(v)) {}
    param(const char* v) : value(std::string(v)) {}
    param(const std::string& v) : value(v) {}
    param(std::int64_t v) : value(std::to_string(v)) {}
    param(int v) : value(std::to_string(v)) {}
    param(bool v) : value(v ? "t" : "f") {}
    param(const std::optional<std::string>& v) : value(v) {}
    param(std::optional<std::int64_t> v) : value(v ? std::optional<std::string>(std::to_string(*v)) : std::nullopt) {}
    // Sent as they are, in binary form: any bytes, kept exactly.
    static param bytes(std::string_view v) {
        param p{v};
        p.binary = true;
        return p;
    }
    std::optional<std::string> value;
    bool binary = false;
};

// An array parameter, for $n::text[], $n::bigint[] or $n::boolean[]: a PostgreSQL array
// literal built element by element ({"ep_1","ep_2"}, {1,2}, {t,f}).
class array {
public:
    array& add(std::string_view text);  // quoted, with " and \ escaped
    array& add(std::int64_t v);
    array& add(bool v);
    array& add_or_null(const std::optional<std::string>& text);  // NULL when none
    bool empty() const { return size_ == 0; }
    std::size_t size() const { return size_; }
    operator param() const { return param(text_ + "}"); }

private:
    void separate();
    std::string text_ = "{";
    std::size_t size_ = 0;
};

// A bytea[] parameter ($n::bytea[]) in PostgreSQL's binary array form: every element's
// bytes sent as they are, without the hex or escape text a literal would need.
class bytea_array {
public:
    bytea_array();
    bytea_array& add(std::string_view bytes);
    std::size_t size() const { return size_; }
    operator param() const;

private:
    std::string data_;  // the header, its element count patched in by operator param
    std::size_t size_ = 0;
};

// The rows a statement returned. Columns are read as text and converted.
class rows {
public:
    explicit rows(pg_result* r);
    ~rows();
    rows(rows&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
    rows& operator=(rows&& o) noexcept;
    rows(const rows&) = delete;
    rows& operator=(const rows&) = delete;

    int size() const;
    bool empty() const { return size() == 0; }
    bool is_null(int row, int col) const;
    std::string_view text(int row, int col) const;  // valid while this object lives
    std::int64_t int64(int row, int col) const;     // throws pg::failure if not an integer
    std::optional<std::int64_t> optional_int64(int row, int col) const {
        return is_null(row, col) ? std::nullopt : std::optional<std::int64_t>(int64(row, col));
    }
    std::optional<std::string> optional_text(int row, int col) const {
        return is_null(row, col) ? std::nullopt : std::optional<std::string>(text(row, col));
    }
    bool boolean(int row, int col) const { return text(row, col) == "t"; }
    // A bytea column's bytes (its text form is "\\x" and hex digits); "" for NULL.
    std::string bytes(int row, int col) const;
    // The number of rows an INSERT, UPDATE or DELETE touched.
    std::int64_t affected() const;

private:
    pg_result* r_;
};

class connection {
public:
    // Connects with a libpq connection string or URI ("postgresql://user@host/db",
    // "host=/run/pg dbname=webhookd"). Throws pg::failure.
    explicit connection(const std::string& url);
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;

    // Runs one or more statements without parameters (migrations, transaction control) in
    // the simple protocol, all in one round trip; returns the last one's rows. Throws
    // pg::failure.
    rows exec(std::string_view sql);
    // Runs one statement with parameters, prepared on this connection at its first use
    // (the server parses and plans it once, not at every call). Throws pg::failure.
    rows query(std::string_view sql, const std::vector<param>& params = {});
    // False once the connection is lost (then a new one is needed).
    bool ok() const;

private:
    // The name a statement was prepared under, preparing it now if it is new; "" for one
    // run unprepared (past the cache's bound: SQL built from many filter combinations).
    const std::string& prepared(std::string_view sql, int params);

    static constexpr std::size_t max_prepared = 512;
    pg_conn* conn_ = nullptr;
    std::unordered_map<std::string, std::string> prepared_;  // SQL -> statement name
};

// Commits on commit(), rolls back otherwise.
class transaction {
public:
    explicit transaction(connection& db);
    ~transaction();
    void commit();

private:
    connection& db_;
    bool done_ = false;
};

}  // namespace webhookd::pg
