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

// One parameter: text, or NULL.
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
    std::optional<std::string> value;
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

    // Runs one or more statements without parameters (migrations). Throws pg::failure.
    void exec(std::string_view sql);
    // Runs one statement with parameters. Throws pg::failure.
    rows query(std::string_view sql, const std::vector<param>& params = {});
    // False once the connection is lost (then a new one is needed).
    bool ok() const;

private:
    pg_conn* conn_ = nullptr;
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

// `url` with any password replaced by "***", for logs and --check-config: the URI form's
// user:password@ and the key=value form's password=...
std::string redact_url(std::string_view url);

}  // namespace webhookd::pg
