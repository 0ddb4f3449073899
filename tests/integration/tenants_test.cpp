// Tenants against a running daemon (docs/api.md, "Tenants"): each tenant's events reach its
// own endpoints only, a tenant token sees its own rows and nothing else on every admin
// route, tokens expire and are revoked at once, and event ids stay unique across tenants.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <set>
#include <thread>

#include "store/sqlite_store_impl.hpp"
#include "support/daemon_fixture.hpp"
#include "support/http_client.hpp"
#include "support/test_server.hpp"

namespace webhookd {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using test::test_server;

constexpr const char* operator_token = "op-9dK2xQ7mW4";
constexpr const char* ingest_token = "in-5tR8vB1nZ3";

std::set<std::string> ids_of(const json& page, const char* key = "id") {
    std::set<std::string> out;
    for (const auto& row : page["data"]) out.insert(row[key].get<std::string>());
    return out;
}

// Everything one owner (a tenant, or the platform) has in the daemon.
struct owner_world {
    std::optional<std::string> tenant;
    std::string endpoint, dead_endpoint, url;
    std::vector<std::string> events;
    std::string delivery, dead_letter;  // dlv_<n> of one delivered and one dead
    std::unique_ptr<test_server> receiver;
};

class tenants : public test::daemon_test {
protected:
    void configure(config& cfg) override {
        cfg.admin.tokens = {operator_token};
        cfg.ingest.tokens = {ingest_token};
        cfg.delivery.allowed_cidrs = test::cidrs({"127.0.0.0/8"});
        cfg.delivery.timeout = 2s;
        cfg.retry.schedule = {0ms};  // one attempt: a refused one dies at once
        cfg.retry.jitter = 0;
    }

    test::http_result as(const std::string& token, const std::string& method, const std::string& target,
                         const std::string& body = "", bool ingest_listener = false) {
        std::map<std::string, std::string> headers{{"Content-Type", "application/json"}};
        if (!token.empty()) headers["Authorization"] = "Bearer " + token;
        auto port = ingest_listener ? runner->ingest_port() : runner->admin_port();
        return test::http_client(port).request(method, target, body, headers);
    }
    json op(const std::string& method, const std::string& target, const json& body = nullptr, int expected = 200) {
        auto r = as(operator_token, method, target, body.is_null() ? "" : body.dump());
        EXPECT_EQ(r.status, expected) << method << " " << target << ": " << r.body;
        return json::parse(r.body, nullptr, false);
    }
    test::http_result ingest(const json& event) {
        return as(ingest_token, "POST", "/v1/events", event.dump(), true);
    }
    std::string mint(const std::string& tenant, const json& body = json::object()) {
        return op("POST", "/v1/tenants/" + tenant + "/tokens", body, 201)["token"];
    }

    // One owner's endpoints (one that answers 200, one on a refused port) and three events,
    // each delivered to the first and dead at the second.
    owner_world make_owner(std::optional<std::string> tenant, const std::string& tag) {
        owner_world w;
        w.tenant = tenant;
        w.receiver = std::make_unique<test_server>(
            test_server::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
        w.url = w.receiver->url("/private-" + tag);
        json ep{{"url", w.url}, {"events", {"*"}}, {"description", "desc-private-" + tag}};
        json dead{{"url", "http://127.0.0.1:9/private-" + tag}, {"events", {"*"}}};
        if (tenant) {
            op("POST", "/v1/tenants", {{"id", *tenant}, {"name", "Tenant " + tag}}, 201);
            ep["tenant"] = *tenant;
            dead["tenant"] = *tenant;
        }
        w.endpoint = op("POST", "/v1/endpoints", ep, 201)["id"];
        w.dead_endpoint = op("POST", "/v1/endpoints", dead, 201)["id"];
        for (int i = 0; i < 3; ++i) {
            json event{{"id", "evt-" + tag + "-" + std::to_string(i)},
                       {"event", "booking.created"},
                       {"data", {{"note", "data-private-" + tag}}}};
            if (tenant) event["tenant"] = *tenant;
            auto r = ingest(event);
            EXPECT_EQ(r.status, 202) << r.body;
            w.events.push_back(event["id"]);
        }
        return w;
    }

    // Waits until every owner's deliveries are settled, then reads their delivery ids.
    void settle(std::vector<owner_world*> owners) {
        auto n = static_cast<std::int64_t>(3 * owners.size());
        ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", n), n);
        ASSERT_EQ(wait_for("SELECT COUNT(*) FROM dead_letters", n), n);
        for (auto* w : owners) {
            auto event = w->events.front();
            w->delivery = "dlv_" + std::to_string(count(
                "SELECT d.id FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE e.id = '" + event + "'"));
            w->dead_letter = "dlv_" + std::to_string(count(
                "SELECT d.id FROM dead_letters d JOIN events e ON e.seq = d.event_seq WHERE e.id = '" + event + "'"));
        }
    }

    // The A, B and platform owners of most tests, settled.
    void make_world() {
        a = make_owner("biz_a", "a");
        b = make_owner("biz_b", "b");
        p = make_owner(std::nullopt, "p");
        settle({&a, &b, &p});
        token_a = mint("biz_a");
        token_b_id = op("POST", "/v1/tenants/biz_b/tokens", json::object(), 201)["id"];
    }

    owner_world a, b, p;
    std::string token_a, token_b_id;
};

TEST_F(tenants, each_receiver_gets_exactly_its_own_tenants_events) {
    start();
    make_world();
    for (auto* w : {&a, &b, &p}) {
        std::multiset<std::string> got;
        for (const auto& r : w->receiver->requests()) got.insert(r.header("X-Webhook-Id"));
        EXPECT_EQ(got, std::multiset<std::string>(w->events.begin(), w->events.end()))
            << "receiver of " << w->tenant.value_or("the platform");
    }
    // Views name the tenant; the platform's is null.
    EXPECT_EQ(op("GET", "/v1/endpoints/" + a.endpoint)["tenant"], "biz_a");
    EXPECT_TRUE(op("GET", "/v1/endpoints/" + p.endpoint)["tenant"].is_null());
    EXPECT_EQ(op("GET", "/v1/events/" + b.events[0])["tenant"], "biz_b");
    EXPECT_EQ(op("GET", "/v1/deliveries/" + b.delivery)["tenant"], "biz_b");
    EXPECT_EQ(ids_of(op("GET", "/v1/endpoints?tenant=biz_b")), (std::set<std::string>{b.endpoint, b.dead_endpoint}));
    EXPECT_EQ(op("GET", "/v1/endpoints")["data"].size(), 6u);  // the operator sees every one
}

TEST_F(tenants, a_tenant_token_lists_and_acts_on_its_own_rows_only) {
    start();
    make_world();
    auto mine = [&](const std::string& target) {
        auto r = as(token_a, "GET", target);
        EXPECT_EQ(r.status, 200) << target << ": " << r.body;
        for (const auto* other : {&b, &p}) {
            for (const auto& needle : {other->url, other->endpoint, other->dead_endpoint, other->events[0],
                                       std::string("private-") + (other == &b ? "b" : "p")}) {
                EXPECT_EQ(r.body.find(needle), std::string::npos) << target << " shows " << needle;
            }
        }
        return json::parse(r.body, nullptr, false);
    };
    EXPECT_EQ(ids_of(mine("/v1/endpoints")), (std::set<std::string>{a.endpoint, a.dead_endpoint}));
    EXPECT_EQ(ids_of(mine("/v1/events")), std::set<std::string>(a.events.begin(), a.events.end()));
    auto deliveries = mine("/v1/deliveries");
    EXPECT_EQ(deliveries["data"].size(), 6u);  // 3 delivered, 3 dead
    for (const auto& d : deliveries["data"]) EXPECT_EQ(d["tenant"], "biz_a");
    EXPECT_EQ(mine("/v1/deliveries?status=dead")["data"].size(), 3u);
    EXPECT_EQ(mine("/v1/dead-letters")["data"].size(), 3u);
    EXPECT_EQ(mine("/v1/dead-letters?endpoint_id=" + b.dead_endpoint)["data"].size(), 0u);
    EXPECT_EQ(mine("/v1/endpoints/" + a.endpoint + "/attempts")["data"].size(), 3u);
    EXPECT_EQ(mine("/v1/events/" + a.events[0])["tenant"], "biz_a");
    EXPECT_EQ(mine("/v1/deliveries/" + a.delivery)["status"], "delivered");
    EXPECT_EQ(mine("/v1/tenants/biz_a")["name"], "Tenant a");

    // Creating: in its own tenant, named or not; another tenant's is forbidden.
    auto created = as(token_a, "POST", "/v1/endpoints", json{{"url", a.url}}.dump());
    ASSERT_EQ(created.status, 201) << created.body;
    EXPECT_EQ(json::parse(created.body)["tenant"], "biz_a");
    EXPECT_EQ(as(token_a, "POST", "/v1/endpoints", json{{"url", a.url}, {"tenant", "biz_a"}}.dump()).status, 201);
    auto forbidden = as(token_a, "POST", "/v1/endpoints", json{{"url", a.url}, {"tenant", "biz_b"}}.dump());
    EXPECT_EQ(forbidden.status, 403) << forbidden.body;
    EXPECT_EQ(json::parse(forbidden.body)["error"]["code"], "forbidden");

    // Bulk retry touches its own dead letters only.
    auto retried = as(token_a, "POST", "/v1/dead-letters/retry", "{}");
    ASSERT_EQ(retried.status, 200) << retried.body;
    EXPECT_EQ(json::parse(retried.body)["requeued"], 3);
    EXPECT_EQ(count("SELECT COUNT(*) FROM dead_letters d JOIN events e ON e.seq = d.event_seq "
                    "WHERE e.tenant_id = 'biz_b'"),
              3);
    EXPECT_EQ(count("SELECT COUNT(*) FROM dead_letters d JOIN events e ON e.seq = d.event_seq "
                    "WHERE e.tenant_id IS NULL"),
              3);
    // One of its own, by id: allowed.
    EXPECT_EQ(wait_for("SELECT COUNT(*) FROM dead_letters", 9), 9);  // A's died again
    auto dead_a = op("GET", "/v1/dead-letters?tenant=biz_a&limit=1")["data"][0]["id"].get<std::string>();
    EXPECT_EQ(as(token_a, "POST", "/v1/dead-letters/" + dead_a + "/retry").status, 200);
}

// Every registered route, with A's token aimed at B's resources and at the platform's. A
// route added later without an entry here fails: declare its policy, then say here what a
// tenant token gets from it.
TEST_F(tenants, every_route_answers_a_foreign_tenant_token_as_its_policy_says) {
    start();
    make_world();
    enum where { admin_port, ingest_port };
    struct probe {
        where port;
        std::string method, target, body;
        int status;
        std::string missing_target;  // for a 404: the same request for a resource that does not exist
    };
    using make = std::function<std::vector<probe>(const owner_world&)>;
    auto owned = [](std::string method, std::string prefix, std::string suffix, std::string body,
                    std::function<std::string(const owner_world&)> id, std::string missing_id) -> make {
        return [=](const owner_world& w) {
            return std::vector<probe>{
                {admin_port, method, prefix + id(w) + suffix, body, 404, prefix + missing_id + suffix}};
        };
    };
    auto endpoint = [&](std::string method, std::string suffix, std::string body = "") {
        return owned(method, "/v1/endpoints/", suffix, body, [](const owner_world& w) { return w.endpoint; },
                     "ep_missing");
    };
    auto dead = [&](std::string method, std::string suffix) {
        return owned(method, "/v1/dead-letters/", suffix, "", [](const owner_world& w) { return w.dead_letter; },
                     "dlv_999999");
    };
    // A list: naming another tenant is 403 (a platform owner cannot be named).
    auto list = [](std::string method, std::string target) -> make {
        return [=](const owner_world& w) {
            std::vector<probe> out;
            if (!w.tenant) return out;
            if (method == "GET") {
                out.push_back({admin_port, method, target + "?tenant=" + *w.tenant, "", 403, ""});
            } else {
                out.push_back({admin_port, method, target, json{{"tenant", *w.tenant}}.dump(), 403, ""});
            }
            return out;
        };
    };
    auto fixed = [](where port, std::string method, std::string target, int status, std::string body = "") -> make {
        return [=](const owner_world&) { return std::vector<probe>{{port, method, target, body, status, ""}}; };
    };
    auto tenant_route = [](std::string method, std::string suffix, std::string body = "") -> make {
        return [=](const owner_world& w) {
            return std::vector<probe>{
                {admin_port, method, "/v1/tenants/" + w.tenant.value_or("biz_b") + suffix, body, 403, ""}};
        };
    };
    const std::string url_b = json{{"url", "http://127.0.0.1:9/x"}, {"tenant", "biz_b"}}.dump();
    std::map<std::string, make> table{
        // Ingest takes producer tokens only.
        {"POST /v1/events", fixed(ingest_port, "POST", "/v1/events", 401, R"({"event":"a.b","data":1})")},
        {"POST /v1/events/batch",
         fixed(ingest_port, "POST", "/v1/events/batch", 401, R"({"events":[{"event":"a.b","data":1}]})")},
        {"GET /healthz", fixed(admin_port, "GET", "/healthz", 200)},
        {"GET /readyz", fixed(admin_port, "GET", "/readyz", 200)},
        {"GET /metrics", fixed(admin_port, "GET", "/metrics", 403)},
        // The console's files are open; its data is the API's. /v1/me names the caller only.
        {"GET /console/*", fixed(admin_port, "GET", "/console/endpoints", 200)},
        {"GET /v1/me", fixed(admin_port, "GET", "/v1/me", 200)},
        {"POST /v1/endpoints", fixed(admin_port, "POST", "/v1/endpoints", 403, url_b)},
        {"GET /v1/endpoints", list("GET", "/v1/endpoints")},
        {"GET /v1/endpoints/{id}", endpoint("GET", "")},
        {"PATCH /v1/endpoints/{id}", endpoint("PATCH", "", R"({"description":"mine now"})")},
        {"DELETE /v1/endpoints/{id}", endpoint("DELETE", "")},
        {"POST /v1/endpoints/{id}/pause", endpoint("POST", "/pause")},
        {"POST /v1/endpoints/{id}/resume", endpoint("POST", "/resume")},
        {"POST /v1/endpoints/{id}/rotate-secret", endpoint("POST", "/rotate-secret")},
        {"POST /v1/endpoints/{id}/test", endpoint("POST", "/test")},
        {"GET /v1/endpoints/{id}/attempts", endpoint("GET", "/attempts")},
        {"GET /v1/events", list("GET", "/v1/events")},
        {"GET /v1/events/{id}",
         owned("GET", "/v1/events/", "", "", [](const owner_world& w) { return w.events[0]; }, "evt_missing")},
        {"GET /v1/deliveries", list("GET", "/v1/deliveries")},
        {"GET /v1/deliveries/{id}",
         owned("GET", "/v1/deliveries/", "", "", [](const owner_world& w) { return w.delivery; }, "dlv_999999")},
        {"POST /v1/deliveries/{id}/retry",
         owned("POST", "/v1/deliveries/", "/retry", "", [](const owner_world& w) { return w.delivery; },
               "dlv_999999")},
        {"GET /v1/dead-letters", list("GET", "/v1/dead-letters")},
        {"POST /v1/dead-letters/retry", list("POST", "/v1/dead-letters/retry")},
        {"GET /v1/dead-letters/{id}", dead("GET", "")},
        {"POST /v1/dead-letters/{id}/retry", dead("POST", "/retry")},
        {"DELETE /v1/dead-letters/{id}", dead("DELETE", "")},
        {"POST /v1/tenants", fixed(admin_port, "POST", "/v1/tenants", 403, R"({"id":"biz_c"})")},
        {"GET /v1/tenants", fixed(admin_port, "GET", "/v1/tenants", 403)},
        {"GET /v1/tenants/{id}", tenant_route("GET", "")},
        {"PATCH /v1/tenants/{id}", tenant_route("PATCH", "", R"({"name":"x"})")},
        {"DELETE /v1/tenants/{id}", tenant_route("DELETE", "")},
        {"POST /v1/tenants/{id}/tokens", tenant_route("POST", "/tokens")},
        {"GET /v1/tenants/{id}/tokens", tenant_route("GET", "/tokens")},
        {"DELETE /v1/tenants/{id}/tokens/{token_id}", tenant_route("DELETE", "/tokens/" + token_b_id)},
    };
    int probes = 0;
    for (const auto& route : runner->routes()) {
        auto entry = table.find(route);
        if (entry == table.end()) {
            ADD_FAILURE() << route << " has no entry in this table: declare its policy and add what a tenant "
                          << "token gets from it";
            continue;
        }
        for (const auto* victim : {&b, &p}) {
            for (const auto& pr : entry->second(*victim)) {
                ++probes;
                auto r = as(token_a, pr.method, pr.target, pr.body, pr.port == ingest_port);
                EXPECT_EQ(r.status, pr.status) << route << " as " << pr.method << " " << pr.target << ": " << r.body;
                for (const auto& needle : {victim->url, std::string("private-")}) {
                    EXPECT_EQ(r.body.find(needle), std::string::npos) << route << " shows " << needle;
                }
                if (pr.status != 404) continue;
                // Exactly like a resource that does not exist, as the operator is told.
                auto missing = as(operator_token, pr.method, pr.missing_target, pr.body);
                EXPECT_EQ(missing.status, 404) << pr.missing_target << ": " << missing.body;
                auto id = pr.target.substr(pr.target.find('/', 4) + 1);
                id = id.substr(0, id.find('/'));
                auto missing_id = pr.missing_target.substr(pr.missing_target.find('/', 4) + 1);
                missing_id = missing_id.substr(0, missing_id.find('/'));
                auto expected = missing.body;
                expected.replace(expected.find(missing_id), missing_id.size(), id);
                EXPECT_EQ(r.body, expected) << route;
            }
        }
    }
    EXPECT_GE(probes, 40);
    // Nothing of B's or the platform's changed.
    for (const auto* w : {&b, &p}) {
        auto ep = op("GET", "/v1/endpoints/" + w->endpoint);
        EXPECT_EQ(ep["paused"], false);
        EXPECT_EQ(ep["description"], "desc-private-" + std::string(w == &b ? "b" : "p"));
        EXPECT_TRUE(ep["previous_secrets"].empty());
        op("GET", "/v1/dead-letters/" + w->dead_letter);
    }
    EXPECT_EQ(count("SELECT COUNT(*) FROM dead_letters"), 9);
    EXPECT_EQ(count("SELECT COUNT(*) FROM tenant_tokens WHERE tenant_id = 'biz_b'"), 1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM attempts WHERE delivery_id IS NULL"), 0);  // no test send went out
}

TEST_F(tenants, expired_and_revoked_tokens_are_refused_at_once) {
    start();
    op("POST", "/v1/tenants", {{"id", "biz_a"}}, 201);
    auto short_lived = op("POST", "/v1/tenants/biz_a/tokens", {{"expires_in", "2s"}}, 201);
    EXPECT_EQ(short_lived["tenant"], "biz_a");
    EXPECT_TRUE(short_lived["expires_at"].is_string());
    auto forever = op("POST", "/v1/tenants/biz_a/tokens", {{"expires_in", "never"}, {"description", "kiosk"}}, 201);
    EXPECT_TRUE(forever["expires_at"].is_null());
    const std::string s = short_lived["token"], f = forever["token"];
    EXPECT_EQ(as(s, "GET", "/v1/endpoints").status, 200);

    // Listed without the token; the default lifetime is a day.
    auto day = op("POST", "/v1/tenants/biz_a/tokens", json::object(), 201);
    auto listed = op("GET", "/v1/tenants/biz_a/tokens");
    ASSERT_EQ(listed["data"].size(), 3u);
    for (const auto& t : listed["data"]) EXPECT_FALSE(t.contains("token")) << t;
    EXPECT_EQ(listed["data"][0]["id"], day["id"]);
    EXPECT_EQ(listed["data"][2]["description"], "");

    // Revoked: refused on the very next request.
    op("DELETE", "/v1/tenants/biz_a/tokens/" + forever["id"].get<std::string>());
    auto revoked = as(f, "GET", "/v1/endpoints");
    EXPECT_EQ(revoked.status, 401) << revoked.body;
    EXPECT_EQ(json::parse(revoked.body)["error"]["code"], "unauthorized");
    op("DELETE", "/v1/tenants/biz_a/tokens/" + forever["id"].get<std::string>(), nullptr, 404);

    std::this_thread::sleep_for(2100ms);
    EXPECT_EQ(as(s, "GET", "/v1/endpoints").status, 401);
    EXPECT_EQ(as(day["token"], "GET", "/v1/endpoints").status, 200);
    // A made-up token of the right form, and a deleted tenant's.
    EXPECT_EQ(as("wht_" + std::string(64, '0'), "GET", "/v1/endpoints").status, 401);
    op("DELETE", "/v1/tenants/biz_a");
    EXPECT_EQ(as(day["token"], "GET", "/v1/endpoints").status, 401);
}

TEST_F(tenants, without_operator_tokens_a_tenant_token_is_still_scoped) {
    start([](config& c) { c.admin.tokens.clear(); });
    op("POST", "/v1/tenants", {{"id", "biz_a"}}, 201);
    auto token = mint("biz_a");
    EXPECT_EQ(as("", "GET", "/v1/tenants").status, 200);  // loopback, no token: the operator
    EXPECT_EQ(as(token, "GET", "/v1/tenants").status, 403);
    EXPECT_EQ(as(token, "GET", "/v1/tenants/biz_a").status, 200);
    EXPECT_EQ(as("wht_" + std::string(64, 'f'), "GET", "/v1/tenants").status, 401);
}

// The lookup is one read of the token hash's unique index, however many tokens exist.
TEST_F(tenants, a_token_is_found_by_an_index_search_among_a_thousand) {
    WEBHOOKD_SQLITE_ONLY();
    start();
    op("POST", "/v1/tenants", {{"id", "biz_a"}}, 201);
    {
        sqlite::connection db(this->db());
        sqlite::transaction tx(db);
        for (int i = 0; i < 1000; ++i) {
            db.prepare("INSERT INTO tenant_tokens (id, seq, tenant_id, token_hash, created_at) VALUES (?, ?, 'biz_a', ?, 0)")
                .bind(1, "tok_bulk" + std::to_string(i))
                .bind(2, std::int64_t{i + 1000})
                .bind(3, std::to_string(i) + std::string(60, 'c'))
                .run();
        }
        tx.commit();
    }
    auto token = mint("biz_a");
    EXPECT_EQ(as(token, "GET", "/v1/endpoints").status, 200);
    EXPECT_EQ(count("SELECT COUNT(*) FROM tenant_tokens"), 1001);
    sqlite::connection db(this->db());
    auto& plan = db.prepare("EXPLAIN QUERY PLAN " + std::string(detail::find_token_sql));
    std::string steps;
    while (plan.step()) steps += plan.text(3) + "\n";
    EXPECT_NE(steps.find("SEARCH tenant_tokens USING INDEX"), std::string::npos) << steps;
    EXPECT_NE(steps.find("(token_hash=?)"), std::string::npos) << steps;
    EXPECT_EQ(steps.find("SCAN"), std::string::npos) << steps;
}

TEST_F(tenants, an_event_id_belongs_to_one_tenant_across_a_restart) {
    start();
    auto a = make_owner("biz_a", "a");
    auto b = make_owner("biz_b", "b");
    auto conflict = ingest({{"id", "evt-a-0"}, {"tenant", "biz_b"}, {"event", "booking.created"}, {"data", 1}});
    EXPECT_EQ(conflict.status, 409) << conflict.body;
    EXPECT_EQ(json::parse(conflict.body)["error"]["code"], "id_conflict");
    EXPECT_EQ(ingest({{"id", "evt-a-0"}, {"event", "booking.created"}, {"data", 1}}).status, 409);  // no tenant
    auto again = ingest({{"id", "evt-a-0"}, {"tenant", "biz_a"}, {"event", "booking.created"}, {"data", 1}});
    EXPECT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(json::parse(again.body)["duplicate"], true);
    EXPECT_EQ(json::parse(again.body)["tenant"], "biz_a");

    // A batch is refused whole and names the item; an unknown tenant stores nothing.
    auto batch = as(ingest_token, "POST", "/v1/events/batch",
                    json{{"events",
                          {{{"id", "evt-b-new"}, {"tenant", "biz_b"}, {"event", "x"}, {"data", 1}},
                           {{"id", "evt-a-1"}, {"tenant", "biz_b"}, {"event", "x"}, {"data", 1}}}}}
                        .dump(),
                    true);
    EXPECT_EQ(batch.status, 409) << batch.body;
    EXPECT_TRUE(json::parse(batch.body)["error"]["message"].get<std::string>().starts_with("events[1]: ")) << batch.body;
    auto unknown = as(ingest_token, "POST", "/v1/events/batch",
                      json{{"events",
                            {{{"id", "evt-c-1"}, {"event", "x"}, {"data", 1}},
                             {{"id", "evt-c-2"}, {"tenant", "biz_nope"}, {"event", "x"}, {"data", 1}}}}}
                          .dump(),
                      true);
    EXPECT_EQ(unknown.status, 404) << unknown.body;
    EXPECT_EQ(json::parse(unknown.body)["error"]["code"], "tenant_not_found");
    EXPECT_NE(unknown.body.find("events[1]"), std::string::npos) << unknown.body;
    EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE id IN ('evt-b-new', 'evt-c-1', 'evt-c-2')"), 0);
    EXPECT_EQ(ingest({{"tenant", "biz_nope"}, {"event", "x"}, {"data", 1}}).status, 404);

    // B's event under an id of its own goes through, and all of it survives a restart.
    EXPECT_EQ(ingest({{"id", "evt-b-new"}, {"tenant", "biz_b"}, {"event", "x"}, {"data", 1}}).status, 202);
    runner->restart();
    EXPECT_EQ(ingest({{"id", "evt-a-0"}, {"tenant", "biz_b"}, {"event", "x"}, {"data", 1}}).status, 409);
    EXPECT_EQ(op("GET", "/v1/events/evt-a-0")["tenant"], "biz_a");
    EXPECT_EQ(op("GET", "/v1/events/evt-b-new")["tenant"], "biz_b");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 7), 7);
    std::multiset<std::string> got_a, got_b;
    for (const auto& r : a.receiver->requests()) got_a.insert(r.header("X-Webhook-Id"));
    for (const auto& r : b.receiver->requests()) got_b.insert(r.header("X-Webhook-Id"));
    EXPECT_EQ(got_a.count("evt-a-0"), 1u);
    EXPECT_EQ(got_b.count("evt-a-0"), 0u);
    EXPECT_EQ(got_b.count("evt-b-new"), 1u);
}

TEST_F(tenants, tenants_are_validated_paged_patched_and_deleted_with_what_they_own) {
    start();
    auto generated = op("POST", "/v1/tenants", json::object(), 201);
    EXPECT_TRUE(generated["id"].get<std::string>().starts_with("tn_")) << generated;
    auto given = op("POST", "/v1/tenants", {{"id", "biz_42"}, {"name", "Acme Salon"}, {"metadata", {{"plan", "pro"}}}},
                    201);
    EXPECT_EQ(given["metadata"]["plan"], "pro");
    auto taken = as(operator_token, "POST", "/v1/tenants", R"({"id":"biz_42"})");
    EXPECT_EQ(taken.status, 409);
    EXPECT_EQ(json::parse(taken.body)["error"]["code"], "conflict");
    for (auto bad : {R"({"id":""})", R"({"id":"has space"})", R"({"name":7})", R"({"metadata":{"k":1}})",
                     R"({"metadata":[]})", R"({"colour":"red"})"}) {
        auto r = as(operator_token, "POST", "/v1/tenants", bad);
        EXPECT_EQ(r.status, 400) << bad << ": " << r.body;
        EXPECT_EQ(json::parse(r.body)["error"]["code"], "invalid_field") << bad;
    }
    auto r = as(operator_token, "POST", "/v1/tenants", json{{"id", std::string(256, 'x')}}.dump());
    EXPECT_EQ(r.status, 400);
    r = as(operator_token, "POST", "/v1/tenants/biz_42/tokens", R"({"expires_in":"soon"})");
    EXPECT_EQ(r.status, 400) << r.body;
    r = as(operator_token, "POST", "/v1/endpoints", json{{"url", "http://127.0.0.1:9/"}, {"tenant", "biz_nope"}}.dump());
    EXPECT_EQ(r.status, 404) << r.body;
    EXPECT_EQ(json::parse(r.body)["error"]["code"], "tenant_not_found");

    auto page = op("GET", "/v1/tenants?limit=1");
    ASSERT_EQ(page["data"].size(), 1u);
    EXPECT_EQ(page["data"][0]["id"], "biz_42");  // newest first
    auto next = op("GET", "/v1/tenants?limit=1&cursor=" + page["next_cursor"].get<std::string>());
    EXPECT_EQ(next["data"][0]["id"], generated["id"]);
    EXPECT_TRUE(next["next_cursor"].is_null());

    auto patched = op("PATCH", "/v1/tenants/biz_42", {{"name", "Acme Spa"}});
    EXPECT_EQ(patched["name"], "Acme Spa");
    EXPECT_EQ(patched["metadata"]["plan"], "pro");
    EXPECT_EQ(as(operator_token, "PATCH", "/v1/tenants/biz_42", R"({"id":"biz_43"})").status, 400);
    EXPECT_EQ(as(operator_token, "PATCH", "/v1/endpoints/ep_x", R"({"tenant":"biz_42"})").status, 400);

    // Deleting it deletes its endpoints, tokens and history; the id is free again.
    auto owner = make_owner("biz_7", "seven");
    settle({&owner});
    mint("biz_7");
    auto deleted = op("DELETE", "/v1/tenants/biz_7");
    EXPECT_EQ(deleted["deleted_endpoints"], 2);
    op("GET", "/v1/tenants/biz_7", nullptr, 404);
    op("GET", "/v1/endpoints/" + owner.endpoint, nullptr, 404);
    EXPECT_EQ(count("SELECT COUNT(*) FROM events"), 0);
    EXPECT_EQ(count("SELECT COUNT(*) FROM dead_letters") + count("SELECT COUNT(*) FROM deliveries") +
                  count("SELECT COUNT(*) FROM attempts") + count("SELECT COUNT(*) FROM tenant_tokens"),
              0);
    EXPECT_EQ(ingest({{"tenant", "biz_7"}, {"event", "x"}, {"data", 1}}).status, 404);
    op("DELETE", "/v1/tenants/biz_7", nullptr, 404);
}

}  // namespace
}  // namespace webhookd
