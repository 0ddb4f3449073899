#pragma once
// Runs a real daemon in-process on ephemeral loopback ports with a fresh database: a
// SQLite file, or with WEBHOOKD_TEST_BACKEND=postgres a new database on the test process's
// PostgreSQL server (ctest runs the integration suites that matter both ways). The helpers
// that query the database take its "name": the SQLite file's path, or the PostgreSQL URL.

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <thread>
#include <stdexcept>

#include "store/pg.hpp"
#include "store/sqlite.hpp"
#include "support/http_client.hpp"
#include "support/pg_server.hpp"
#include "support/temp_dir.hpp"
#include "webhookd/daemon.hpp"

namespace webhookd::test {

// Parsed CIDRs, for delivery.allowed_cidrs. Throws on a bad one (a typo in the test).
inline std::vector<cidr> cidrs(std::initializer_list<std::string_view> texts) {
    std::vector<cidr> out;
    for (auto t : texts) {
        auto c = parse_cidr(t);
        if (!c) throw std::invalid_argument("not a CIDR: " + std::string(t));
        out.push_back(*c);
    }
    return out;
}

// True when the daemon tests run over PostgreSQL (WEBHOOKD_TEST_BACKEND=postgres).
inline bool on_postgres() {
    const char* backend = std::getenv("WEBHOOKD_TEST_BACKEND");
    return backend && std::string_view(backend) == "postgres";
}

inline bool is_pg_url(const std::string& db) { return db.starts_with("postgresql:"); }

// A config over a fresh database: dir's webhookd.db, or a new PostgreSQL database.
inline config test_config(const temp_dir& dir) {
    config cfg;
    cfg.ingest.listen = "127.0.0.1:0";
    cfg.admin.listen = "127.0.0.1:0";
    cfg.storage.path = dir.file("webhookd.db");
    if (on_postgres()) {
        auto* server = pg_server::shared();
        if (!server) throw std::runtime_error("WEBHOOKD_TEST_BACKEND=postgres, and PostgreSQL is not installed");
        cfg.storage.backend = storage_backend::postgres;
        cfg.storage.url = server->create_database();
    }
    cfg.shutdown_timeout = std::chrono::seconds(5);
    return cfg;
}

// Silent, unless WEBHOOKD_TEST_LOG is set: then debug lines on stderr.
inline std::shared_ptr<spdlog::logger> quiet_logger() {
    if (std::getenv("WEBHOOKD_TEST_LOG")) {
        auto log = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::stderr_sink_mt>());
        log->set_level(spdlog::level::debug);
        return log;
    }
    return std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
}

// Owns one daemon at a time over the same database; restart() keeps the file.
class daemon_runner {
public:
    explicit daemon_runner(config cfg) : cfg_(std::move(cfg)) { start(); }

    void start() {
        d_ = std::make_unique<daemon>(cfg_, quiet_logger(), clock_);
        if (auto s = d_->start(); !s) throw std::runtime_error(s.err().message);
    }
    void stop() { d_.reset(); }
    void restart() {
        stop();
        start();
    }
    unsigned short ingest_port() const { return d_->ingest_port(); }
    unsigned short admin_port() const { return d_->admin_port(); }
    std::vector<std::string> routes() const { return d_->routes(); }
    config& cfg() { return cfg_; }

private:
    config cfg_;
    system_clock clock_;
    std::unique_ptr<daemon> d_;
};

// One number from a query on a separate connection to the daemon's database.
inline std::int64_t query_int(const std::string& db_path, const std::string& sql) {
    if (is_pg_url(db_path)) {
        pg::connection db(db_path);
        auto r = db.query(sql);
        if (r.is_null(0, 0)) return 0;
        if (auto t = r.text(0, 0); t == "t" || t == "f") return t == "t";  // a boolean, as SQLite's 1 or 0
        return r.int64(0, 0);
    }
    sqlite::connection db(db_path);
    auto& q = db.prepare(sql);
    q.step();
    return q.int64(0);
}

// One text value from a query on a separate connection.
inline std::string query_text(const std::string& db_path, const std::string& sql) {
    if (is_pg_url(db_path)) {
        pg::connection db(db_path);
        auto r = db.query(sql);
        return r.is_null(0, 0) ? "" : r.bytes(0, 0);  // a bytea column's bytes, other columns' text
    }
    sqlite::connection db(db_path);
    auto& q = db.prepare(sql);
    q.step();
    return q.text(0);
}

// Runs `sql` (statements separated by semicolons, in SQL both backends speak) in one
// transaction on a separate connection: rows planted behind the daemon's back.
inline void exec(const std::string& db_path, const std::string& sql) {
    if (is_pg_url(db_path)) {
        pg::connection db(db_path);
        db.exec("BEGIN; " + sql + "; COMMIT");
        return;
    }
    sqlite::connection db(db_path);
    db.exec("BEGIN; " + sql + "; COMMIT");
}

// Inserts an endpoint the way the admin API will, for fan-out tests.
inline void add_endpoint(const std::string& db_path, const std::string& id, const std::string& patterns_json,
                         bool enabled = true) {
    if (is_pg_url(db_path)) {
        pg::connection db(db_path);
        db.query("INSERT INTO endpoints (id, url, event_patterns, enabled, created_at, updated_at) "
                 "VALUES ($1, 'https://example.com/hook', $2, $3, 0, 0)",
                 {id, patterns_json, enabled});
        return;
    }
    sqlite::connection db(db_path);
    db.prepare(
          "INSERT INTO endpoints (id, seq, url, event_patterns, enabled, created_at, updated_at) "
          "VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM endpoints), 'https://example.com/hook', ?, ?, 0, 0)")
        .bind(1, id)
        .bind(2, patterns_json)
        .bind(3, std::int64_t{enabled ? 1 : 0})
        .run();
}

// An endpoint that receives deliveries: URL, patterns, signing secret and options.
struct endpoint_spec {
    std::string id;
    std::string url;
    std::string patterns = "[]";
    std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    std::string format = "hex";
    std::string body_mode = "envelope";
    std::string headers = "{}";
    std::optional<std::int64_t> paused_at = std::nullopt;
};

inline void add_endpoint(const std::string& db_path, const endpoint_spec& e) {
    if (is_pg_url(db_path)) {
        pg::connection db(db_path);
        pg::transaction tx(db);  // a running dispatcher must never see the endpoint without its secret
        db.query("INSERT INTO endpoints (id, url, event_patterns, body_mode, signature_format, headers, paused_at, "
                 "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, 0)",
                 {e.id, e.url, e.patterns, e.body_mode, e.format, e.headers, e.paused_at});
        db.query("INSERT INTO endpoint_secrets (endpoint_id, secret, created_at) VALUES ($1, $2, 0)", {e.id, e.secret});
        tx.commit();
        return;
    }
    sqlite::connection db(db_path);
    sqlite::transaction tx(db);  // a running dispatcher must never see the endpoint without its secret
    db.prepare(
          "INSERT INTO endpoints (id, seq, url, event_patterns, body_mode, signature_format, headers, paused_at, "
          "created_at, updated_at) VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM endpoints), ?, ?, ?, ?, ?, ?, 0, 0)")
        .bind(1, e.id)
        .bind(2, e.url)
        .bind(3, e.patterns)
        .bind(4, e.body_mode)
        .bind(5, e.format)
        .bind(6, e.headers)
        .bind(7, e.paused_at)
        .run();
    db.prepare("INSERT INTO endpoint_secrets (endpoint_id, secret, created_at) VALUES (?, ?, 0)")
        .bind(1, e.id)
        .bind(2, e.secret)
        .run();
    tx.commit();
}

// Polls `sql` (one integer) until it equals `expected` or `timeout` passes; returns the last value.
inline std::int64_t wait_for_count(const std::string& db_path, const std::string& sql, std::int64_t expected,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::int64_t v = query_int(db_path, sql);
    while (v != expected && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        v = query_int(db_path, sql);
    }
    return v;
}

// The value of one series ("name" or "name{label=\"v\"}") in a Prometheus text page; -1 if absent.
inline double metric(const std::string& text, const std::string& series) {
    auto at = text.find("\n" + series + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + series.size() + 2));
}

// Polls the admin listener's /metrics until `series` has `expected` (the counters of
// outcomes move just after their commit); returns the last page read.
inline std::string wait_for_metric(unsigned short admin_port, const std::string& series, double expected,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string page;
    do {
        page = http_client(admin_port).get("/metrics").body;
        if (metric(page, series) == expected) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } while (std::chrono::steady_clock::now() < deadline);
    return page;
}

// A test suite with one daemon over a fresh database in a temporary directory. start()
// runs it with test_config(), then the suite's configure(), then the test's own tweak.
class daemon_test : public ::testing::Test {
protected:
    virtual void configure(config&) {}
    void start(const std::function<void(config&)>& tweak = {}) {
        auto cfg = test_config(dir);
        configure(cfg);
        if (tweak) tweak(cfg);
        database = cfg.storage.backend == storage_backend::postgres ? cfg.storage.url : cfg.storage.path;
        runner = std::make_unique<daemon_runner>(cfg);
    }
    // The daemon's database, for query_int and the like (after start()).
    std::string db() const { return database.empty() ? dir.file("webhookd.db") : database; }
    std::int64_t count(const std::string& sql) const { return query_int(db(), sql); }
    std::int64_t wait_for(const std::string& sql, std::int64_t expected) const {
        return wait_for_count(db(), sql, expected);
    }

    temp_dir dir;
    std::string database;
    std::unique_ptr<daemon_runner> runner;
};

// For a test that reaches into SQLite itself (locks, the file, the WAL): skipped over PostgreSQL.
#define WEBHOOKD_SQLITE_ONLY()                                                                  \
    do {                                                                                        \
        if (::webhookd::test::on_postgres()) GTEST_SKIP() << "reaches into SQLite itself";      \
    } while (0)

}  // namespace webhookd::test
