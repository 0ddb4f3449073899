// The PostgreSQL client layer (store/pg.hpp) and PostgreSQL's migrations against a real,
// throwaway server (support/pg_server.hpp): parameters and NULLs, errors with their
// SQLSTATE, a lost server seen as transient, migrations applied once when several
// instances start together, and the schema's triggers. Skipped when PostgreSQL is not
// installed.

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "store/migrations.hpp"
#include "store/pg.hpp"
#include "util/redact_url.hpp"
#include "support/pg_server.hpp"

namespace webhookd {
namespace {

class pg_store : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        if (test::pg_server::bindir().empty()) return;
        server = std::make_unique<test::pg_server>();
    }
    static void TearDownTestSuite() { server.reset(); }
    void SetUp() override {
        if (!server) GTEST_SKIP() << "PostgreSQL is not installed (apt-get install postgresql)";
        url = server->create_database();
    }
    static std::unique_ptr<test::pg_server> server;
    std::string url;
};
std::unique_ptr<test::pg_server> pg_store::server;

TEST_F(pg_store, statements_take_parameters_and_read_nulls_and_counts) {
    pg::connection db(url);
    db.exec("CREATE TABLE t (id bigint PRIMARY KEY, name text, n bigint)");
    auto ins = db.query("INSERT INTO t VALUES ($1, $2, $3), ($4, $5, $6)",
                        {1, "it's; DROP TABLE t; --", std::int64_t{-5}, 2, std::nullopt, std::nullopt});
    EXPECT_EQ(ins.affected(), 2);
    auto r = db.query("SELECT id, name, n FROM t ORDER BY id");
    ASSERT_EQ(r.size(), 2);
    EXPECT_EQ(r.int64(0, 0), 1);
    EXPECT_EQ(r.text(0, 1), "it's; DROP TABLE t; --");  // a parameter, never SQL
    EXPECT_EQ(r.optional_int64(0, 2), -5);
    EXPECT_TRUE(r.is_null(1, 1));
    EXPECT_EQ(r.optional_int64(1, 2), std::nullopt);
    EXPECT_EQ(db.query("UPDATE t SET n = 0").affected(), 2);
    EXPECT_THROW(r.int64(0, 1), pg::failure);  // text is not an integer
}

TEST_F(pg_store, a_transaction_not_committed_is_rolled_back) {
    pg::connection db(url);
    db.exec("CREATE TABLE t (id bigint)");
    {
        pg::transaction tx(db);
        db.query("INSERT INTO t VALUES (1)");
    }
    {
        pg::transaction tx(db);
        db.query("INSERT INTO t VALUES (2)");
        tx.commit();
    }
    auto r = db.query("SELECT array_agg(id)::text FROM t");
    EXPECT_EQ(r.text(0, 0), "{2}");
}

TEST_F(pg_store, errors_carry_their_sqlstate_and_a_lost_server_is_transient) {
    pg::connection db(url);
    db.exec("CREATE TABLE t (id bigint PRIMARY KEY)");
    db.query("INSERT INTO t VALUES (1)");
    try {
        db.query("INSERT INTO t VALUES (1)");
        ADD_FAILURE() << "a duplicate key was accepted";
    } catch (const pg::failure& e) {
        EXPECT_TRUE(e.unique_violation()) << e.sqlstate;
        EXPECT_FALSE(e.transient());
    }
    try {
        db.query("SELECT * FROM no_such_table");
        ADD_FAILURE();
    } catch (const pg::failure& e) {
        EXPECT_EQ(e.sqlstate, "42P01");
        EXPECT_FALSE(e.transient());
    }

    server->stop();
    try {
        db.query("SELECT 1");
        ADD_FAILURE() << "a stopped server answered";
    } catch (const pg::failure& e) {
        EXPECT_TRUE(e.transient()) << e.sqlstate << " " << e.what();
    }
    EXPECT_FALSE(db.ok());
    try {
        pg::connection refused(url);
        ADD_FAILURE() << "connected to a stopped server";
    } catch (const pg::failure& e) {
        EXPECT_TRUE(e.transient()) << e.what();
    }
    server->start();
    pg::connection again(url);
    EXPECT_EQ(again.query("SELECT count(*) FROM t").int64(0, 0), 1);  // committed rows survived
}

TEST_F(pg_store, migrations_apply_once_when_instances_start_together) {
    const auto& all = detail::embedded_pg_migrations();
    ASSERT_FALSE(all.empty());
    std::vector<std::thread> instances;
    std::atomic<int> ok{0};
    for (int i = 0; i < 4; ++i) {
        instances.emplace_back([&] {
            pg::connection db(url);
            auto v = migrate(db, all);
            if (v && *v == all.back().version) ++ok;
        });
    }
    for (auto& t : instances) t.join();
    EXPECT_EQ(ok.load(), 4);
    pg::connection db(url);
    EXPECT_EQ(db.query("SELECT count(*) FROM schema_migrations").int64(0, 0), static_cast<std::int64_t>(all.size()));
    EXPECT_EQ(*migrate(db, all), all.back().version);  // again: nothing to do

    db.query("INSERT INTO schema_migrations VALUES (9999, 'from_the_future', 0)");
    auto newer = migrate(db, all);
    ASSERT_FALSE(newer.ok());
    EXPECT_EQ(newer.err().code, error_code::schema_too_new);
}

TEST_F(pg_store, a_migration_that_fails_names_itself_and_applies_nothing) {
    std::vector<migration> bad{{1, "good", "CREATE TABLE a (x int)"}, {2, "broken", "CREATE TABLE b (x nonsense_type)"}};
    pg::connection db(url);
    auto v = migrate(db, bad);
    ASSERT_FALSE(v.ok());
    EXPECT_EQ(v.err().code, error_code::migration_failed);
    EXPECT_NE(v.err().message.find("postgres/2_broken"), std::string::npos) << v.err().message;
    EXPECT_EQ(db.query("SELECT to_regclass('a') IS NULL").text(0, 0), "t");  // 1 was rolled back too
}

TEST_F(pg_store, the_schema_keeps_revisions_deletions_and_bodies_byte_for_byte) {
    pg::connection db(url);
    ASSERT_TRUE(migrate(db, detail::embedded_pg_migrations()).ok());
    auto revision = [&](const char* id) {
        return db.query("SELECT revision FROM endpoints WHERE id = $1", {id}).int64(0, 0);
    };
    db.query("INSERT INTO endpoints (id, url, created_at, updated_at) VALUES ('ep_a', 'https://a', 0, 0)");
    db.query("INSERT INTO endpoints (id, url, created_at, updated_at) VALUES ('ep_b', 'https://b', 0, 0)");
    auto a = revision("ep_a"), b = revision("ep_b");
    EXPECT_GT(b, a);
    db.query("UPDATE endpoints SET url = 'https://a2' WHERE id = 'ep_a'");
    EXPECT_GT(revision("ep_a"), b);
    auto before = revision("ep_b");
    db.query("UPDATE endpoints SET consecutive_failures = 3 WHERE id = 'ep_b'");  // health: no dispatcher reload
    EXPECT_EQ(revision("ep_b"), before);
    db.query("INSERT INTO endpoint_secrets VALUES ('ep_b', 'whsec_x', 1, NULL)");
    EXPECT_GT(revision("ep_b"), before);

    db.query("DELETE FROM endpoints WHERE id = 'ep_a'");
    db.query("DELETE FROM endpoints WHERE id = 'ep_b'");
    EXPECT_EQ(db.query("SELECT value FROM daemon_state WHERE key = 'endpoint_deletions'").int64(0, 0), 2);
    EXPECT_EQ(db.query("SELECT count(*) FROM endpoint_secrets").int64(0, 0), 0);  // cascaded

    // An envelope with bytes that are not UTF-8 comes back exactly.
    db.query("INSERT INTO events (id, type, timestamp, body, data_offset, created_at) "
             "VALUES ('e1', 'a.b', 't', decode($1, 'hex'), 0, 0)",
             {"7b00ff0a7d"});
    EXPECT_EQ(db.query("SELECT encode(body, 'hex') FROM events WHERE id = 'e1'").text(0, 0), "7b00ff0a7d");
    auto seq = db.query("SELECT seq FROM events WHERE id = 'e1'").int64(0, 0);
    auto d1 = db.query("INSERT INTO deliveries (event_seq, endpoint_id, created_at) VALUES ($1, 'ep_x', 0) RETURNING id",
                       {seq}).int64(0, 0);
    db.query("DELETE FROM deliveries WHERE id = $1", {d1});
    auto d2 = db.query("INSERT INTO deliveries (event_seq, endpoint_id, created_at) VALUES ($1, 'ep_x', 0) RETURNING id",
                       {seq}).int64(0, 0);
    EXPECT_GT(d2, d1);  // delivery ids are never reused
}

TEST(pg_redact_url, passwords_never_show) {
    EXPECT_EQ(redact_url("postgresql://webhookd:s3cr%40t@db.internal:5432/webhookd"),
              "postgresql://webhookd:***@db.internal:5432/webhookd");
    EXPECT_EQ(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    EXPECT_EQ(redact_url("postgresql:///db?host=/run/pg&password=x&user=u"),
              "postgresql:///db?host=/run/pg&password=***&user=u");
    EXPECT_EQ(redact_url("host=db dbname=w password='a b c' user=u"), "host=db dbname=w password=*** user=u");
    EXPECT_EQ(redact_url("host=db password=abc"), "host=db password=***");
    EXPECT_EQ(redact_url("postgresql://h/db?sslpassword=z"), "postgresql://h/db?sslpassword=z");
}

}  // namespace
}  // namespace webhookd
