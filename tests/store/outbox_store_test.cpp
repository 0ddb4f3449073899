#include "store/sqlite_outbox_store.hpp"

#include <gtest/gtest.h>

#include <functional>

#include "ingest/event_validator.hpp"
#include "support/daemon_fixture.hpp"
#include "support/fn_unit.hpp"
#include "support/temp_dir.hpp"

namespace webhookd {
namespace {

using test::fn_unit;


class outbox_store_test : public ::testing::Test {
protected:
    void SetUp() override {
        storage_config cfg;
        cfg.path = dir.file("outbox.db");
        auto s = open_sqlite_outbox(cfg);
        ASSERT_TRUE(s.ok()) << s.err().message;
        store = std::move(s).value();
    }

    // Inserts one event in its own group; returns its outcome.
    result<ingest_outcome> insert(const std::string& id, const std::string& type) {
        std::optional<result<ingest_outcome>> out;
        fn_unit u([&](outbox_store& s, std::int64_t now) {
            out = s.insert_event(build_envelope(id, type, "2025-04-19T14:30:00Z", "{}"), now, now);
            return out->ok() ? status(ok_v) : status(out->err());
        });
        write_unit* units[] = {&u};
        store->write_group(units, 1000);
        return *out;
    }

    std::int64_t count(const std::string& sql) { return test::query_int(dir.file("outbox.db"), sql); }

    test::temp_dir dir;
    std::unique_ptr<outbox_store> store;
};

TEST_F(outbox_store_test, fans_out_to_enabled_matching_endpoints_only) {
    test::add_endpoint(dir.file("outbox.db"), "ep_all", "[]");
    test::add_endpoint(dir.file("outbox.db"), "ep_booking", R"(["booking.*"])");
    test::add_endpoint(dir.file("outbox.db"), "ep_payment", R"(["payment.failed"])");
    test::add_endpoint(dir.file("outbox.db"), "ep_off", R"(["*"])", false);

    auto r = insert("e1", "booking.created");
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(r->deliveries, 2);
    EXPECT_FALSE(r->duplicate);
    EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE endpoint_id IN ('ep_all','ep_booking') AND state='pending' "
                    "AND next_attempt_at = 1000"),
              2);
    EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries"), 2);
}

TEST_F(outbox_store_test, endpoints_added_by_another_connection_are_seen_by_the_next_group) {
    ASSERT_EQ(insert("e1", "a.b")->deliveries, 0);
    test::add_endpoint(dir.file("outbox.db"), "ep_new", "[]");
    EXPECT_EQ(insert("e2", "a.b")->deliveries, 1);
}

TEST_F(outbox_store_test, duplicate_id_writes_nothing_and_describes_the_first) {
    test::add_endpoint(dir.file("outbox.db"), "ep", "[]");
    ASSERT_TRUE(insert("same", "first.type").ok());
    auto again = insert("same", "second.type");
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(again->duplicate);
    EXPECT_EQ(again->type, "first.type");
    EXPECT_EQ(again->deliveries, 1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM events"), 1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries"), 1);
}

TEST_F(outbox_store_test, stored_body_is_the_envelope_and_data_offset_points_at_data) {
    auto e = build_envelope("e9", "t.x", "2025-04-19T14:30:00Z", R"({"b":1,"a":2})");
    fn_unit u([&](outbox_store& s, std::int64_t now) {
        auto r = s.insert_event(e, now, now);
        return r.ok() ? status(ok_v) : status(r.err());
    });
    write_unit* units[] = {&u};
    store->write_group(units, 5);
    sqlite::connection db(dir.file("outbox.db"));
    auto& q = db.prepare("SELECT body, substr(body, data_offset + 1, length(body) - data_offset - 1) FROM events");
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.text(0), R"({"id":"e9","timestamp":"2025-04-19T14:30:00Z","event":"t.x","data":{"b":1,"a":2}})");
    EXPECT_EQ(q.text(1), R"({"b":1,"a":2})");
}

TEST_F(outbox_store_test, a_failing_unit_is_rolled_back_alone) {
    auto insert_then = [](std::string id, bool fail) {
        return std::make_unique<fn_unit>([id, fail](outbox_store& s, std::int64_t now) -> status {
            auto r = s.insert_event(build_envelope(id, "t", "2025-04-19T14:30:00Z", "1"), now, now);
            if (!r) return r.err();
            if (fail) return error{error_code::invalid_field, "unit fails after writing"};
            return ok_v;
        });
    };
    auto a = insert_then("a", false);
    auto b = insert_then("b", true);
    auto c = insert_then("c", false);
    write_unit* units[] = {a.get(), b.get(), c.get()};
    store->write_group(units, 1);
    ASSERT_TRUE(a->result && c->result && b->result);
    EXPECT_TRUE(a->result->ok());
    EXPECT_TRUE(c->result->ok());
    ASSERT_FALSE(b->result->ok());
    EXPECT_EQ(b->result->err().code, error_code::invalid_field);
    EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE id IN ('a','c')"), 2);
    EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE id = 'b'"), 0);
}

TEST_F(outbox_store_test, a_locked_database_fails_the_whole_group_with_storage_unavailable) {
    storage_config cfg;
    cfg.path = dir.file("outbox.db");
    cfg.busy_timeout = std::chrono::milliseconds(50);
    auto fast = open_sqlite_outbox(cfg);
    ASSERT_TRUE(fast.ok());
    sqlite::connection other(dir.file("outbox.db"));
    other.exec("BEGIN EXCLUSIVE");
    fn_unit u([](outbox_store& s, std::int64_t now) -> status {
        auto r = s.insert_event(build_envelope("x", "t", "2025-04-19T14:30:00Z", "1"), now, now);
        return r.ok() ? status(ok_v) : status(r.err());
    });
    write_unit* units[] = {&u};
    (*fast)->write_group(units, 1);
    other.exec("ROLLBACK");
    ASSERT_TRUE(u.result);
    ASSERT_FALSE(u.result->ok());
    EXPECT_EQ(u.result->err().code, error_code::storage_unavailable);
    EXPECT_EQ(count("SELECT COUNT(*) FROM events"), 0);
}

TEST_F(outbox_store_test, counts_pending_and_dead_letters) {
    test::add_endpoint(dir.file("outbox.db"), "ep", "[]");
    insert("e1", "t");
    insert("e2", "t");
    auto c = store->counts();
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->pending, 2);
    EXPECT_EQ(c->dead_letters, 0);
}

TEST_F(outbox_store_test, database_is_in_wal_mode) {
    sqlite::connection db(dir.file("outbox.db"));
    auto& q = db.prepare("PRAGMA journal_mode");
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.text(0), "wal");
}

}  // namespace
}  // namespace webhookd
