// The outbox contract: what every backend of outbox_store must do, proved through the
// interface alone (no SQL behind its back), once per backend. A new backend joins by adding
// a factory to `backends` below; every test then runs against it unchanged.
//
// Each test drives time by hand (now_ms arguments), so leases, schedules and retention are
// exact. Writes run inside write_group, as the interface requires.

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ingest/event_validator.hpp"
#include "store/open_outbox.hpp"
#include "store/outbox_store.hpp"
#include "store/outbox_store_base.hpp"
#include "store/pg.hpp"
#include "store/pg_store_impl.hpp"
#include "support/fn_unit.hpp"
#include "support/pg_server.hpp"
#include "support/temp_dir.hpp"

namespace webhookd {
namespace {

using test::fn_unit;

// ---- Backends ---------------------------------------------------------------------------

struct sqlite_backend {
    // A fresh, migrated store in `dir`.
    static std::unique_ptr<outbox_store> open(const test::temp_dir& dir) {
        storage_config cfg;
        cfg.path = dir.file("contract.db");
        auto s = open_outbox(cfg, nullptr);
        if (!s) throw std::runtime_error(s.err().message);
        return std::move(s->writer);
    }
};

struct pg_backend {
    // A fresh, migrated store in a database of its own on the test process's server; null
    // when PostgreSQL is not installed.
    static std::unique_ptr<outbox_store> open(const test::temp_dir&) {
        auto* server = test::pg_server::shared();
        if (!server) return nullptr;
        storage_config cfg;
        cfg.backend = storage_backend::postgres;
        cfg.url = url = server->create_database();
        auto s = open_outbox(cfg, nullptr);
        if (!s) throw std::runtime_error(s.err().message);
        return std::move(s->writer);
    }
    static inline std::string url;  // the last store's database, for other connections to it
};

// ---- Helpers ----------------------------------------------------------------------------


template <class Backend>
class store_contract : public ::testing::Test {
protected:
    void SetUp() override {
        store = Backend::open(dir);
        if (!store) GTEST_SKIP() << "PostgreSQL is not installed (apt-get install postgresql)";
    }
    // Whatever a test did, the counts kept in the data equal the rows counted one by one.
    void TearDown() override {
        if (!store || HasFatalFailure()) return;
        auto kept = store->counts();
        auto counted = store->recount();
        ASSERT_TRUE(kept.ok()) << kept.err().message;
        ASSERT_TRUE(counted.ok()) << counted.err().message;
        EXPECT_EQ(kept->pending, counted->pending);
        EXPECT_EQ(kept->dead_letters, counted->dead_letters);
        EXPECT_TRUE(*kept == *counted) << "per-endpoint counts differ";
    }

    // Runs fn in a group of its own at now_ms; returns what its unit was told.
    status write(std::int64_t now_ms, std::function<status(outbox_store&, std::int64_t)> fn) {
        fn_unit u(std::move(fn));
        write_unit* units[] = {&u};
        store->write_group(units, now_ms);
        return *u.result;
    }
    // The value of one store call that returns a result<T>, made in a group at now_ms.
    template <class T>
    T value(std::int64_t now_ms, std::function<result<T>(outbox_store&, std::int64_t)> call) {
        std::optional<T> out;
        auto st = write(now_ms, [&](outbox_store& s, std::int64_t now) -> status {
            auto r = call(s, now);
            if (!r) return r.err();
            out = std::move(r).value();
            return ok_v;
        });
        EXPECT_TRUE(st.ok()) << st.err().message;
        return out.value_or(T{});
    }

    // The settings of a test endpoint `id`.
    static endpoint_settings settings(const std::string& id, const std::string& patterns = "[]", bool enabled = true,
                                      std::optional<std::string> tenant = std::nullopt,
                                      std::optional<std::string> ordering = std::nullopt) {
        endpoint_settings s;
        s.tenant = std::move(tenant);
        s.ordering = std::move(ordering);
        s.url = "https://example.com/" + id;
        s.description = "";
        s.patterns_json = patterns;
        s.signature_format = "hex";
        s.signature_header = "X-Webhook-Signature";
        s.headers_json = "{}";
        s.body_mode = "envelope";
        s.enabled = enabled;
        return s;
    }
    void create_endpoint(const std::string& id, const std::string& patterns = "[]", bool enabled = true,
                         std::optional<std::string> tenant = std::nullopt,
                         std::optional<std::string> ordering = std::nullopt) {
        auto s = settings(id, patterns, enabled, std::move(tenant), std::move(ordering));
        auto st = write(1, [&](outbox_store& st, std::int64_t now) {
            return st.create_endpoint(id, s, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", now);
        });
        ASSERT_TRUE(st.ok()) << st.err().message;
    }

    ingest_outcome ingest(const std::string& id, const std::string& type, std::int64_t now_ms,
                          std::optional<std::string> tenant = std::nullopt) {
        return value<ingest_outcome>(now_ms, [&](outbox_store& s, std::int64_t now) {
            auto e = build_envelope(id, type, "2026-12-02T12:00:00Z", R"({"n":1})");
            e.tenant = tenant;
            return s.insert_event(e, now, now);
        });
    }
    // insert_event's whole answer, errors included.
    result<ingest_outcome> try_ingest(const std::string& id, std::optional<std::string> tenant, std::int64_t now_ms) {
        std::optional<result<ingest_outcome>> out;
        write(now_ms, [&](outbox_store& s, std::int64_t now) -> status {
            auto e = build_envelope(id, "a.b", "2026-12-02T12:00:00Z", R"({"n":1})");
            e.tenant = tenant;
            out = s.insert_event(e, now, now);
            return out->ok() ? status(ok_v) : status(out->err());
        });
        return *out;
    }
    void create_tenant(const std::string& id) {
        tenant_settings t{"Tenant " + id, R"({"plan":"pro"})"};
        auto st = write(1, [&](outbox_store& s, std::int64_t now) { return s.create_tenant(id, t, now); });
        ASSERT_TRUE(st.ok()) << st.err().message;
    }

    std::vector<endpoint_claim> claim(const std::vector<claim_order>& orders, std::size_t room, std::int64_t now_ms,
                                      std::int64_t lease_ms = 1000, const std::string& owner = "a") {
        return value<std::vector<endpoint_claim>>(now_ms, [&](outbox_store& s, std::int64_t now) {
            return s.claim(orders, room, now, now + lease_ms, owner);
        });
    }
    std::vector<claimed_delivery> claim(const std::string& endpoint, std::size_t limit, std::int64_t now_ms,
                                        std::int64_t lease_ms = 1000, const std::string& owner = "a") {
        auto got = claim({{endpoint, limit}}, limit, now_ms, lease_ms, owner);
        EXPECT_EQ(got.size(), limit > 0 ? 1u : 0u);
        return got.empty() ? std::vector<claimed_delivery>{} : std::move(got[0].deliveries);
    }

    // The decided outcome of an attempt at `at` of `d`.
    static attempt_record outcome(const claimed_delivery& d, std::int64_t at, attempt_outcome o, bool delivered,
                                  bool dead, std::int64_t next_ms = 0) {
        attempt_record a;
        a.delivery_id = d.id;
        a.endpoint_id = d.endpoint_id;
        a.event_id = d.event_id;
        a.event_type = d.event_type;
        a.attempt = d.attempt;
        a.started_ms = at;
        a.duration_us = 1500;
        a.outcome = o;
        a.status_code = o == attempt_outcome::success ? 200 : (o == attempt_outcome::http_error ? 500 : 0);
        a.error = delivered ? "" : "failed";
        a.response_snippet = "snippet";
        a.delivered = delivered;
        a.dead = dead;
        a.next_attempt_ms = next_ms;
        return a;
    }
    status record(const attempt_record& a, std::int64_t now_ms) {
        return write(now_ms, [&](outbox_store& s, std::int64_t now) -> status {
            auto fx = s.record_attempt(a, health, now);
            if (!fx) return fx.err();
            effects = std::move(*fx);
            return ok_v;
        });
    }
    health_policy health;    // what record() applies
    attempt_effects effects;  // what the last record() did
    // The types of the events delivered to endpoint `ops` (operational ones, for a platform
    // endpoint subscribed to webhookd.*), sorted.
    std::vector<std::string> operational_types(const std::string& ops) {
        std::vector<std::string> out;
        delivery_filter f;
        f.endpoint_id = ops;
        auto page = store->list_deliveries(f, page_request{1000, std::nullopt});
        EXPECT_TRUE(page.ok());
        if (page) {
            for (const auto& d : *page) out.push_back(d.event_type);
        }
        std::sort(out.begin(), out.end());
        return out;
    }

    // The event ids of endpoint `id`'s deliveries (every state, dead letters too), newest
    // first, as GET /v1/deliveries?endpoint_id= lists them.
    std::vector<std::string> listed_events(const std::string& id) {
        delivery_filter f;
        f.endpoint_id = id;
        auto page = store->list_deliveries(f, page_request{1000, std::nullopt});
        EXPECT_TRUE(page.ok()) << page.err().message;
        std::vector<std::string> out;
        if (page) {
            for (const auto& d : *page) out.push_back(d.event_id);
        }
        return out;
    }
    std::optional<delivery_view> delivery(std::int64_t id) {
        auto d = store->get_delivery(id);
        EXPECT_TRUE(d.ok()) << d.err().message;
        return d ? *d : std::nullopt;
    }
    std::optional<endpoint_view> endpoint(const std::string& id, std::int64_t now_ms = 10) {
        auto e = store->get_endpoint(id, now_ms);
        EXPECT_TRUE(e.ok()) << e.err().message;
        return e ? *e : std::nullopt;
    }
    outbox_counts counts() {
        auto c = store->counts();
        EXPECT_TRUE(c.ok()) << c.err().message;
        return c ? *c : outbox_counts{};
    }
    endpoint_scan scan(const scan_mark& seen, std::int64_t now_ms, std::int64_t sweep_after = 0,
                       std::size_t sweep = 0) {
        return value<endpoint_scan>(now_ms, [&](outbox_store& s, std::int64_t now) {
            return s.scan_endpoints(seen, now, sweep_after, sweep);
        });
    }
    std::vector<endpoint_record> endpoints(std::int64_t now_ms) { return scan({}, now_ms).changed; }

    test::temp_dir dir;
    std::unique_ptr<outbox_store> store;
};

using backends = ::testing::Types<sqlite_backend, pg_backend>;
TYPED_TEST_SUITE(store_contract, backends);

// ---- write_group --------------------------------------------------------------------------

TYPED_TEST(store_contract, a_failing_unit_is_rolled_back_alone) {
    this->create_endpoint("ep_1");
    fn_unit good([](outbox_store& s, std::int64_t now) -> status {
        auto r = s.insert_event(build_envelope("kept", "a.b", "2026-12-02T12:00:00Z", "1"), now, now);
        return r ? status(ok_v) : status(r.err());
    });
    fn_unit bad([](outbox_store& s, std::int64_t now) -> status {
        auto r = s.insert_event(build_envelope("dropped", "a.b", "2026-12-02T12:00:00Z", "1"), now, now);
        if (!r) return r.err();
        return error{error_code::invalid_field, "refused after writing"};
    });
    write_unit* units[] = {&good, &bad};
    this->store->write_group(units, 100);
    ASSERT_TRUE(good.result && good.result->ok());
    ASSERT_TRUE(bad.result && !bad.result->ok());
    EXPECT_EQ(bad.result->err().code, error_code::invalid_field);
    EXPECT_TRUE(this->store->get_event("kept").value().has_value());
    EXPECT_FALSE(this->store->get_event("dropped").value().has_value());
    EXPECT_EQ(this->counts().pending, 1);
}

// A producer request as ingest makes it: its events named to the store before the group
// applies (stage), then inserted in order; a refused event fails the unit.
struct events_unit final : write_unit {
    explicit events_unit(std::vector<new_event> e) : events(std::move(e)) {}
    void stage(outbox_store& s, std::int64_t now) override { s.stage_events(events, now, now + 5); }
    status apply(outbox_store& s, std::int64_t now) override {
        outcomes.clear();
        for (const auto& e : events) {
            auto r = s.insert_event(e, now, now + 5);
            if (!r) return r.err();
            outcomes.push_back(std::move(r).value());
        }
        return ok_v;
    }
    void done(const status& st) override { result = st; }
    std::vector<new_event> events;
    std::vector<ingest_outcome> outcomes;
    std::optional<status> result;
};

new_event event_of(const std::string& id, std::optional<std::string> tenant = std::nullopt) {
    auto e = build_envelope(id, "a.b", "2026-12-02T12:00:00Z", R"({"n":1})");
    e.tenant = std::move(tenant);
    return e;
}

TYPED_TEST(store_contract, a_group_of_staged_events_stores_each_as_its_own_insert_would) {
    this->create_endpoint("ep_f", "[]", true, std::nullopt, "fifo");
    this->create_tenant("t_1");
    this->create_endpoint("ep_t", "[]", true, std::string("t_1"));
    this->ingest("old", "a.b", 50);
    events_unit a({event_of("f1"), event_of("f2")});
    events_unit b({event_of("f1"), event_of("f3"), event_of("old")});  // repeats: duplicates
    events_unit c({event_of("t1", "t_1"), event_of("f4")});
    write_unit* units[] = {&a, &b, &c};
    this->store->write_group(units, 100);
    for (auto* u : {&a, &b, &c}) ASSERT_TRUE(u->result && u->result->ok()) << u->result->err().message;

    ASSERT_EQ(a.outcomes.size(), 2u);
    EXPECT_FALSE(a.outcomes[0].duplicate);
    EXPECT_EQ(a.outcomes[0].endpoint_ids, std::vector<std::string>{"ep_f"});
    ASSERT_EQ(b.outcomes.size(), 3u);
    EXPECT_TRUE(b.outcomes[0].duplicate);
    EXPECT_EQ(b.outcomes[0].deliveries, 1);
    EXPECT_TRUE(b.outcomes[0].endpoint_ids.empty());
    EXPECT_FALSE(b.outcomes[1].duplicate);
    EXPECT_TRUE(b.outcomes[2].duplicate);
    ASSERT_EQ(c.outcomes.size(), 2u);
    EXPECT_EQ(c.outcomes[0].endpoint_ids, std::vector<std::string>{"ep_t"});
    EXPECT_EQ(c.outcomes[0].tenant, std::optional<std::string>("t_1"));
    EXPECT_EQ(this->counts().pending, 6);  // old, f1..f4 to ep_f; t1 to ep_t

    // The FIFO endpoint's queue is in the units' order, due when they said.
    std::vector<std::string> order;
    for (std::int64_t now = 105; order.size() < 5 && now < 200; now += 10) {
        auto got = this->claim({{"ep_f", 1, true}}, 1, now);
        ASSERT_EQ(got.size(), 1u);
        if (got[0].deliveries.empty()) break;
        auto d = got[0].deliveries[0];
        order.push_back(d.event_id);
        ASSERT_TRUE(this->record(this->outcome(d, now, attempt_outcome::success, true, false), now).ok());
    }
    EXPECT_EQ(order, (std::vector<std::string>{"old", "f1", "f2", "f3", "f4"}));
}

TYPED_TEST(store_contract, a_refused_event_in_a_staged_group_fails_its_unit_alone) {
    this->create_endpoint("ep_1");
    this->create_tenant("t_1");
    events_unit a({event_of("a1")});
    events_unit unknown({event_of("u1"), event_of("u2", "t_nobody")});
    events_unit conflict({event_of("a1", "t_1")});  // a1 is a platform event of unit a
    events_unit d({event_of("d1"), event_of("d2")});
    write_unit* units[] = {&a, &unknown, &conflict, &d};
    this->store->write_group(units, 100);
    ASSERT_TRUE(a.result && a.result->ok());
    ASSERT_TRUE(unknown.result && !unknown.result->ok());
    EXPECT_EQ(unknown.result->err().code, error_code::tenant_not_found);
    ASSERT_TRUE(conflict.result && !conflict.result->ok());
    EXPECT_EQ(conflict.result->err().code, error_code::id_conflict);
    ASSERT_TRUE(d.result && d.result->ok());
    ASSERT_EQ(d.outcomes.size(), 2u);
    EXPECT_FALSE(d.outcomes[1].duplicate);
    EXPECT_FALSE(this->store->get_event("u1").value().has_value());  // its unit's other event too
    for (const char* id : {"a1", "d1", "d2"}) EXPECT_TRUE(this->store->get_event(id).value().has_value()) << id;
    EXPECT_EQ(this->counts().pending, 3);
}

// ---- insert_event -------------------------------------------------------------------------

TYPED_TEST(store_contract, an_event_fans_out_to_enabled_matching_endpoints_and_a_duplicate_writes_nothing) {
    this->create_endpoint("ep_all", "[]");
    this->create_endpoint("ep_booking", R"(["booking.*"])");
    this->create_endpoint("ep_other", R"(["payment.failed"])");
    this->create_endpoint("ep_off", R"(["*"])", false);
    auto first = this->ingest("e1", "booking.created", 100);
    EXPECT_FALSE(first.duplicate);
    EXPECT_EQ(first.deliveries, 2);
    auto ids = first.endpoint_ids;
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(ids, (std::vector<std::string>{"ep_all", "ep_booking"}));

    auto again = this->ingest("e1", "other.type", 200);
    EXPECT_TRUE(again.duplicate);
    EXPECT_EQ(again.type, "booking.created");  // the stored event's
    EXPECT_EQ(again.deliveries, 2);
    EXPECT_TRUE(again.endpoint_ids.empty());
    EXPECT_EQ(this->counts().pending, 2);
    auto ev = this->store->get_event("e1").value();
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->deliveries.size(), 2u);
    EXPECT_EQ(ev->body.substr(ev->data_offset, ev->body.size() - ev->data_offset - 1), R"({"n":1})");
}

// ---- claim, leases, release ---------------------------------------------------------------

TYPED_TEST(store_contract, a_claim_leases_due_deliveries_oldest_first_and_the_lease_keeps_others_off) {
    this->create_endpoint("ep_1");
    this->ingest("e1", "a.b", 100);
    this->ingest("e2", "a.b", 200);
    this->ingest("e3", "a.b", 300);
    EXPECT_TRUE(this->claim("ep_1", 10, 50).empty());  // nothing is due yet
    auto got = this->claim("ep_1", 2, 400, 1000);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].event_id, "e1");
    EXPECT_EQ(got[1].event_id, "e2");
    EXPECT_EQ(got[0].attempt, 1);
    EXPECT_EQ(got[0].lease_until_ms, 1400);
    EXPECT_EQ(got[0].envelope.substr(got[0].data_offset, got[0].envelope.size() - got[0].data_offset - 1),
              R"({"n":1})");
    // Leased: another claim before the lease ends gets only the third.
    auto rest = this->claim("ep_1", 10, 500, 1000, "b");
    ASSERT_EQ(rest.size(), 1u);
    EXPECT_EQ(rest[0].event_id, "e3");
    // The lease ends: the first two are due again by themselves, for any owner.
    EXPECT_TRUE(this->claim("ep_1", 10, 1399, 1000, "b").empty());
    EXPECT_EQ(this->claim("ep_1", 10, 1400, 1000, "b").size(), 2u);
}

TYPED_TEST(store_contract, one_claim_serves_many_endpoints_in_order_within_its_room) {
    for (const auto* id : {"ep_1", "ep_2", "ep_3"}) this->create_endpoint(id, R"(["a.*"])");
    for (int i = 0; i < 3; ++i) this->ingest("e" + std::to_string(i), "a.b", 100 + i);
    // A room of 4: each endpoint its oldest first, then ep_1 the one left of its limit
    // of 2 (ep_2 would take more, but the room is gone).
    auto got = this->claim({{"ep_1", 2}, {"ep_2", 5}, {"ep_3", 5}}, 4, 200);
    ASSERT_EQ(got.size(), 3u);
    std::vector<std::size_t> sizes;
    for (const auto& c : got) {
        sizes.push_back(c.deliveries.size());
        ASSERT_FALSE(c.deliveries.empty()) << c.endpoint_id;
        EXPECT_EQ(c.deliveries[0].event_id, "e0");
        EXPECT_EQ(c.deliveries[0].endpoint_id, c.endpoint_id);
    }
    EXPECT_EQ(got[0].endpoint_id, "ep_1");
    EXPECT_EQ(got[2].endpoint_id, "ep_3");
    EXPECT_EQ(sizes, (std::vector<std::size_t>{2, 1, 1}));
    EXPECT_EQ(got[0].deliveries[1].event_id, "e1");
    EXPECT_EQ(got[0].next_due, 102);  // e2, not leased
    EXPECT_EQ(got[1].next_due, 101);  // e1 and e2
    EXPECT_EQ(got[0].deliveries[0].envelope, got[1].deliveries[0].envelope);  // one event, read once
    auto last = this->claim({{"ep_2", 5}}, 10, 200);
    ASSERT_EQ(last.size(), 1u);
    EXPECT_EQ(last[0].deliveries.size(), 2u);
    EXPECT_EQ(last[0].next_due, 1200);  // nothing left but its leases, which end then
    // A limit of 0 leases nothing and still reads the due time.
    auto none = this->claim({{"ep_3", 0}}, 10, 200);
    ASSERT_EQ(none.size(), 1u);
    EXPECT_TRUE(none[0].deliveries.empty());
    EXPECT_EQ(none[0].next_due, 101);
}

TYPED_TEST(store_contract, first_attempts_are_claimed_before_older_retries) {
    this->create_endpoint("ep_1");
    this->ingest("old", "a.b", 100);
    auto d = this->claim("ep_1", 1, 100);
    ASSERT_EQ(d.size(), 1u);
    ASSERT_TRUE(this->record(this->outcome(d[0], 100, attempt_outcome::http_error, false, false, 150), 110).ok());
    this->ingest("new", "a.b", 200);
    auto next = this->claim("ep_1", 1, 300);
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(next[0].event_id, "new");
    auto retry = this->claim("ep_1", 1, 300);
    ASSERT_EQ(retry.size(), 1u);
    EXPECT_EQ(retry[0].event_id, "old");
    EXPECT_EQ(retry[0].attempt, 2);
}

TYPED_TEST(store_contract, release_gives_back_only_the_owners_leases_and_release_leases_all) {
    this->create_endpoint("ep_1");
    this->ingest("e1", "a.b", 100);
    this->ingest("e2", "a.b", 100);
    auto mine = this->claim("ep_1", 1, 100, 10'000, "me");
    auto theirs = this->claim("ep_1", 1, 100, 10'000, "them");
    ASSERT_EQ(mine.size(), 1u);
    ASSERT_EQ(theirs.size(), 1u);
    std::vector<std::int64_t> both = {mine[0].id, theirs[0].id};
    auto released = this->template value<std::int64_t>(
        200, [&](outbox_store& s, std::int64_t now) { return s.release(both, "me", now); });
    EXPECT_EQ(released, 1);
    auto again = this->claim("ep_1", 10, 200);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].id, mine[0].id);
    // At the start of the only instance, every lease goes.
    auto all = this->template value<std::int64_t>(
        300, [](outbox_store& s, std::int64_t now) { return s.release_leases(now); });
    EXPECT_EQ(all, 2);
    EXPECT_EQ(this->claim("ep_1", 10, 300).size(), 2u);
}

TYPED_TEST(store_contract, a_fifo_claim_takes_the_head_alone_and_a_failing_head_holds_the_queue) {
    this->create_endpoint("ep_f", "[]", true, std::nullopt, "fifo");
    this->ingest("e1", "a.b", 100);
    this->ingest("e2", "a.b", 90);  // due earlier, but stored later: still second
    this->ingest("e3", "a.b", 300);
    auto fifo = [&](std::int64_t now) {
        auto got = this->claim({{"ep_f", 5, true}}, 10, now);
        EXPECT_EQ(got.size(), 1u);
        return got.empty() ? endpoint_claim{} : got[0];
    };
    auto c = fifo(400);
    ASSERT_EQ(c.deliveries.size(), 1u);
    EXPECT_EQ(c.deliveries[0].event_id, "e1");
    EXPECT_EQ(c.next_due, 1400);  // the head's lease: nothing else may go before it ends
    c = fifo(500);
    EXPECT_TRUE(c.deliveries.empty());
    EXPECT_EQ(c.next_due, 1400);

    // The head fails and waits for its retry: e2 and e3 are due, and wait too.
    auto e1 = this->claim({{"ep_f", 1, true}}, 1, 1400)[0].deliveries.at(0);
    ASSERT_TRUE(this->record(this->outcome(e1, 1400, attempt_outcome::http_error, false, false, 3000), 1400).ok());
    c = fifo(2000);
    EXPECT_TRUE(c.deliveries.empty());
    EXPECT_EQ(c.next_due, 3000);
    auto scanned = this->scan({}, 2000);
    ASSERT_EQ(scanned.changed.size(), 1u);
    EXPECT_EQ(scanned.changed[0].next_due_ms, 3000);  // the head's, not e2's 90
    EXPECT_TRUE(scanned.changed[0].fifo);

    // Delivered: the next in ingest order. Dead: the one after it.
    c = fifo(3000);
    ASSERT_EQ(c.deliveries.size(), 1u);
    EXPECT_EQ(c.deliveries[0].event_id, "e1");
    EXPECT_EQ(c.deliveries[0].attempt, 2);
    ASSERT_TRUE(this->record(this->outcome(c.deliveries[0], 3000, attempt_outcome::success, true, false), 3000).ok());
    c = fifo(3100);
    ASSERT_EQ(c.deliveries.size(), 1u);
    EXPECT_EQ(c.deliveries[0].event_id, "e2");
    ASSERT_TRUE(
        this->record(this->outcome(c.deliveries[0], 3100, attempt_outcome::http_error, false, true), 3100).ok());
    c = fifo(3200);
    ASSERT_EQ(c.deliveries.size(), 1u);
    EXPECT_EQ(c.deliveries[0].event_id, "e3");
    ASSERT_TRUE(this->record(this->outcome(c.deliveries[0], 3200, attempt_outcome::success, true, false), 3200).ok());
    c = fifo(3300);
    EXPECT_TRUE(c.deliveries.empty());
    EXPECT_FALSE(c.next_due.has_value());

    // An unordered endpoint in the same claim is served as before.
    this->create_endpoint("ep_u", "[]");
    this->ingest("e4", "a.b", 3400);
    this->ingest("e5", "a.b", 3400);
    auto both = this->claim({{"ep_f", 1, true}, {"ep_u", 5}}, 10, 3500);
    ASSERT_EQ(both.size(), 2u);
    EXPECT_EQ(both[0].deliveries.size(), 1u);
    EXPECT_EQ(both[1].deliveries.size(), 2u);
}

TYPED_TEST(store_contract, an_endpoint_made_fifo_queues_what_waits_and_a_replayed_delivery_goes_first) {
    this->create_endpoint("ep_f", "[]");  // unordered at first
    this->ingest("e1", "a.b", 300);
    this->ingest("e2", "a.b", 100);
    endpoint_settings fifo;
    fifo.ordering = "fifo";
    ASSERT_TRUE(
        this->write(150, [&](outbox_store& s, std::int64_t now) { return s.update_endpoint("ep_f", fifo, now); }).ok());
    // e2 is due and e1 is not, but e1 was stored first: the queue waits for it.
    auto c = this->claim({{"ep_f", 5, true}}, 10, 200);
    ASSERT_EQ(c.size(), 1u);
    EXPECT_TRUE(c[0].deliveries.empty());
    EXPECT_EQ(c[0].next_due, 300);
    c = this->claim({{"ep_f", 5, true}}, 10, 300);
    ASSERT_EQ(c[0].deliveries.size(), 1u);
    EXPECT_EQ(c[0].deliveries[0].event_id, "e1");
    // e1 dies; e2 is the head. e1 replayed goes back before e2, which has not gone yet.
    ASSERT_TRUE(this->record(this->outcome(c[0].deliveries[0], 300, attempt_outcome::http_error, false, true), 300).ok());
    auto dead_id = c[0].deliveries[0].id;
    ASSERT_TRUE(
        this->write(310, [&](outbox_store& s, std::int64_t now) { return s.requeue_dead_letter(dead_id, now); }).ok());
    c = this->claim({{"ep_f", 5, true}}, 10, 320);
    ASSERT_EQ(c[0].deliveries.size(), 1u);
    EXPECT_EQ(c[0].deliveries[0].event_id, "e1");
    ASSERT_TRUE(this->record(this->outcome(c[0].deliveries[0], 320, attempt_outcome::success, true, false), 320).ok());
    // Delivered, then sent again on request: it is the head once more, before e2.
    ASSERT_TRUE(this->write(330, [&](outbox_store& s, std::int64_t now) { return s.retry_delivery(dead_id, now); }).ok());
    c = this->claim({{"ep_f", 5, true}}, 10, 340);
    ASSERT_EQ(c[0].deliveries.size(), 1u);
    EXPECT_EQ(c[0].deliveries[0].event_id, "e1");
    ASSERT_TRUE(this->record(this->outcome(c[0].deliveries[0], 340, attempt_outcome::success, true, false), 340).ok());

    // Back to unordered: e2 is claimed as any delivery is.
    endpoint_settings unordered;
    unordered.ordering = "unordered";
    ASSERT_TRUE(this->write(350, [&](outbox_store& s, std::int64_t now) {
                        return s.update_endpoint("ep_f", unordered, now);
                    }).ok());
    c = this->claim({{"ep_f", 5}}, 10, 360);
    ASSERT_EQ(c[0].deliveries.size(), 1u);
    EXPECT_EQ(c[0].deliveries[0].event_id, "e2");
}

// ---- record_attempt -----------------------------------------------------------------------

TYPED_TEST(store_contract, outcomes_deliver_reschedule_and_kill_with_their_attempts_logged) {
    this->create_endpoint("ep_1");
    this->ingest("ok", "a.b", 100);
    this->ingest("retry", "a.b", 100);
    this->ingest("dies", "a.b", 100);
    auto d = this->claim("ep_1", 3, 100);
    ASSERT_EQ(d.size(), 3u);
    ASSERT_TRUE(this->record(this->outcome(d[0], 100, attempt_outcome::success, true, false), 101).ok());
    ASSERT_TRUE(this->record(this->outcome(d[1], 100, attempt_outcome::http_error, false, false, 5000), 101).ok());
    ASSERT_TRUE(this->record(this->outcome(d[2], 100, attempt_outcome::timeout, false, true), 101).ok());

    auto delivered = this->delivery(d[0].id);
    ASSERT_TRUE(delivered);
    EXPECT_EQ(delivered->status, "delivered");
    EXPECT_EQ(delivered->delivered_ms, 101);
    auto retried = this->delivery(d[1].id);
    ASSERT_TRUE(retried);
    EXPECT_EQ(retried->status, "pending");
    EXPECT_EQ(retried->next_attempt_ms, 5000);
    EXPECT_EQ(retried->last_status, 500);
    auto dead = this->store->get_dead_letter(d[2].id).value();
    ASSERT_TRUE(dead);
    EXPECT_EQ(dead->status, "dead");
    EXPECT_EQ(dead->event_id, "dies");
    EXPECT_EQ(dead->attempts, 1);
    EXPECT_EQ(dead->last_response, "snippet");
    ASSERT_EQ(dead->attempt_log.size(), 1u);
    EXPECT_EQ(dead->attempt_log[0].outcome, "timeout");
    auto c = this->counts();
    EXPECT_EQ(c.pending, 1);
    EXPECT_EQ(c.dead_letters, 1);
    // Two failures in a row since the last success, as the endpoint's health.
    auto ep = this->endpoint("ep_1");
    ASSERT_TRUE(ep);
    EXPECT_EQ(ep->consecutive_failures, 2);
    EXPECT_EQ(ep->failing_since_ms, 100);
    // Not due before its time; due then.
    EXPECT_TRUE(this->claim("ep_1", 10, 4999).empty());
    EXPECT_EQ(this->claim("ep_1", 10, 5000).size(), 1u);
}

// The gauges are kept in the data as groups commit, and folded now and then (here on
// demand): across folds, with a unit rolled back inside a group, they equal the rows
// counted one by one (as after every test, in TearDown).
TYPED_TEST(store_contract, the_counts_kept_in_the_data_stay_exact_across_folds_and_rollbacks) {
    this->create_endpoint("ep_1", R"(["a.*"])");
    this->create_endpoint("ep_2", R"(["a.*"])");
    this->create_endpoint("ep_quiet", R"(["quiet.*"])");  // its count changes once, before every fold
    std::int64_t now = 100;
    this->ingest("q1", "quiet.x", ++now);
    for (int round = 0; round < 4; ++round) {
        for (int i = 0; i < 200; ++i) this->ingest("e" + std::to_string(round) + "_" + std::to_string(i), "a.b", ++now);
        if (round % 2 == 1) {
            ASSERT_TRUE(this->write(++now, [](outbox_store& s, std::int64_t) { return s.fold_counts(); }).ok());
        }
        for (const auto& d : this->claim("ep_1", 150, ++now)) {
            bool dies = d.id % 3 == 0;
            ASSERT_TRUE(this->record(this->outcome(d, now, attempt_outcome::http_error, false, dies, now + 1), now).ok());
        }
        auto kept = this->counts();
        auto counted = this->store->recount();
        ASSERT_TRUE(counted.ok());
        EXPECT_EQ(kept, *counted) << "round " << round;
    }
    // Two units in one group, the second refused: the first's count stays, the second's
    // (rolled back with its savepoint) goes.
    auto before = this->counts();
    test::fn_unit keeps([&](outbox_store& s, std::int64_t at) -> status {
        auto r = s.insert_event(build_envelope("kept_in_group", "a.b", "2026-12-02T12:00:00Z", "{}"), at, at);
        return r ? status(ok_v) : status(r.err());
    });
    test::fn_unit fails([&](outbox_store& s, std::int64_t at) -> status {
        auto r = s.insert_event(build_envelope("dropped_in_group", "a.b", "2026-12-02T12:00:00Z", "{}"), at, at);
        if (!r) return r.err();
        return error{error_code::invalid_field, "refused after its insert"};
    });
    write_unit* units[] = {&keeps, &fails};
    this->store->write_group(units, ++now);
    ASSERT_TRUE(keeps.result->ok());
    ASSERT_FALSE(fails.result->ok());
    auto after = this->counts();
    EXPECT_EQ(after.pending, before.pending + 2);  // one event to two endpoints
    EXPECT_EQ(after.dead_letters, before.dead_letters);
    EXPECT_EQ(after, this->store->recount().value());
    EXPECT_EQ(after.dead_letters, 200);  // every third of four claims of 150
    ASSERT_EQ(after.endpoints.size(), 3u);
    EXPECT_EQ(after.endpoints[2].endpoint_id, "ep_quiet");
    EXPECT_EQ(after.endpoints[2].pending, 1);
}

TYPED_TEST(store_contract, outcomes_recorded_together_do_what_they_do_one_after_the_other) {
    // What a dispatcher hands over at once: successes (which PostgreSQL writes in one
    // statement), a failure between them, the same delivery twice, a delivery recorded
    // before. A failing endpoint recovers once, not once per success of the batch.
    this->create_endpoint("ops", R"(["webhookd.*"])");
    this->create_endpoint("ep_1", R"(["a.*"])");
    this->create_endpoint("ep_2", R"(["a.*"])");
    this->health = health_policy{.disable_after_ms = 0, .failing_after = 2};
    for (auto id : {"e1", "e2", "e3", "e4"}) this->ingest(id, "a.b", 100);
    auto d1 = this->claim("ep_1", 4, 100);
    auto d2 = this->claim("ep_2", 4, 100);
    ASSERT_EQ(d1.size(), 4u);
    ASSERT_EQ(d2.size(), 4u);
    for (int i = 0; i < 2; ++i) {
        ASSERT_TRUE(this->record(this->outcome(d1[0], 100 + i, attempt_outcome::http_error, false, false, 9000), 110)
                        .ok());
    }
    ASSERT_EQ(this->operational_types("ops"), std::vector<std::string>{"webhookd.endpoint.failing"});

    auto ok = [&](const claimed_delivery& d) { return this->outcome(d, 120, attempt_outcome::success, true, false); };
    std::vector<attempt_record> batch{ok(d1[1]), ok(d2[0]), ok(d1[2]), ok(d2[1]),
                                      this->outcome(d2[2], 120, attempt_outcome::http_error, false, false, 9000),
                                      ok(d1[3]), ok(d1[3]), ok(d2[0])};
    std::vector<const attempt_record*> records;
    for (const auto& a : batch) records.push_back(&a);
    auto effects = this->template value<std::vector<attempt_effects>>(
        130, [&](outbox_store& s, std::int64_t now) { return s.record_attempts(records, this->health, now); });
    ASSERT_EQ(effects.size(), batch.size());
    EXPECT_EQ(effects[0].notified, std::vector<std::string>{"ops"});  // the recovery's delivery
    for (std::size_t i = 1; i < effects.size(); ++i) EXPECT_TRUE(effects[i].notified.empty()) << i;
    EXPECT_EQ(this->operational_types("ops"),
              (std::vector<std::string>{"webhookd.endpoint.failing", "webhookd.endpoint.recovered"}));

    EXPECT_EQ(this->endpoint("ep_1")->consecutive_failures, 0);
    EXPECT_EQ(this->endpoint("ep_2")->consecutive_failures, 1);
    // One attempt logged per delivery recorded: none for the second of d1[3] nor d2[0].
    auto logged = [&](const std::string& ep) {
        auto page = this->store->list_attempts(ep, page_request{100, std::nullopt});
        EXPECT_TRUE(page.ok());
        std::vector<std::int64_t> ids;
        for (const auto& a : *page) ids.push_back(a.delivery_id.value_or(0));
        std::sort(ids.begin(), ids.end());
        return ids;
    };
    EXPECT_EQ(logged("ep_1"), (std::vector<std::int64_t>{d1[0].id, d1[0].id, d1[1].id, d1[2].id, d1[3].id}));
    EXPECT_EQ(logged("ep_2"), (std::vector<std::int64_t>{d2[0].id, d2[1].id, d2[2].id}));
    for (const auto& d : {d1[1], d1[2], d1[3], d2[0], d2[1]}) {
        auto v = this->delivery(d.id);
        ASSERT_TRUE(v);
        EXPECT_EQ(v->status, "delivered") << d.id;
        EXPECT_EQ(v->last_attempt_ms, 120) << d.id;
        EXPECT_EQ(v->last_status, 200) << d.id;
    }
    auto failed = this->delivery(d2[2].id);
    EXPECT_EQ(failed->status, "pending");
    EXPECT_EQ(failed->next_attempt_ms, 9000);
    EXPECT_EQ(this->counts().pending, 5);  // d1[0], d2[2], d2[3], and ops' failing and recovered
}

TYPED_TEST(store_contract, a_failure_streak_is_reported_once_recovers_once_and_a_410_dead_letters_the_endpoint) {
    this->create_endpoint("ops", R"(["webhookd.*"])");
    this->create_endpoint("star", R"(["*"])");
    this->create_endpoint("ep_1", R"(["a.*"])");
    this->health = health_policy{.disable_after_ms = 0, .failing_after = 2};
    for (auto id : {"e1", "e2", "e3", "e4"}) this->ingest(id, "a.b", 100);
    auto d = this->claim("ep_1", 4, 100);
    ASSERT_EQ(d.size(), 4u);
    // Two failures: failing, once; a third adds nothing; a success: recovered, once.
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(this->record(this->outcome(d[0], 100 + i, attempt_outcome::http_error, false, false, 9000), 110)
                        .ok());
    }
    EXPECT_EQ(this->operational_types("ops"), std::vector<std::string>{"webhookd.endpoint.failing"});
    EXPECT_EQ(this->effects.notified, std::vector<std::string>{});
    ASSERT_TRUE(this->record(this->outcome(d[1], 120, attempt_outcome::success, true, false), 120).ok());
    EXPECT_EQ(this->effects.notified, std::vector<std::string>{"ops"});
    ASSERT_TRUE(this->record(this->outcome(d[2], 121, attempt_outcome::success, true, false), 121).ok());
    EXPECT_EQ(this->operational_types("ops"),
              (std::vector<std::string>{"webhookd.endpoint.failing", "webhookd.endpoint.recovered"}));
    auto ep = this->endpoint("ep_1");
    EXPECT_EQ(ep->consecutive_failures, 0);
    EXPECT_FALSE(ep->failing_since_ms);

    // 410: disabled at once, and d[0] and d[3], still pending, are dead letters with it.
    auto gone = this->outcome(d[3], 130, attempt_outcome::http_error, false, false, 9000);
    gone.status_code = 410;
    ASSERT_TRUE(this->record(gone, 130).ok());
    EXPECT_EQ(this->effects.disabled, std::optional<std::string>("ep_1"));
    EXPECT_EQ(this->effects.disabled_reason, "gone");
    EXPECT_EQ(this->effects.also_dead, 2);
    ep = this->endpoint("ep_1");
    EXPECT_FALSE(ep->enabled);
    EXPECT_EQ(ep->disabled_reason, std::optional<std::string>("gone"));
    EXPECT_EQ(ep->disabled_ms, 130);
    for (auto id : {d[0].id, d[3].id}) {
        auto dead = this->store->get_dead_letter(id).value();
        ASSERT_TRUE(dead);
        EXPECT_EQ(dead->last_error.rfind("endpoint_disabled", 0), 0u) << dead->last_error;
    }
    EXPECT_EQ(this->operational_types("ops"),
              (std::vector<std::string>{"webhookd.delivery.dead", "webhookd.delivery.dead",
                                        "webhookd.endpoint.disabled", "webhookd.endpoint.failing",
                                        "webhookd.endpoint.recovered"}));
    EXPECT_EQ(this->operational_types("star"), std::vector<std::string>(4, "a.b"))
        << "\"*\" does not match operational events";
    // Its deliveries are gone from the schedule, and new events pass it by.
    EXPECT_TRUE(this->claim("ep_1", 10, 20000).empty());
    EXPECT_EQ(this->ingest("e5", "a.b", 200).deliveries, 1);  // star's only

    // An operational event's own death is not reported: no loop.
    auto ops = this->claim("ops", 10, 300);
    ASSERT_EQ(ops.size(), 5u);
    ASSERT_TRUE(this->record(this->outcome(ops[0], 300, attempt_outcome::timeout, false, true), 300).ok());
    EXPECT_TRUE(this->effects.notified.empty());
    EXPECT_EQ(this->operational_types("ops").size(), 5u);
}

TYPED_TEST(store_contract, failing_for_disable_after_disables_and_enabling_again_clears_the_health) {
    this->create_endpoint("ep_1");
    this->health = health_policy{.disable_after_ms = 1000, .failing_after = 0};
    this->ingest("e1", "a.b", 100);
    auto d = this->claim("ep_1", 1, 100);
    ASSERT_EQ(d.size(), 1u);
    ASSERT_TRUE(this->record(this->outcome(d[0], 100, attempt_outcome::http_error, false, false, 1099), 100).ok());
    d = this->claim("ep_1", 1, 1099);
    ASSERT_TRUE(this->record(this->outcome(d[0], 1099, attempt_outcome::http_error, false, false, 1100), 1099).ok());
    EXPECT_FALSE(this->effects.disabled) << "999 ms into the streak: not yet";
    d = this->claim("ep_1", 1, 1100);
    ASSERT_TRUE(this->record(this->outcome(d[0], 1100, attempt_outcome::http_error, false, false, 1200), 1100).ok());
    EXPECT_EQ(this->effects.disabled_reason, "failing");
    EXPECT_EQ(this->counts().dead_letters, 1);
    auto ep = this->endpoint("ep_1");
    EXPECT_EQ(ep->disabled_reason, std::optional<std::string>("failing"));
    EXPECT_EQ(ep->consecutive_failures, 3);

    endpoint_settings enable;
    enable.enabled = true;
    ASSERT_TRUE(this->write(1200, [&](outbox_store& s, std::int64_t now) {
                        return s.update_endpoint("ep_1", enable, now);
                    }).ok());
    ep = this->endpoint("ep_1");
    EXPECT_TRUE(ep->enabled);
    EXPECT_FALSE(ep->disabled_reason);
    EXPECT_FALSE(ep->disabled_ms);
    EXPECT_EQ(ep->consecutive_failures, 0);
    EXPECT_FALSE(ep->failing_since_ms);
    endpoint_settings disable;
    disable.enabled = false;
    ASSERT_TRUE(this->write(1300, [&](outbox_store& s, std::int64_t now) {
                        return s.update_endpoint("ep_1", disable, now);
                    }).ok());
    ep = this->endpoint("ep_1");
    EXPECT_EQ(ep->disabled_reason, std::optional<std::string>("manual"));
    EXPECT_EQ(ep->disabled_ms, 1300);
}

TYPED_TEST(store_contract, a_test_send_is_logged_against_the_endpoint_without_a_delivery) {
    this->create_endpoint("ep_1");
    attempt_record a;
    a.endpoint_id = "ep_1";
    a.attempt = 1;
    a.started_ms = 100;
    a.outcome = attempt_outcome::http_error;
    a.status_code = 503;
    ASSERT_TRUE(this->record(a, 100).ok());
    auto log = this->store->list_attempts("ep_1", page_request{}).value();
    ASSERT_EQ(log.size(), 1u);
    EXPECT_FALSE(log[0].delivery_id);
    EXPECT_EQ(log[0].status_code, 503);
    EXPECT_EQ(this->counts().pending, 0);
    EXPECT_EQ(this->endpoint("ep_1")->consecutive_failures, 0);  // test sends are no health signal
}

TYPED_TEST(store_contract, delivery_ids_are_never_reused_across_deliveries_and_dead_letters) {
    this->create_endpoint("ep_1");
    std::vector<std::int64_t> seen;
    for (int i = 0; i < 3; ++i) {
        this->ingest("e" + std::to_string(i), "a.b", 100 + i);
        auto d = this->claim("ep_1", 1, 200 + i);
        ASSERT_EQ(d.size(), 1u);
        EXPECT_EQ(std::count(seen.begin(), seen.end(), d[0].id), 0) << "id " << d[0].id << " again";
        seen.push_back(d[0].id);
        // The newest delivery dies each time: the next one must still get a new id.
        ASSERT_TRUE(
            this->record(this->outcome(d[0], 200 + i, attempt_outcome::connect_error, false, true), 300 + i).ok());
    }
    EXPECT_EQ(this->counts().dead_letters, 3);
    for (auto id : seen) {
        auto dl = this->store->get_dead_letter(id).value();
        ASSERT_TRUE(dl) << id;
        EXPECT_EQ(dl->attempt_log.size(), 1u) << id;
    }
}

TYPED_TEST(store_contract, a_parked_delivery_is_never_due_again_and_says_why) {
    this->create_endpoint("ep_1");
    this->ingest("e1", "a.b", 100);
    auto d = this->claim("ep_1", 1, 100, 50);
    ASSERT_EQ(d.size(), 1u);
    ASSERT_TRUE(
        this->write(120, [&](outbox_store& s, std::int64_t now) { return s.park(d[0].id, "cannot record", now); })
            .ok());
    EXPECT_TRUE(this->claim("ep_1", 10, 1'000'000).empty());
    EXPECT_EQ(this->template value<std::int64_t>(
                  2'000'000, [](outbox_store& s, std::int64_t now) { return s.release_leases(now); }),
              0);
    EXPECT_TRUE(this->claim("ep_1", 10, 2'000'000).empty());
    auto v = this->delivery(d[0].id);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->status, "pending");
    EXPECT_FALSE(v->next_attempt_ms);
    EXPECT_EQ(v->last_error, "cannot record");
}

// ---- endpoints ----------------------------------------------------------------------------

TYPED_TEST(store_contract, endpoints_are_created_patched_listed_and_loaded_with_their_due_time) {
    this->create_endpoint("ep_1", R"(["a.*"])");
    this->create_endpoint("ep_2");
    endpoint_settings patch;
    patch.description = "renamed";
    ASSERT_TRUE(
        this->write(5, [&](outbox_store& s, std::int64_t now) { return s.update_endpoint("ep_1", patch, now); }).ok());
    auto ep = this->endpoint("ep_1");
    ASSERT_TRUE(ep);
    EXPECT_EQ(ep->description, "renamed");
    EXPECT_EQ(ep->patterns_json, R"(["a.*"])");  // untouched by the patch
    EXPECT_EQ(ep->updated_ms, 5);
    ASSERT_EQ(ep->secrets.size(), 1u);
    auto list = this->store->list_endpoints(endpoint_filter{}, page_request{}, 10).value();
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0].id, "ep_2");  // newest first
    EXPECT_FALSE(this->endpoint("ep_nope"));

    this->ingest("e1", "a.b", 700);
    auto loaded = this->endpoints(800);
    ASSERT_EQ(loaded.size(), 2u);
    for (const auto& r : loaded) {
        EXPECT_EQ(r.secrets.size(), 1u) << r.id;
        if (r.id == "ep_1") {
            EXPECT_EQ(r.next_due_ms, 700);
        }
    }
    auto claimed = this->claim({{"ep_1", 0}}, 10, 800);  // leases nothing, reads the due time
    ASSERT_EQ(claimed.size(), 1u);
    EXPECT_TRUE(claimed[0].deliveries.empty());
    EXPECT_EQ(claimed[0].next_due, 700);
}

TYPED_TEST(store_contract, a_scan_reads_the_endpoints_changed_since_the_last_and_sweeps_due_times) {
    for (const auto* id : {"ep_1", "ep_2", "ep_3"}) this->create_endpoint(id, R"(["a.*"])");
    auto ids = [](const endpoint_scan& s) {
        std::vector<std::string> out;
        for (const auto& r : s.changed) out.push_back(r.id);
        return out;
    };
    auto first = this->scan({}, 10);
    EXPECT_TRUE(first.complete);
    EXPECT_EQ(ids(first), (std::vector<std::string>{"ep_1", "ep_2", "ep_3"}));
    auto quiet = this->scan(first.mark, 20);
    EXPECT_FALSE(quiet.complete);
    EXPECT_TRUE(quiet.changed.empty());

    // Deliveries and their outcomes (the endpoint's health counters) are not a change to
    // read again; the sweep finds their due times.
    this->ingest("e1", "a.b", 30);
    auto d = this->claim("ep_1", 1, 30);
    ASSERT_EQ(d.size(), 1u);
    ASSERT_TRUE(this->record(this->outcome(d[0], 30, attempt_outcome::http_error, false, true), 30).ok());
    auto after_work = this->scan(quiet.mark, 40, 0, 2);
    EXPECT_TRUE(after_work.changed.empty());
    using due_list = std::vector<std::pair<std::string, std::int64_t>>;
    EXPECT_EQ(after_work.due, (due_list{{"ep_2", 30}}));  // ep_1's died; ep_3 is past this sweep
    EXPECT_NE(after_work.sweep_next, 0);
    auto rest = this->scan(after_work.mark, 40, after_work.sweep_next, 2);
    EXPECT_EQ(rest.due, (due_list{{"ep_3", 30}}));
    EXPECT_EQ(rest.sweep_next, 0);  // the end: start over

    // A pause, a rotation, a dead letter put back: each endpoint once, with what changed.
    ASSERT_TRUE(this->template value<std::int64_t>(
                        50, [](outbox_store& s, std::int64_t now) { return s.set_paused("ep_2", true, now); }) == 0);
    auto paused = this->scan(rest.mark, 60);
    ASSERT_EQ(ids(paused), (std::vector<std::string>{"ep_2"}));
    EXPECT_EQ(paused.changed[0].paused_at_ms, 50);
    ASSERT_TRUE(this->write(70, [](outbox_store& s, std::int64_t now) {
                        return s.rotate_secret("ep_3", "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", now + 1000, now, 10);
                    }).ok());
    ASSERT_TRUE(this->write(70, [&](outbox_store& s, std::int64_t now) { return s.requeue_dead_letter(d[0].id, now); })
                    .ok());
    auto changed = this->scan(paused.mark, 80);
    ASSERT_EQ(ids(changed), (std::vector<std::string>{"ep_1", "ep_3"}));
    EXPECT_EQ(changed.changed[0].next_due_ms, 70);
    EXPECT_EQ(changed.changed[1].secrets.size(), 2u);
    EXPECT_TRUE(this->scan(changed.mark, 90).changed.empty());

    // A deletion: every endpoint that is left, so the caller drops the others.
    ASSERT_TRUE(this->write(100, [](outbox_store& s, std::int64_t) -> status {
                        auto r = s.delete_endpoint("ep_2");
                        return r ? status(ok_v) : status(r.err());
                    }).ok());
    auto after_delete = this->scan(changed.mark, 110);
    EXPECT_TRUE(after_delete.complete);
    EXPECT_EQ(ids(after_delete), (std::vector<std::string>{"ep_1", "ep_3"}));
    EXPECT_FALSE(this->scan(after_delete.mark, 120).complete);
}

TYPED_TEST(store_contract, admin_writes_to_a_missing_endpoint_are_not_found) {
    endpoint_settings patch;
    patch.description = "x";
    auto code_of = [](const status& st) { return st.ok() ? std::optional<error_code>() : st.err().code; };
    EXPECT_EQ(code_of(this->write(
                  1, [&](outbox_store& s, std::int64_t now) { return s.update_endpoint("ep_no", patch, now); })),
              error_code::not_found);
    EXPECT_EQ(code_of(this->write(1,
                                  [](outbox_store& s, std::int64_t) -> status {
                                      auto r = s.delete_endpoint("ep_no");
                                      return r ? status(ok_v) : status(r.err());
                                  })),
              error_code::not_found);
    EXPECT_EQ(code_of(this->write(1,
                                  [](outbox_store& s, std::int64_t now) -> status {
                                      auto r = s.set_paused("ep_no", true, now);
                                      return r ? status(ok_v) : status(r.err());
                                  })),
              error_code::not_found);
    EXPECT_EQ(code_of(this->write(1,
                                  [](outbox_store& s, std::int64_t now) {
                                      return s.rotate_secret("ep_no", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", now,
                                                             now, 10);
                                  })),
              error_code::not_found);
    EXPECT_EQ(
        code_of(this->write(1, [](outbox_store& s, std::int64_t now) { return s.requeue_dead_letter(12345, now); })),
        error_code::not_found);
    EXPECT_EQ(code_of(this->write(1, [](outbox_store& s, std::int64_t) { return s.delete_dead_letter(12345); })),
              error_code::not_found);
}

TYPED_TEST(store_contract, a_paused_endpoint_keeps_the_wait_its_deliveries_had_left) {
    this->create_endpoint("ep_1");
    this->ingest("e1", "a.b", 100);
    auto d = this->claim("ep_1", 1, 100);
    ASSERT_EQ(d.size(), 1u);
    ASSERT_TRUE(this->record(this->outcome(d[0], 100, attempt_outcome::http_error, false, false, 1100), 100).ok());
    auto pause = [&](bool paused, std::int64_t at) {
        return this->template value<std::int64_t>(
            at, [paused](outbox_store& s, std::int64_t now) { return s.set_paused("ep_1", paused, now); });
    };
    pause(true, 600);  // 500 ms of the 1000 left
    EXPECT_EQ(this->endpoint("ep_1")->paused_ms, 600);
    // Made during the pause: one due at once, one with 300 ms to wait.
    this->ingest("e2", "a.b", 5'000);
    this->template value<ingest_outcome>(5'000, [](outbox_store& s, std::int64_t now) {
        return s.insert_event(build_envelope("e3", "a.b", "2026-12-02T12:00:00Z", "1"), now, now + 300);
    });
    auto due_of = [&](const std::string& event) -> std::optional<std::int64_t> {
        delivery_filter f;
        f.event_id = event;
        auto page = this->store->list_deliveries(f, page_request{10, std::nullopt});
        if (!page || page->size() != 1) return std::nullopt;
        return (*page)[0].next_attempt_ms;
    };
    // Only deliveries with a wait left move; one due at once stays as it is, due.
    EXPECT_EQ(pause(false, 10'600), 2);
    EXPECT_EQ(this->delivery(d[0].id)->next_attempt_ms, 11'100);
    EXPECT_EQ(due_of("e3"), 10'900);
    EXPECT_EQ(due_of("e2"), 5'000);
    EXPECT_FALSE(this->endpoint("ep_1")->paused_ms);
}

TYPED_TEST(store_contract, a_rotation_keeps_the_old_secret_for_its_grace_period_and_at_most_max_previous) {
    this->create_endpoint("ep_1");
    const std::string next = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    ASSERT_TRUE(this->write(100, [&](outbox_store& s,
                                     std::int64_t now) { return s.rotate_secret("ep_1", next, now + 1000, now, 10); })
                    .ok());
    auto during = this->endpoints(500);
    ASSERT_EQ(during.size(), 1u);
    ASSERT_EQ(during[0].secrets.size(), 2u);
    EXPECT_EQ(during[0].secrets[0], next);  // newest first
    auto after = this->endpoints(1100);
    ASSERT_EQ(after[0].secrets.size(), 1u);
    EXPECT_EQ(after[0].secrets[0], next);
    // With no previous secret allowed, a rotation drops every older one at once.
    ASSERT_TRUE(this->write(2000,
                            [&](outbox_store& s, std::int64_t now) {
                                return s.rotate_secret("ep_1", "whsec_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", now + 1000,
                                                       now, 0);
                            })
                    .ok());
    EXPECT_EQ(this->endpoints(2001)[0].secrets.size(), 1u);
}

TYPED_TEST(store_contract, deleting_an_endpoint_cancels_its_pending_deliveries_and_keeps_its_history) {
    this->create_endpoint("ep_1");
    this->ingest("e1", "a.b", 100);
    this->ingest("e2", "a.b", 100);
    auto d = this->claim("ep_1", 1, 100);
    ASSERT_EQ(d.size(), 1u);
    ASSERT_TRUE(this->record(this->outcome(d[0], 100, attempt_outcome::success, true, false), 100).ok());
    auto cancelled = this->template value<std::int64_t>(
        200, [](outbox_store& s, std::int64_t) { return s.delete_endpoint("ep_1"); });
    EXPECT_EQ(cancelled, 1);
    EXPECT_FALSE(this->endpoint("ep_1"));
    EXPECT_EQ(this->counts().pending, 0);
    EXPECT_TRUE(this->delivery(d[0].id));  // the delivered one stays, as history
    EXPECT_TRUE(this->endpoints(300).empty());
}

// SQLite keys an endpoint's deliveries by its seq. An endpoint created after the deletion of
// the newest one (which SQLite's MAX(seq) + 1 would hand the same seq) gets none of the
// deleted endpoint's deliveries, pending at its deletion or delivered: its own are claimed,
// listed and counted as its own, and the deleted one's history is still listed by its id.
// An endpoint created again under that id lists its history and its new deliveries as one.
TYPED_TEST(store_contract, an_endpoint_that_takes_a_deleted_endpoints_place_gets_none_of_its_deliveries) {
    this->create_endpoint("ep_1", R"(["a.*"])");
    this->create_endpoint("ep_old", R"(["a.*"])");
    this->ingest("e1", "a.b", 100);
    this->ingest("e2", "a.b", 100);
    auto sent = this->claim("ep_old", 1, 100);
    ASSERT_EQ(sent.size(), 1u);
    ASSERT_TRUE(this->record(this->outcome(sent[0], 100, attempt_outcome::success, true, false), 100).ok());
    ASSERT_EQ(this->template value<std::int64_t>(
                  200, [](outbox_store& s, std::int64_t) { return s.delete_endpoint("ep_old"); }),
              1);
    this->create_endpoint("ep_new", R"(["a.*"])");
    EXPECT_TRUE(this->claim("ep_new", 10, 300).empty());
    this->ingest("e3", "a.b", 300);
    auto mine = this->claim("ep_new", 10, 300);
    ASSERT_EQ(mine.size(), 1u);
    EXPECT_EQ(mine[0].event_id, "e3");
    EXPECT_EQ(this->claim("ep_1", 10, 300).size(), 3u);
    auto ep = this->endpoint("ep_new");
    ASSERT_TRUE(ep);
    EXPECT_EQ(ep->deliveries_pending, 1);
    auto c = this->counts();
    EXPECT_EQ(c, this->store->recount().value());
    EXPECT_EQ(c.pending, 4);
    EXPECT_EQ(this->listed_events("ep_new"), std::vector<std::string>{"e3"});
    EXPECT_EQ(this->listed_events("ep_old"), std::vector<std::string>{sent[0].event_id});

    this->create_endpoint("ep_old", R"(["a.*"])");
    this->ingest("e4", "a.b", 400);
    EXPECT_EQ(this->listed_events("ep_old"), (std::vector<std::string>{"e4", sent[0].event_id}));
    EXPECT_EQ(this->listed_events("ep_new"), (std::vector<std::string>{"e4", "e3"}));
    auto again = this->claim("ep_old", 10, 400);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].event_id, "e4");
}

// ---- dead letters -------------------------------------------------------------------------

TYPED_TEST(store_contract, dead_letters_are_requeued_one_or_in_bulk_and_deleted) {
    this->create_endpoint("ep_1");
    this->create_endpoint("ep_2");
    std::vector<std::int64_t> dead;
    for (int i = 0; i < 3; ++i) this->ingest("e" + std::to_string(i), "a.b", 100);
    for (const auto* ep : {"ep_1", "ep_2"}) {
        for (const auto& d : this->claim(ep, 10, 100)) {
            ASSERT_TRUE(this->record(this->outcome(d, 100, attempt_outcome::http_error, false, true), 100 + d.id).ok());
            dead.push_back(d.id);
        }
    }
    ASSERT_EQ(this->counts().dead_letters, 6);

    // One, by id: back in the outbox under the same id, due now, with a fresh ladder.
    ASSERT_TRUE(
        this->write(1000, [&](outbox_store& s, std::int64_t now) { return s.requeue_dead_letter(dead[0], now); }).ok());
    EXPECT_FALSE(this->store->get_dead_letter(dead[0]).value());
    auto back = this->claim("ep_1", 10, 1000);
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0].id, dead[0]);
    EXPECT_EQ(back[0].attempt, 2);         // attempt numbers keep counting
    EXPECT_EQ(back[0].ladder_attempt, 1);  // the ladder starts again

    // In bulk, by endpoint: a dry run counts, the real one moves.
    dead_letter_filter f;
    f.endpoint_id = "ep_2";
    auto dry = this->template value<requeue_result>(
        1100, [&](outbox_store& s, std::int64_t now) { return s.requeue_dead_letters(f, now, true); });
    EXPECT_EQ(dry.requeued, 3);
    EXPECT_EQ(this->counts().dead_letters, 5);
    auto real = this->template value<requeue_result>(
        1100, [&](outbox_store& s, std::int64_t now) { return s.requeue_dead_letters(f, now, false); });
    EXPECT_EQ(real.requeued, 3);
    EXPECT_EQ(this->counts().dead_letters, 2);
    EXPECT_EQ(this->claim("ep_2", 10, 1100).size(), 3u);

    // Deleted: gone from the list.
    ASSERT_TRUE(this->write(1200, [&](outbox_store& s, std::int64_t) { return s.delete_dead_letter(dead[1]); }).ok());
    EXPECT_EQ(this->store->list_dead_letters(dead_letter_filter{}, page_request{}).value().size(), 1u);

    // A dead letter whose endpoint is gone has nowhere to go: conflict, and skipped in bulk.
    ASSERT_TRUE(this->write(1300,
                            [](outbox_store& s, std::int64_t) -> status {
                                auto r = s.delete_endpoint("ep_1");
                                return r ? status(ok_v) : status(r.err());
                            })
                    .ok());
    auto orphan =
        this->write(1400, [&](outbox_store& s, std::int64_t now) { return s.requeue_dead_letter(dead[2], now); });
    ASSERT_FALSE(orphan.ok());
    EXPECT_EQ(orphan.err().code, error_code::conflict);
    auto skipped = this->template value<requeue_result>(1400, [](outbox_store& s, std::int64_t now) {
        return s.requeue_dead_letters(dead_letter_filter{}, now, false);
    });
    EXPECT_EQ(skipped.requeued, 0);
    EXPECT_EQ(skipped.skipped, 1);
}

// ---- retention ----------------------------------------------------------------------------

TYPED_TEST(store_contract, purges_remove_what_is_past_the_cutoff_at_most_limit_at_a_time) {
    this->create_endpoint("ep_1");
    for (int i = 0; i < 4; ++i) this->ingest("e" + std::to_string(i), "a.b", 100);
    auto d = this->claim("ep_1", 4, 100);
    ASSERT_EQ(d.size(), 4u);
    ASSERT_TRUE(this->record(this->outcome(d[0], 100, attempt_outcome::success, true, false), 1000).ok());
    ASSERT_TRUE(this->record(this->outcome(d[1], 100, attempt_outcome::success, true, false), 5000).ok());
    ASSERT_TRUE(this->record(this->outcome(d[2], 100, attempt_outcome::http_error, false, true), 1000).ok());
    ASSERT_TRUE(this->record(this->outcome(d[3], 100, attempt_outcome::http_error, false, true), 5000).ok());
    auto purge_dead = [&](std::int64_t cutoff, std::size_t limit) {
        return this->template value<std::int64_t>(
            9000, [&](outbox_store& s, std::int64_t) { return s.purge_dead_letters(cutoff, limit); });
    };
    auto purge_delivered = [&](std::int64_t cutoff, std::size_t limit) {
        return this->template value<std::int64_t>(
            9000, [&](outbox_store& s, std::int64_t) { return s.purge_delivered(cutoff, limit); });
    };
    EXPECT_EQ(purge_dead(2000, 10), 1);
    EXPECT_FALSE(this->store->get_dead_letter(d[2].id).value());
    EXPECT_TRUE(this->store->get_dead_letter(d[3].id).value());
    EXPECT_FALSE(this->store->get_event("e2").value());  // its event went with it
    EXPECT_EQ(purge_delivered(2000, 10), 1);
    EXPECT_FALSE(this->delivery(d[0].id));
    EXPECT_TRUE(this->delivery(d[1].id));
    EXPECT_EQ(purge_delivered(10'000, 0), 0);  // the limit bounds each sweep
    EXPECT_EQ(purge_delivered(10'000, 1), 1);
    EXPECT_EQ(purge_dead(10'000, 1), 1);
    EXPECT_EQ(this->counts().dead_letters, 0);
    EXPECT_TRUE(this->write(9000, [](outbox_store& s, std::int64_t now) { return s.heartbeat(now); }).ok());
}

// ---- Tenants --------------------------------------------------------------------------------

TYPED_TEST(store_contract, an_event_reaches_only_the_endpoints_of_its_own_tenant) {
    this->create_tenant("biz_a");
    this->create_tenant("biz_b");
    this->create_endpoint("ep_a", "[]", true, "biz_a");
    this->create_endpoint("ep_b", "[]", true, "biz_b");
    this->create_endpoint("ep_p");
    auto a = this->ingest("e_a", "a.b", 10, "biz_a");
    auto b = this->ingest("e_b", "a.b", 10, "biz_b");
    auto p = this->ingest("e_p", "a.b", 10);
    EXPECT_EQ(a.endpoint_ids, std::vector<std::string>{"ep_a"});
    EXPECT_EQ(b.endpoint_ids, std::vector<std::string>{"ep_b"});
    EXPECT_EQ(p.endpoint_ids, std::vector<std::string>{"ep_p"});
    EXPECT_EQ(a.tenant, "biz_a");
    EXPECT_FALSE(p.tenant);
    // Endpoints created after the first event of a tenant are routed to at once.
    this->create_endpoint("ep_a2", "[]", true, "biz_a");
    EXPECT_EQ(this->ingest("e_a2", "a.b", 11, "biz_a").deliveries, 2);
    EXPECT_EQ(this->ingest("e_p2", "a.b", 11).deliveries, 1);
    auto ev = this->store->get_event("e_a").value();
    ASSERT_TRUE(ev);
    EXPECT_EQ(ev->tenant, "biz_a");
    ASSERT_EQ(ev->deliveries.size(), 1u);
    EXPECT_EQ(ev->deliveries[0].tenant, "biz_a");
}

TYPED_TEST(store_contract, the_routes_read_for_every_tenant_at_once_are_each_tenants_own) {
    // The first event reads every tenant's routes in one scan: each tenant keeps its
    // enabled endpoints only, in creation order, with their patterns and ordering.
    this->create_tenant("biz_a");
    this->create_tenant("biz_b");
    this->create_tenant("biz_c");
    this->create_endpoint("ep_a1", R"(["a.*"])", true, "biz_a");
    this->create_endpoint("ep_a2", "[]", false, "biz_a");
    this->create_endpoint("ep_c1", R"(["x.y"])", true, "biz_c");
    this->create_endpoint("ep_a3", "[]", true, "biz_a", "fifo");
    this->create_endpoint("ep_p", R"(["a.*"])");
    auto a = this->ingest("e_a", "a.b", 10, "biz_a");
    EXPECT_EQ(a.endpoint_ids, (std::vector<std::string>{"ep_a1", "ep_a3"}));
    // Each with its seq, which the dispatcher's notice slots are keyed by.
    EXPECT_EQ(a.endpoint_seqs, (std::vector<std::int64_t>{this->endpoint("ep_a1")->seq, this->endpoint("ep_a3")->seq}));
    EXPECT_EQ(this->ingest("e_b", "a.b", 10, "biz_b").deliveries, 0);
    EXPECT_EQ(this->ingest("e_c", "a.b", 10, "biz_c").deliveries, 0);
    EXPECT_EQ(this->ingest("e_c2", "x.y", 10, "biz_c").endpoint_ids, std::vector<std::string>{"ep_c1"});
    EXPECT_EQ(this->ingest("e_p", "a.b", 10).endpoint_ids, std::vector<std::string>{"ep_p"});
    EXPECT_EQ(this->try_ingest("e_x", std::string("biz_x"), 10).err().code, error_code::tenant_not_found);
    // The FIFO endpoint's deliveries are ordered: a claim takes the head of its queue.
    this->ingest("e_a4", "a.b", 10, "biz_a");
    auto head = this->claim({{"ep_a3", 5, true}}, 10, 20);
    ASSERT_EQ(head.size(), 1u);
    ASSERT_EQ(head[0].deliveries.size(), 1u);
    EXPECT_EQ(head[0].deliveries[0].event_id, "e_a");
    // A tenant created after the scan is read on its own.
    this->create_tenant("biz_d");
    this->create_endpoint("ep_d1", "[]", true, "biz_d");
    EXPECT_EQ(this->ingest("e_d", "a.b", 11, "biz_d").endpoint_ids, std::vector<std::string>{"ep_d1"});
}

TYPED_TEST(store_contract, a_refused_event_keeps_every_other_tenants_routes) {
    // A producer's failing event (an unknown tenant, an id taken) rolls its group back;
    // the routes read before stay cached, or each such event would cost every tenant a read.
    this->create_tenant("biz_a");
    this->create_tenant("biz_b");
    this->create_endpoint("ep_a", "[]", true, "biz_a");
    this->create_endpoint("ep_b", "[]", true, "biz_b");
    this->ingest("e_a", "a.b", 10, "biz_a");
    this->ingest("e_b", "a.b", 10, "biz_b");
    auto& base = dynamic_cast<detail::outbox_store_base&>(*this->store);
    auto reads = base.route_reads();
    EXPECT_EQ(this->try_ingest("e_x", std::string("biz_nope"), 11).err().code, error_code::tenant_not_found);
    EXPECT_EQ(this->try_ingest("e_a", std::string("biz_b"), 11).err().code, error_code::id_conflict);
    EXPECT_EQ(base.route_reads(), reads + 1);  // the unknown tenant's own look
    EXPECT_EQ(this->ingest("e_a2", "a.b", 12, "biz_a").endpoint_ids, std::vector<std::string>{"ep_a"});
    EXPECT_EQ(this->ingest("e_b2", "a.b", 12, "biz_b").endpoint_ids, std::vector<std::string>{"ep_b"});
    EXPECT_EQ(base.route_reads(), reads + 1);
}

TYPED_TEST(store_contract, routes_read_by_a_rolled_back_unit_are_forgotten_with_it) {
    // A unit that adds an endpoint and routes an event to it, then fails: the routes it read
    // held the endpoint its rollback undoes. Alone (the group's rollback) and beside a good
    // unit (its savepoint's).
    this->create_tenant("biz_a");
    this->create_tenant("biz_b");
    this->create_endpoint("ep_b", "[]", true, "biz_b");
    this->ingest("e_0", "a.b", 10, "biz_a");  // every tenant's routes read
    int n = 0;
    auto adds_then_fails = [&n](outbox_store& s, std::int64_t now) -> status {
        auto id = "ep_gone_" + std::to_string(++n);
        auto es = TestFixture::settings(id, "[]", true, "biz_a");
        if (auto st = s.create_endpoint(id, es, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", now); !st) return st;
        auto e = build_envelope("e_gone_" + std::to_string(n), "a.b", "2026-12-02T12:00:00Z", "1");
        e.tenant = "biz_a";
        auto r = s.insert_event(e, now, now);
        if (!r) return r.err();
        EXPECT_EQ(r->endpoint_ids, std::vector<std::string>{id});
        return error{error_code::invalid_field, "refused after writing"};
    };
    EXPECT_FALSE(this->write(11, adds_then_fails).ok());
    EXPECT_EQ(this->ingest("e_1", "a.b", 12, "biz_a").deliveries, 0);

    fn_unit good([](outbox_store& s, std::int64_t now) -> status {
        auto e = build_envelope("e_good", "a.b", "2026-12-02T12:00:00Z", "1");
        e.tenant = "biz_b";
        auto r = s.insert_event(e, now, now);
        return r ? status(ok_v) : status(r.err());
    });
    fn_unit bad(adds_then_fails);
    write_unit* units[] = {&good, &bad};
    this->store->write_group(units, 13);
    ASSERT_TRUE(good.result && good.result->ok());
    ASSERT_TRUE(bad.result && !bad.result->ok());
    EXPECT_EQ(this->ingest("e_2", "a.b", 14, "biz_a").deliveries, 0);
    EXPECT_EQ(this->ingest("e_3", "a.b", 14, "biz_b").endpoint_ids, std::vector<std::string>{"ep_b"});
}

TYPED_TEST(store_contract, an_unknown_tenant_and_an_id_of_another_tenant_store_nothing) {
    this->create_tenant("biz_a");
    this->create_tenant("biz_b");
    this->create_endpoint("ep_b", "[]", true, "biz_b");
    auto unknown = this->try_ingest("e1", std::string("biz_nope"), 10);
    ASSERT_FALSE(unknown.ok());
    EXPECT_EQ(unknown.err().code, error_code::tenant_not_found);
    EXPECT_FALSE(this->store->get_event("e1").value());
    ASSERT_TRUE(this->try_ingest("e1", std::string("biz_a"), 10).ok());
    for (auto other : {std::optional<std::string>("biz_b"), std::optional<std::string>()}) {
        auto taken = this->try_ingest("e1", other, 11);
        ASSERT_FALSE(taken.ok());
        EXPECT_EQ(taken.err().code, error_code::id_conflict);
    }
    auto same = this->try_ingest("e1", std::string("biz_a"), 12);
    ASSERT_TRUE(same.ok());
    EXPECT_TRUE(same->duplicate);
    EXPECT_EQ(this->counts().pending, 0);  // biz_b's endpoint got nothing
    // And the reverse: a platform event's id is not a tenant's.
    ASSERT_TRUE(this->try_ingest("e2", std::nullopt, 13).ok());
    EXPECT_EQ(this->try_ingest("e2", std::string("biz_b"), 14).err().code, error_code::id_conflict);
}

TYPED_TEST(store_contract, lists_filter_by_tenant_and_owner_of_names_the_owner) {
    this->create_tenant("biz_a");
    this->create_endpoint("ep_a", "[]", true, "biz_a");
    this->create_endpoint("ep_p");
    this->ingest("e_a", "a.b", 10, "biz_a");
    this->ingest("e_p", "a.b", 10);
    page_request page;
    auto eps = this->store->list_endpoints(endpoint_filter{"biz_a"}, page, 10).value();
    ASSERT_EQ(eps.size(), 1u);
    EXPECT_EQ(eps[0].id, "ep_a");
    EXPECT_EQ(eps[0].tenant, "biz_a");
    EXPECT_EQ(this->store->list_endpoints(endpoint_filter{}, page, 10).value().size(), 2u);
    delivery_filter df;
    df.tenant = "biz_a";
    auto ds = this->store->list_deliveries(df, page).value();
    ASSERT_EQ(ds.size(), 1u);
    EXPECT_EQ(ds[0].endpoint_id, "ep_a");
    event_filter only_a;
    only_a.tenant = "biz_a";
    auto evs = this->store->list_events(only_a, page).value();
    ASSERT_EQ(evs.size(), 1u);
    EXPECT_EQ(evs[0].id, "e_a");
    EXPECT_EQ(this->store->list_events(event_filter{}, page).value().size(), 2u);

    auto owner = [&](resource_kind k, std::string id, std::int64_t n = 0) {
        return this->store->owner_of(resource_ref{k, std::move(id), n}).value();
    };
    EXPECT_EQ(owner(resource_kind::endpoint, "ep_a").tenant, "biz_a");
    EXPECT_TRUE(owner(resource_kind::endpoint, "ep_p").exists);
    EXPECT_FALSE(owner(resource_kind::endpoint, "ep_p").tenant);
    EXPECT_FALSE(owner(resource_kind::endpoint, "ep_x").exists);
    EXPECT_EQ(owner(resource_kind::event, "e_a").tenant, "biz_a");
    EXPECT_EQ(owner(resource_kind::delivery, "", ds[0].id).tenant, "biz_a");
    EXPECT_FALSE(owner(resource_kind::dead_letter, "", ds[0].id).exists);  // pending, not dead
    EXPECT_FALSE(owner(resource_kind::delivery, "", 999).exists);
}

TYPED_TEST(store_contract, tenants_are_created_once_changed_and_deleted_with_everything_they_own) {
    this->create_tenant("biz_a");
    auto again = this->write(2, [](outbox_store& s, std::int64_t now) {
        return s.create_tenant("biz_a", tenant_settings{"", "{}"}, now);
    });
    EXPECT_EQ(again.err().code, error_code::conflict);
    ASSERT_TRUE(this->write(3, [](outbox_store& s, std::int64_t now) {
                        return s.update_tenant("biz_a", tenant_settings{"Acme", std::nullopt}, now);
                    }).ok());
    auto t = this->store->get_tenant("biz_a").value();
    ASSERT_TRUE(t);
    EXPECT_EQ(t->name, "Acme");
    EXPECT_EQ(t->metadata_json, R"({"plan":"pro"})");  // untouched by the patch
    EXPECT_EQ(t->updated_ms, 3);
    EXPECT_EQ(this->store->list_tenants(page_request{}).value().size(), 1u);

    token_record tok{"tok_1", "biz_a", std::string(64, 'f'), "portal", 3, 100};
    ASSERT_TRUE(this->write(3, [&](outbox_store& s, std::int64_t) { return s.create_token(tok); }).ok());
    auto found = this->store->find_token(std::string(64, 'f')).value();
    ASSERT_TRUE(found);
    EXPECT_EQ(found->tenant_id, "biz_a");
    EXPECT_EQ(found->expires_ms, 100);
    EXPECT_FALSE(this->store->find_token(std::string(64, 'e')).value());
    EXPECT_EQ(this->store->list_tokens("biz_a", page_request{}).value().size(), 1u);

    this->create_endpoint("ep_a", "[]", true, "biz_a");
    this->create_endpoint("ep_p");
    this->ingest("e_a", "a.b", 10, "biz_a");
    this->ingest("e_p", "a.b", 10);
    auto gone = this->template value<std::int64_t>(
        20, [](outbox_store& s, std::int64_t) { return s.delete_tenant("biz_a"); });
    EXPECT_EQ(gone, 1);
    EXPECT_FALSE(this->store->get_tenant("biz_a").value());
    EXPECT_FALSE(this->endpoint("ep_a"));
    EXPECT_FALSE(this->store->get_event("e_a").value());  // a later tenant of that id starts empty
    EXPECT_FALSE(this->store->find_token(std::string(64, 'f')).value());
    EXPECT_TRUE(this->endpoint("ep_p"));
    EXPECT_TRUE(this->store->get_event("e_p").value());
    EXPECT_EQ(this->counts().pending, 1);
    auto unknown = this->try_ingest("e_a2", std::string("biz_a"), 21);
    EXPECT_EQ(unknown.err().code, error_code::tenant_not_found);  // no stale route survives
    EXPECT_EQ(this->write(22, [](outbox_store& s, std::int64_t) { return s.revoke_token("biz_a", "tok_1"); })
                  .err()
                  .code,
              error_code::not_found);
}

TYPED_TEST(store_contract, an_endpoint_of_an_unknown_tenant_is_refused_and_a_revoked_token_is_gone) {
    endpoint_settings s;
    s.url = "https://example.com/x";
    s.tenant = "biz_nope";
    auto st = this->write(1, [&](outbox_store& o, std::int64_t now) {
        return o.create_endpoint("ep_x", s, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", now);
    });
    EXPECT_EQ(st.err().code, error_code::tenant_not_found);
    this->create_tenant("biz_a");
    token_record tok{"tok_1", "biz_a", std::string(64, 'a'), "", 3, std::nullopt};
    ASSERT_TRUE(this->write(3, [&](outbox_store& o, std::int64_t) { return o.create_token(tok); }).ok());
    EXPECT_FALSE(this->store->find_token(std::string(64, 'a')).value()->expires_ms);  // never
    EXPECT_EQ(this->write(4, [](outbox_store& o, std::int64_t) { return o.revoke_token("biz_b", "tok_1"); })
                  .err()
                  .code,
              error_code::not_found);  // another tenant's token id
    ASSERT_TRUE(this->write(4, [](outbox_store& o, std::int64_t) { return o.revoke_token("biz_a", "tok_1"); }).ok());
    EXPECT_FALSE(this->store->find_token(std::string(64, 'a')).value());
}

// ---- PostgreSQL: several writers at once ------------------------------------------------

// Named to run in the process of the PostgreSQL store tests (tests/CMakeLists.txt).
class shared_outbox_store : public store_contract<pg_backend> {};

TEST_F(shared_outbox_store, changes_committed_out_of_revision_order_reach_the_scan_and_the_routes) {
    // Two other instances change an endpoint each: A takes its revision first and commits
    // last. A scan or a route cache that only asked for revisions above the highest it
    // saw would never read A's change.
    create_tenant("biz_a");
    create_tenant("biz_b");
    create_endpoint("ep_a", "[]", false, "biz_a");
    create_endpoint("ep_b", "[]", true, "biz_b");
    auto first = scan({}, 10);
    EXPECT_EQ(ingest("e1", "a.b", 11, "biz_a").deliveries, 0);  // biz_a's routes cached: none enabled

    pg::connection a(pg_backend::url), b(pg_backend::url);
    a.exec("BEGIN");
    a.query("UPDATE endpoints SET enabled = true, url = 'https://example.com/a2' WHERE id = 'ep_a'");
    b.exec("BEGIN");
    b.query("UPDATE endpoints SET url = 'https://example.com/b2' WHERE id = 'ep_b'");
    b.exec("COMMIT");
    auto seen_b = scan(first.mark, 20);
    ASSERT_EQ(seen_b.changed.size(), 1u);
    EXPECT_EQ(seen_b.changed[0].id, "ep_b");
    EXPECT_EQ(ingest("e2", "a.b", 21, "biz_a").deliveries, 0);  // A has not committed
    a.exec("COMMIT");
    auto revision = [&](const char* id) {
        return b.query("SELECT revision FROM endpoints WHERE id = $1", {id}).int64(0, 0);
    };
    ASSERT_LT(revision("ep_a"), revision("ep_b"));  // the order this test is about

    // B's change comes again (it was read while A ran), as it is.
    auto seen_a = scan(seen_b.mark, 30);
    ASSERT_EQ(seen_a.changed.size(), 2u);
    EXPECT_EQ(seen_a.changed[0].id, "ep_a");
    EXPECT_EQ(seen_a.changed[0].url, "https://example.com/a2");
    EXPECT_TRUE(seen_a.changed[0].enabled);
    EXPECT_EQ(seen_a.changed[1].url, "https://example.com/b2");
    EXPECT_EQ(ingest("e3", "a.b", 31, "biz_a").deliveries, 1);
    EXPECT_TRUE(scan(seen_a.mark, 40).changed.empty());  // nothing running: nothing read again
    // A mark past the server's next transaction (a database restored into another cluster)
    // is not trusted: everything is read.
    scan_mark restored{std::int64_t{1} << 50, seen_a.mark.deletions};
    auto all = scan(restored, 40);
    EXPECT_TRUE(all.complete);
    EXPECT_EQ(all.changed.size(), 2u);

    // A change seen while an older transaction runs is read again, unchanged, and costs no
    // tenant its cached routes; a change made meanwhile still does.
    auto& base = dynamic_cast<detail::outbox_store_base&>(*store);
    a.exec("BEGIN");
    a.query("UPDATE endpoints SET consecutive_failures = 1 WHERE id = 'ep_a'");  // holds the horizon back
    b.query("UPDATE endpoints SET url = 'https://example.com/b3' WHERE id = 'ep_b'");
    EXPECT_EQ(ingest("e4", "a.b", 41, "biz_b").deliveries, 1);
    auto reads = base.route_reads();
    EXPECT_EQ(ingest("e5", "a.b", 42, "biz_b").deliveries, 1);
    EXPECT_EQ(ingest("e6", "a.b", 43, "biz_a").deliveries, 1);
    EXPECT_EQ(base.route_reads(), reads);
    b.query("UPDATE endpoints SET enabled = false WHERE id = 'ep_b'");
    EXPECT_EQ(ingest("e7", "a.b", 44, "biz_b").deliveries, 0);
    EXPECT_EQ(base.route_reads(), reads + 1);
    a.exec("COMMIT");

    // A tenant deleted by another instance is unknown here at once, cached routes or not.
    create_tenant("biz_c");
    EXPECT_EQ(ingest("e8", "a.b", 50, "biz_c").deliveries, 0);
    b.query("DELETE FROM tenants WHERE id = 'biz_c'");
    auto gone = try_ingest("e9", std::string("biz_c"), 51);
    ASSERT_FALSE(gone.ok());
    EXPECT_EQ(gone.err().code, error_code::tenant_not_found);
}

TEST_F(shared_outbox_store, the_next_due_time_is_two_index_seeks_however_many_deliveries_wait) {
    // Read as a scan of the endpoint's range, it took 1 ms a claim with 14,000 deliveries
    // pending (decision 94). Its plan is what is checked, not its time: no step of it may
    // read more than one row.
    create_endpoint("ep_a");
    pg::connection db(pg_backend::url);
    db.query("INSERT INTO events (id, type, timestamp, body, data_offset, created_at) "
             "VALUES ('e_many', 'a.b', 't', '\\x7b7d', 0, 0)");
    db.query("INSERT INTO deliveries (event_seq, endpoint_id, created_at, next_attempt_at, attempts) "
             "SELECT (SELECT seq FROM events WHERE id = 'e_many'), 'ep_a', 0, 100 + g, (g % 10 = 0)::int "
             "FROM generate_series(1, 5000) AS g");
    db.exec("ANALYZE deliveries");
    auto sql = "SELECT " + detail::pg_next_due_sql("'ep_a'", "false");
    EXPECT_EQ(db.query(sql).int64(0, 0), 101);
    db.query("UPDATE deliveries SET next_attempt_at = 50 WHERE endpoint_id = 'ep_a' AND next_attempt_at = 110");
    EXPECT_EQ(db.query(sql).int64(0, 0), 50);  // a retry due before every first attempt
    auto plan = db.query("EXPLAIN (ANALYZE, COSTS OFF) " + sql);
    std::string text;
    long most = 0;
    for (int i = 0; i < plan.size(); ++i) {
        std::string line(plan.text(i, 0));
        text += line + "\n";
        for (auto at = line.find(" rows="); at != std::string::npos; at = line.find(" rows=", at + 1)) {
            most = std::max(most, std::stol(line.substr(at + 6)));
        }
    }
    EXPECT_LE(most, 1) << text;
    db.query("DELETE FROM deliveries WHERE endpoint_id = 'ep_a'");  // written behind the counts' back
}

}  // namespace
}  // namespace webhookd
