#include "store/migrations.hpp"

#include <gtest/gtest.h>

#include "ingest/event_validator.hpp"
#include "store/open_outbox.hpp"
#include "support/fn_unit.hpp"
#include "support/temp_dir.hpp"

namespace webhookd {
namespace {

int count_tables(sqlite::connection& db, const std::string& name) {
    auto& q = db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?");
    q.bind(1, name);
    q.step();
    return static_cast<int>(q.int64(0));
}

// Applies the embedded migrations up to `version` only: a database as an older release
// left it, for a test of the migrations after it.
void migrate_up_to(sqlite::connection& db, int version) {
    const auto& all = detail::embedded_migrations();
    ASSERT_GE(all.size(), static_cast<std::size_t>(version) + 1);
    ASSERT_EQ(*migrate(db, std::vector<migration>(all.begin(), all.begin() + version)), version);
}

// The store over a database a test wrote by hand, opened (and so migrated) as the daemon does.
result<opened_outbox> open_migrated(const std::string& path) {
    storage_config cfg;
    cfg.path = path;
    return open_outbox(cfg, nullptr);
}

TEST(migrations, embedded_are_numbered_in_order_from_one) {
    const auto& all = detail::embedded_migrations();
    ASSERT_FALSE(all.empty());
    for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].version, static_cast<int>(i + 1));
    EXPECT_EQ(all.front().name, "initial");
}

TEST(migrations, empty_database_gets_every_table) {
    test::temp_dir dir;
    sqlite::connection db(dir.file("a.db"));
    auto v = migrate(db, detail::embedded_migrations());
    ASSERT_TRUE(v.ok()) << v.err().message;
    EXPECT_EQ(*v, detail::embedded_migrations().back().version);
    for (auto t : {"endpoints", "endpoint_secrets", "events", "deliveries", "attempts", "dead_letters"}) {
        EXPECT_EQ(count_tables(db, t), 1) << t;
    }
    EXPECT_EQ(schema_version(db), *v);
}

TEST(migrations, existing_database_is_not_migrated_twice_and_keeps_rows) {
    test::temp_dir dir;
    {
        sqlite::connection db(dir.file("a.db"));
        ASSERT_TRUE(migrate(db, detail::embedded_migrations()).ok());
        db.exec("INSERT INTO events (id, type, timestamp, body, data_offset, created_at) VALUES ('e1', 't', 'ts', '{}', 0, 0)");
    }
    sqlite::connection db(dir.file("a.db"));
    auto v = migrate(db, detail::embedded_migrations());
    ASSERT_TRUE(v.ok()) << v.err().message;
    auto& q = db.prepare("SELECT COUNT(*) FROM events");
    q.step();
    EXPECT_EQ(q.int64(0), 1);
    auto& m = db.prepare("SELECT COUNT(*) FROM schema_migrations");
    m.step();
    EXPECT_EQ(m.int64(0), static_cast<std::int64_t>(detail::embedded_migrations().size()));
}

TEST(migrations, a_new_migration_applies_on_top) {
    test::temp_dir dir;
    sqlite::connection db(dir.file("a.db"));
    std::vector<migration> v1 = {{1, "one", "CREATE TABLE a (x INTEGER);"}};
    ASSERT_EQ(*migrate(db, v1), 1);
    auto v2 = v1;
    v2.push_back({2, "two", "ALTER TABLE a ADD COLUMN y TEXT;"});
    ASSERT_EQ(*migrate(db, v2), 2);
    EXPECT_EQ(schema_version(db), 2);
    db.exec("INSERT INTO a (x, y) VALUES (1, 'z')");
}

TEST(migrations, database_newer_than_the_binary_is_refused) {
    test::temp_dir dir;
    sqlite::connection db(dir.file("a.db"));
    std::vector<migration> newer = {{1, "one", "CREATE TABLE a (x);"}, {2, "two", "CREATE TABLE b (x);"}};
    ASSERT_TRUE(migrate(db, newer).ok());
    auto r = migrate(db, {{1, "one", "CREATE TABLE a (x);"}});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, error_code::schema_too_new);
    EXPECT_NE(r.err().message.find("version 2"), std::string::npos) << r.err().message;
}

TEST(migrations, a_failing_migration_applies_nothing) {
    test::temp_dir dir;
    sqlite::connection db(dir.file("a.db"));
    std::vector<migration> bad = {{1, "one", "CREATE TABLE a (x);"}, {2, "broken", "CREATE TABLE oops ("}};
    auto r = migrate(db, bad);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.err().code, error_code::migration_failed);
    EXPECT_NE(r.err().message.find("2_broken"), std::string::npos) << r.err().message;
    EXPECT_EQ(count_tables(db, "a"), 0);
    EXPECT_EQ(schema_version(db), 0);
}

// Migration 5 on a database where the bug already struck: dlv_2 died, then a new delivery
// got id 2 again (with one attempt of its own); dlv_3 is delivered and gone by retention.
TEST(migrations, delivery_ids_are_renumbered_apart_from_dead_letters_and_never_reused) {
    test::temp_dir dir;
    sqlite::connection db(dir.file("a.db"));
    ASSERT_NO_FATAL_FAILURE(migrate_up_to(db, 4));
    const auto& all = detail::embedded_migrations();
    db.exec("INSERT INTO events (seq, id, type, timestamp, body, data_offset, created_at) VALUES "
            "(1, 'e1', 't', 'ts', '{}', 0, 0), (2, 'e2', 't', 'ts', '{}', 0, 0)");
    db.exec("INSERT INTO dead_letters (id, event_seq, endpoint_id, attempts, created_at, died_at) "
            "VALUES (2, 1, 'ep', 1, 100, 200)");
    db.exec("INSERT INTO deliveries (id, event_seq, endpoint_id, attempts, next_attempt_at, created_at) VALUES "
            "(1, 1, 'ep', 0, 0, 50), (2, 2, 'ep', 1, 999, 300)");
    db.exec("INSERT INTO attempts (delivery_id, endpoint_id, attempt, started_at, duration_us, outcome) VALUES "
            "(2, 'ep', 1, 150, 1, 'http_error'), (2, 'ep', 1, 350, 1, 'http_error')");

    ASSERT_EQ(*migrate(db, all), static_cast<int>(all.size()));
    auto one = [&](const std::string& sql) {
        auto& q = db.prepare(sql);
        q.step();
        auto v = q.int64(0);
        q.reset();
        return v;
    };
    // The live delivery of e2 has a fresh id; the dead letter keeps 2 and its own attempt.
    auto moved = one("SELECT id FROM deliveries WHERE event_seq = 2");
    EXPECT_EQ(moved, 3);
    EXPECT_EQ(one("SELECT COUNT(*) FROM attempts WHERE delivery_id = 2 AND started_at = 150"), 1);
    EXPECT_EQ(one("SELECT COUNT(*) FROM attempts WHERE delivery_id = 2"), 1);
    EXPECT_EQ(one("SELECT COUNT(*) FROM attempts WHERE delivery_id = 3 AND started_at = 350"), 1);
    EXPECT_EQ(one("SELECT COUNT(*) FROM deliveries d JOIN dead_letters l ON l.id = d.id"), 0);
    // Whatever is deleted, the next id is above every id either table has held.
    db.exec("DELETE FROM deliveries");
    db.exec("INSERT INTO deliveries (event_seq, endpoint_id, created_at) VALUES (1, 'ep', 400)");
    EXPECT_EQ(one("SELECT MAX(id) FROM deliveries"), 4);
    EXPECT_EQ(one("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deliveries' "
                  "AND name LIKE 'deliveries_%'"),
              8);  // 0005 rebuilt its 8; 0007 made the two due indexes one; 0009 added the FIFO head's (FIFO deliveries only)
}

// A database of the release before tenants (migration 5) upgrades in place: its endpoints
// and events become the platform's, and an event without a tenant reaches them as before.
TEST(migrations, a_database_from_before_tenants_keeps_its_endpoints_and_events_as_the_platforms) {
    test::temp_dir dir;
    {
        sqlite::connection db(dir.file("old.db"));
        ASSERT_NO_FATAL_FAILURE(migrate_up_to(db, 5));
        db.exec("INSERT INTO endpoints (id, seq, url, event_patterns, created_at, updated_at) VALUES "
                "('ep_old', 1, 'https://example.com/hook', '[\"booking.*\"]', 0, 0)");
        db.exec("INSERT INTO endpoint_secrets (endpoint_id, secret, created_at) VALUES "
                "('ep_old', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 0)");
        db.exec("INSERT INTO events (seq, id, type, timestamp, body, data_offset, created_at) VALUES "
                "(1, 'evt_old', 'booking.created', 'ts', '{}', 0, 0)");
    }
    auto opened = open_migrated(dir.file("old.db"));
    ASSERT_TRUE(opened.ok()) << opened.err().message;
    auto& store = *opened->writer;
    auto old_event = store.get_event("evt_old").value();
    ASSERT_TRUE(old_event);
    EXPECT_FALSE(old_event->tenant);
    auto listed = store.list_endpoints(endpoint_filter{}, page_request{}, 0).value();
    ASSERT_EQ(listed.size(), 1u);
    EXPECT_FALSE(listed[0].tenant);

    std::optional<result<ingest_outcome>> fresh, taken;
    test::fn_unit u([&](outbox_store& s, std::int64_t now) -> status {
        fresh = s.insert_event(build_envelope("evt_new", "booking.created", "ts", "{}"), now, now);
        auto with_tenant = build_envelope("evt_old", "booking.created", "ts", "{}");
        with_tenant.tenant = "biz_1";
        taken = s.insert_event(with_tenant, now, now);
        return ok_v;
    });
    write_unit* units[] = {&u};
    store.write_group(units, 10);
    ASSERT_TRUE(fresh && fresh->ok()) << fresh->err().message;
    EXPECT_EQ((*fresh)->endpoint_ids, std::vector<std::string>{"ep_old"});
    ASSERT_TRUE(taken);
    EXPECT_EQ(taken->err().code, error_code::tenant_not_found);  // no tenant exists yet
}

// Migration 0011 keys pending deliveries by their endpoint's seq: a database from before
// it keeps its pending deliveries claimable (and only those get the key), and a delivered
// one resent afterwards gets it then.
TEST(migrations, pending_deliveries_from_before_endpoint_keys_are_still_claimed_and_resent_ones_too) {
    test::temp_dir dir;
    const auto& all = detail::embedded_migrations();
    {
        sqlite::connection db(dir.file("old.db"));
        ASSERT_NO_FATAL_FAILURE(migrate_up_to(db, 10));
        db.exec("INSERT INTO endpoints (id, seq, url, event_patterns, created_at, updated_at) VALUES "
                "('ep_a', 1, 'https://example.com/a', '[]', 0, 0), ('ep_b', 2, 'https://example.com/b', '[]', 0, 0)");
        db.exec("INSERT INTO events (seq, id, type, timestamp, body, data_offset, created_at) VALUES "
                "(1, 'e1', 'a.b', 'ts', '{}', 0, 0), (2, 'e2', 'a.b', 'ts', '{}', 0, 0)");
        db.exec("INSERT INTO deliveries (id, event_seq, endpoint_id, state, next_attempt_at, created_at, delivered_at) "
                "VALUES (1, 1, 'ep_b', 'pending', 5, 0, NULL), (2, 2, 'ep_b', 'delivered', NULL, 0, 7), "
                "(3, 2, 'ep_a', 'pending', 5, 0, NULL)");
    }
    {
        sqlite::connection db(dir.file("old.db"));
        using row = std::pair<std::int64_t, std::optional<std::int64_t>>;
        auto rows = [&] {
            auto& q = db.prepare("SELECT id, endpoint_seq FROM deliveries ORDER BY id");
            std::vector<row> out;
            while (q.step()) out.emplace_back(q.int64(0), q.is_null(1) ? std::nullopt : std::optional(q.int64(1)));
            q.reset();
            return out;
        };
        ASSERT_NO_FATAL_FAILURE(migrate_up_to(db, 11));
        EXPECT_EQ(rows(), (std::vector<row>{{1, 2}, {2, std::nullopt}, {3, 1}}));
        ASSERT_EQ(*migrate(db, all), static_cast<int>(all.size()));
        EXPECT_EQ(rows(), (std::vector<row>{{1, 2}, {2, 2}, {3, 1}}));  // 0013: every delivery
    }
    auto opened = open_migrated(dir.file("old.db"));
    ASSERT_TRUE(opened.ok()) << opened.err().message;
    auto& store = *opened->writer;
    std::optional<result<std::vector<endpoint_claim>>> first, again;
    test::fn_unit claim([&](outbox_store& s, std::int64_t now) -> status {
        first = s.claim(std::vector<claim_order>{{"ep_b", 10}}, 10, now, now + 1000, "a");
        return ok_v;
    });
    write_unit* units[] = {&claim};
    store.write_group(units, 10);
    ASSERT_TRUE(first && first->ok());
    ASSERT_EQ((*first)->size(), 1u);
    ASSERT_EQ((*first)->at(0).deliveries.size(), 1u);
    EXPECT_EQ((*first)->at(0).deliveries[0].id, 1);
    test::fn_unit resend([&](outbox_store& s, std::int64_t now) -> status {
        if (auto st = s.retry_delivery(2, now); !st) return st;
        again = s.claim(std::vector<claim_order>{{"ep_b", 10}}, 10, now, now + 1000, "a");
        return ok_v;
    });
    write_unit* units2[] = {&resend};
    store.write_group(units2, 20);
    ASSERT_TRUE(resend.result && resend.result->ok()) << resend.result->err().message;
    ASSERT_TRUE(again && again->ok());
    ASSERT_EQ((*again)->size(), 1u);
    ASSERT_EQ((*again)->at(0).deliveries.size(), 1u);
    EXPECT_EQ((*again)->at(0).deliveries[0].id, 2);
}

// Migration 0012 keys a tenant's events by the tenant's seq: a database from before it
// lists each tenant's events as before, and a later tenant that takes a deleted one's seq
// starts with none of its events.
TEST(migrations, tenant_events_from_before_tenant_keys_are_listed_by_their_tenant) {
    test::temp_dir dir;
    {
        sqlite::connection db(dir.file("old.db"));
        ASSERT_NO_FATAL_FAILURE(migrate_up_to(db, 11));
        db.exec("INSERT INTO tenants (id, seq, created_at, updated_at) VALUES ('biz_a', 1, 0, 0), ('biz_b', 2, 0, 0)");
        db.exec("INSERT INTO events (seq, id, type, timestamp, body, data_offset, created_at, tenant_id) VALUES "
                "(1, 'e1', 'a.b', 'ts', '{}', 0, 0, 'biz_a'), (2, 'e2', 'a.b', 'ts', '{}', 0, 0, 'biz_b'), "
                "(3, 'e3', 'a.b', 'ts', '{}', 0, 0, NULL), (4, 'e4', 'a.b', 'ts', '{}', 0, 0, 'biz_a')");
    }
    auto opened = open_migrated(dir.file("old.db"));
    ASSERT_TRUE(opened.ok()) << opened.err().message;
    auto& store = *opened->writer;
    auto ids_of = [&](const char* tenant) {
        event_filter f;
        f.tenant = tenant;
        auto listed = store.list_events(f, page_request{});
        std::vector<std::string> ids;
        for (const auto& e : listed.value()) ids.push_back(e.id);
        return ids;
    };
    EXPECT_EQ(ids_of("biz_a"), (std::vector<std::string>{"e4", "e1"}));
    EXPECT_EQ(ids_of("biz_b"), std::vector<std::string>{"e2"});
    // An event ingested after the upgrade joins its tenant's list.
    auto fresh = build_envelope("e5", "a.b", "ts", "{}");
    fresh.tenant = "biz_b";
    ASSERT_TRUE(store.insert_event(fresh, 10, 10).ok());
    EXPECT_EQ(ids_of("biz_b"), (std::vector<std::string>{"e5", "e2"}));
    // biz_b had the highest seq: the next tenant created takes it again.
    ASSERT_TRUE(store.delete_tenant("biz_b").ok());
    ASSERT_TRUE(store.create_tenant("biz_c", tenant_settings{}, 20).ok());
    EXPECT_EQ(ids_of("biz_c"), std::vector<std::string>{});
    EXPECT_EQ(ids_of("biz_a"), (std::vector<std::string>{"e4", "e1"}));
    EXPECT_FALSE(store.get_event("e2").value());
    EXPECT_TRUE(store.get_event("e3").value());
}

// Migration 0013 keys an endpoint's deliveries of every state by its seq: a database from
// before it lists each endpoint's deliveries as before, a deleted endpoint's too, although
// its delivered rows held the seq that a later endpoint took again (0011 let that happen)
// or none (from before 0011). No endpoint created afterwards takes a deleted one's seq.
TEST(migrations, deliveries_from_before_history_keys_are_listed_by_their_endpoint) {
    test::temp_dir dir;
    {
        sqlite::connection db(dir.file("old.db"));
        ASSERT_NO_FATAL_FAILURE(migrate_up_to(db, 12));
        // ep_gone had seq 2 and was deleted; ep_b then took seq 2.
        db.exec("INSERT INTO endpoints (id, seq, url, event_patterns, created_at, updated_at) VALUES "
                "('ep_a', 1, 'https://example.com/a', '[]', 0, 0), ('ep_b', 2, 'https://example.com/b', '[]', 0, 0)");
        db.exec("INSERT INTO events (seq, id, type, timestamp, body, data_offset, created_at) VALUES "
                "(1, 'e1', 'a.b', 'ts', '{}', 0, 0), (2, 'e2', 'a.b', 'ts', '{}', 0, 0), "
                "(3, 'e3', 'a.b', 'ts', '{}', 0, 0)");
        db.exec("INSERT INTO deliveries (id, event_seq, endpoint_id, endpoint_seq, state, next_attempt_at, "
                "created_at, delivered_at) VALUES "
                "(1, 1, 'ep_gone', NULL, 'delivered', NULL, 0, 7), (2, 2, 'ep_gone', 2, 'delivered', NULL, 0, 7), "
                "(3, 3, 'ep_b', 2, 'pending', 5, 0, NULL), (4, 1, 'ep_a', NULL, 'delivered', NULL, 0, 7), "
                "(5, 2, 'ep_a', 1, 'pending', 5, 0, NULL)");
    }
    auto opened = open_migrated(dir.file("old.db"));
    ASSERT_TRUE(opened.ok()) << opened.err().message;
    auto& store = *opened->writer;
    auto listed = [&](const char* endpoint) {
        delivery_filter f;
        f.endpoint_id = endpoint;
        std::vector<std::int64_t> ids;
        auto page = store.list_deliveries(f, page_request{});
        for (const auto& d : page.value()) ids.push_back(d.id);
        return ids;
    };
    EXPECT_EQ(listed("ep_gone"), (std::vector<std::int64_t>{2, 1}));
    EXPECT_EQ(listed("ep_b"), std::vector<std::int64_t>{3});
    EXPECT_EQ(listed("ep_a"), (std::vector<std::int64_t>{5, 4}));
    // ep_gone's seq is 3 now, retired: a new endpoint takes 4, and ep_gone again takes 3.
    endpoint_settings s;
    s.url = "https://example.com/c";
    ASSERT_TRUE(store.create_endpoint("ep_c", s, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 10).ok());
    ASSERT_TRUE(store.create_endpoint("ep_gone", s, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 10).ok());
    sqlite::connection db(dir.file("old.db"));
    auto& q = db.prepare("SELECT id, seq FROM endpoints ORDER BY id");
    std::vector<std::pair<std::string, std::int64_t>> seqs;
    while (q.step()) seqs.emplace_back(q.text(0), q.int64(1));
    q.reset();
    EXPECT_EQ(seqs, (std::vector<std::pair<std::string, std::int64_t>>{
                        {"ep_a", 1}, {"ep_b", 2}, {"ep_c", 4}, {"ep_gone", 3}}));
    EXPECT_EQ(listed("ep_gone"), (std::vector<std::int64_t>{2, 1}));
    EXPECT_EQ(listed("ep_c"), std::vector<std::int64_t>{});
}

}  // namespace
}  // namespace webhookd
