// Endpoint health against a running daemon (docs/operations.md, "Endpoint health"): a
// receiver that answers 410 or keeps failing gets its endpoint disabled and its pending
// deliveries dead-lettered, and a platform endpoint subscribed to webhookd.* hears about
// each change exactly once, signed like any other event. And the delivery controls a
// receiver asks for: a rate limit, less concurrency (429, 503), and strict order (FIFO).

#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "support/daemon_fixture.hpp"
#include "support/http_client.hpp"
#include "support/test_server.hpp"

namespace webhookd {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using test::recorded_request;
using test::test_server;

constexpr const char* ops_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// Standard Webhooks verification, written from the specification with OpenSSL alone:
// v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"> with the base64-decoded secret.
bool standard_webhooks_valid(const recorded_request& r, const std::string& secret) {
    std::string b64 = secret.substr(6);
    std::string key(b64.size(), '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(key.data()),
                            reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
    if (n < 0) return false;
    key.resize(static_cast<std::size_t>(n) - std::count(b64.begin(), b64.end(), '='));
    std::string signed_text = r.header("webhook-id") + "." + r.header("webhook-timestamp") + "." + r.body;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(signed_text.data()), signed_text.size(), mac, &mac_len);
    std::string expected(4 * ((mac_len + 2) / 3), '\0');
    EVP_EncodeBlock(reinterpret_cast<unsigned char*>(expected.data()), mac, static_cast<int>(mac_len));
    return r.header("webhook-signature").find("v1," + expected) != std::string::npos;
}

// A receiver whose answer the test changes as it goes.
struct switchable_receiver {
    std::atomic<int> status{200};
    test_server server{[this](test::test_connection& c) {
        while (c.read_request()) {
            auto code = status.load();
            std::string reason = code == 200 ? "OK" : code == 410 ? "Gone" : "Error";
            if (!c.write("HTTP/1.1 " + std::to_string(code) + " " + reason + "\r\nContent-Length: 0\r\n\r\n")) return;
        }
    }};
};

class endpoint_health : public test::daemon_test {
protected:
    void configure(config& cfg) override {
        cfg.delivery.allowed_cidrs = test::cidrs({"127.0.0.0/8"});
        cfg.delivery.timeout = 2s;
        cfg.retry.jitter = 0;
    }

    json admin(const std::string& method, const std::string& target, const json& body = nullptr, int expected = 200) {
        auto r =
            test::http_client(runner->admin_port())
                .request(method, target, body.is_null() ? "" : body.dump(), {{"Content-Type", "application/json"}});
        EXPECT_EQ(r.status, expected) << method << " " << target << ": " << r.body;
        return json::parse(r.body, nullptr, false);
    }
    std::string create(const json& body) { return admin("POST", "/v1/endpoints", body, 201)["id"]; }
    void ingest(int n, const std::string& type = "booking.created") {
        test::http_client producer(runner->ingest_port());
        for (int i = 0; i < n; ++i) {
            auto r = producer.post("/v1/events", json{{"event", type}, {"data", {{"n", i}}}}.dump());
            ASSERT_EQ(r.status, 202) << r.body;
        }
    }
    // The operational events the ops receiver got, by type, each checked for its signature.
    std::map<std::string, std::vector<json>> operational(const test_server& ops) {
        std::map<std::string, std::vector<json>> out;
        for (const auto& r : ops.requests()) {
            EXPECT_TRUE(standard_webhooks_valid(r, ops_secret)) << r.body;
            auto body = json::parse(r.body);
            EXPECT_EQ(body["event"].get<std::string>().rfind("webhookd.", 0), 0u) << r.body;
            out[body["event"]].push_back(body);
        }
        return out;
    }
    // Waits until the server has read `n` requests; then a moment more, to see any extra.
    static std::size_t wait_requests(const test_server& s, std::size_t n, std::chrono::milliseconds settle = 300ms) {
        auto deadline = std::chrono::steady_clock::now() + 15s;
        while (s.requests().size() < n && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(10ms);
        std::this_thread::sleep_for(settle);
        return s.requests().size();
    }
};

TEST_F(endpoint_health, a_410_disables_the_endpoint_at_once_and_its_pending_deliveries_become_dead_letters) {
    start([](config& cfg) {
        cfg.retry.schedule = {0ms, 10s};
        cfg.delivery.max_in_flight_per_endpoint = 1;
    });
    test_server ops(test_server::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
    test_server everything(test_server::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
    switchable_receiver gone;
    gone.status = 410;
    create({{"url", ops.url("/ops")}, {"events", {"webhookd.*"}}, {"secret", ops_secret}});
    create({{"url", everything.url("/all")}, {"events", {"*"}}});
    auto ep = create({{"url", gone.server.url("/gone")}, {"events", {"booking.*"}}});
    admin("POST", "/v1/endpoints/" + ep + "/pause");
    ingest(5);
    admin("POST", "/v1/endpoints/" + ep + "/resume");

    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM dead_letters WHERE endpoint_id = '" + ep + "'", 5), 5);
    EXPECT_EQ(wait_requests(gone.server, 1), 1u) << "one attempt, then nothing more to a receiver that is gone";
    EXPECT_EQ(count("SELECT COUNT(*) FROM dead_letters WHERE endpoint_id = '" + ep +
                    "' AND last_error LIKE 'endpoint_disabled%'"),
              5);
    auto view = admin("GET", "/v1/endpoints/" + ep);
    EXPECT_EQ(view["status"], "disabled");
    EXPECT_EQ(view["disabled_reason"], "gone");
    EXPECT_TRUE(view["disabled_at"].is_string());
    EXPECT_EQ(view["enabled"], false);

    // One disabled, one dead per dead letter, signed; the "*" receiver hears none of it.
    ASSERT_EQ(wait_requests(ops, 6), 6u);
    auto got = operational(ops);
    ASSERT_EQ(got["webhookd.endpoint.disabled"].size(), 1u);
    const auto& disabled = got["webhookd.endpoint.disabled"][0]["data"];
    EXPECT_EQ(disabled["endpoint_id"], ep);
    EXPECT_EQ(disabled["reason"], "gone");
    EXPECT_EQ(disabled["last_status"], 410);
    EXPECT_EQ(disabled["url"], gone.server.url("/gone"));
    std::set<std::string> dead_ids;
    for (const auto& e : got["webhookd.delivery.dead"]) {
        EXPECT_EQ(e["data"]["endpoint_id"], ep);
        EXPECT_EQ(e["data"]["reason"], "endpoint_disabled");
        EXPECT_EQ(e["data"]["event"], "booking.created");
        dead_ids.insert(e["data"]["delivery_id"]);
    }
    EXPECT_EQ(dead_ids.size(), 5u);
    for (const auto& id : dead_ids) admin("GET", "/v1/dead-letters/" + id);
    EXPECT_EQ(wait_requests(everything, 5, 0ms), 5u) << "only the five booking events";

    // Enabled again: a clean slate, and the bulk retry delivers everything.
    gone.status = 200;
    view = admin("PATCH", "/v1/endpoints/" + ep, {{"enabled", true}});
    EXPECT_EQ(view["status"], "active");
    EXPECT_TRUE(view["disabled_reason"].is_null());
    EXPECT_TRUE(view["failing_since"].is_null());
    EXPECT_EQ(view["consecutive_failures"], 0);
    EXPECT_EQ(admin("POST", "/v1/dead-letters/retry", {{"endpoint_id", ep}})["requeued"], 5);
    EXPECT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE endpoint_id = '" + ep + "' AND state = 'delivered'", 5),
              5);
    // Delivered replays are no news: nothing more for the platform.
    EXPECT_EQ(wait_requests(ops, 6, 200ms), 6u);
}

TEST_F(endpoint_health, sustained_failure_reports_failing_once_and_disables_after_disable_after_not_before) {
    start([](config& cfg) {
        cfg.endpoints.disable_after = 2s;
        cfg.endpoints.failing_after = 5;
        cfg.retry.schedule = std::vector<duration>(60, 100ms);
        cfg.retry.schedule.front() = 0ms;
    });
    test_server ops(test_server::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
    switchable_receiver failing, flaky;
    failing.status = 500;
    flaky.status = 500;
    create({{"url", ops.url("/ops")}, {"events", {"webhookd.endpoint.*"}}, {"secret", ops_secret}});
    auto bad = create({{"url", failing.server.url("/bad")}, {"events", {"a.b"}}});
    auto shaky = create({{"url", flaky.server.url("/flaky")}, {"events", {"c.d"}}});
    ingest(1, "a.b");
    ingest(1, "c.d");

    // The flaky receiver fails six times, then comes back: one failing, one recovered.
    ASSERT_GE(wait_requests(flaky.server, 6, 0ms), 6u);
    flaky.status = 200;
    EXPECT_EQ(
        wait_for("SELECT COUNT(*) FROM deliveries WHERE endpoint_id = '" + shaky + "' AND state = 'delivered'", 1), 1);

    // The other keeps failing: disabled by the first attempt 2 s or more into the streak.
    ASSERT_EQ(wait_for("SELECT enabled FROM endpoints WHERE id = '" + bad + "'", 0), 0);
    auto view = admin("GET", "/v1/endpoints/" + bad);
    EXPECT_EQ(view["disabled_reason"], "failing");
    auto since = count("SELECT failing_since FROM endpoints WHERE id = '" + bad + "'");
    auto at = count("SELECT disabled_at FROM endpoints WHERE id = '" + bad + "'");
    EXPECT_GE(at - since, 2000) << "not before disable_after";
    EXPECT_EQ(count("SELECT COUNT(*) FROM attempts WHERE endpoint_id = '" + bad +
                    "' AND started_at >= " + std::to_string(since + 2000)),
              1)
        << "the first attempt past disable_after disables";
    EXPECT_EQ(count("SELECT COUNT(*) FROM dead_letters WHERE endpoint_id = '" + bad + "'"), 1);

    wait_requests(ops, 4);
    auto got = operational(ops);
    std::map<std::string, int> failing_of, recovered_of, disabled_of;
    for (const auto& e : got["webhookd.endpoint.failing"]) {
        ++failing_of[e["data"]["endpoint_id"]];
        EXPECT_EQ(e["data"]["consecutive_failures"], 5) << e;
        EXPECT_EQ(e["data"]["last_status"], 500) << e;
    }
    for (const auto& e : got["webhookd.endpoint.recovered"]) ++recovered_of[e["data"]["endpoint_id"]];
    for (const auto& e : got["webhookd.endpoint.disabled"]) ++disabled_of[e["data"]["endpoint_id"]];
    EXPECT_EQ(failing_of[bad], 1);
    EXPECT_EQ(failing_of[shaky], 1);
    EXPECT_EQ(recovered_of[shaky], 1);
    EXPECT_EQ(recovered_of[bad], 0);
    EXPECT_EQ(disabled_of[bad], 1);
    EXPECT_EQ(disabled_of[shaky], 0);
    EXPECT_TRUE(got["webhookd.delivery.dead"].empty()) << "the ops endpoint did not ask for those";
    EXPECT_EQ(admin("GET", "/v1/endpoints/" + shaky)["status"], "active");
}

TEST_F(endpoint_health, producers_cannot_send_operational_types_and_health_fields_are_not_settable) {
    start();
    test::http_client producer(runner->ingest_port());
    auto r = producer.post("/v1/events", R"({"event":"webhookd.endpoint.disabled","data":{}})");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("invalid_field"), std::string::npos) << r.body;
    r = producer.post("/v1/events/batch", R"({"events":[{"event":"a.b","data":1},{"event":"webhookd.x","data":1}]})");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("events[1].event"), std::string::npos) << r.body;
    EXPECT_EQ(count("SELECT COUNT(*) FROM events"), 0);

    auto ep = create({{"url", "https://example.com/hook"}});
    for (const auto& [field, value] : std::vector<std::pair<std::string, json>>{{"status", "active"},
                                                                                {"disabled_reason", nullptr},
                                                                                {"consecutive_failures", 0},
                                                                                {"failing_since", nullptr},
                                                                                {"disabled_at", nullptr}}) {
        auto j = admin("PATCH", "/v1/endpoints/" + ep, {{field, value}}, 400);
        EXPECT_EQ(j["error"]["code"], "invalid_field") << j;
        EXPECT_NE(j["error"]["message"].get<std::string>().find(field), std::string::npos) << j;
    }
    for (const auto& body : std::vector<json>{{{"rate_limit", 0}},
                                              {{"rate_limit", 10001}},
                                              {{"rate_limit", 1.5}},
                                              {{"rate_limit", "10"}},
                                              {{"ordering", "lifo"}},
                                              {{"ordering", 1}},
                                              {{"ordering", "FIFO"}}}) {
        auto j = admin("PATCH", "/v1/endpoints/" + ep, body, 400);
        EXPECT_EQ(j["error"]["code"], "invalid_field") << body << j;
    }
    EXPECT_EQ(admin("PATCH", "/v1/endpoints/" + ep, {{"rate_limit", 20}})["rate_limit"], 20);
    EXPECT_EQ(admin("PATCH", "/v1/endpoints/" + ep, {{"ordering", "fifo"}})["ordering"], "fifo");
    auto ok =
        admin("PATCH", "/v1/endpoints/" + ep, {{"rate_limit", nullptr}, {"ordering", "unordered"}, {"enabled", false}});
    EXPECT_TRUE(ok["rate_limit"].is_null());
    EXPECT_EQ(ok["ordering"], "unordered");
    EXPECT_EQ(ok["status"], "disabled");
    EXPECT_EQ(ok["disabled_reason"], "manual");
}


TEST_F(endpoint_health, a_delivered_or_dead_delivery_is_sent_again_on_request_and_lists_filter_by_event_and_time) {
    start([](config& cfg) { cfg.retry.schedule = {0ms}; });
    switchable_receiver rx;
    auto ep = create({{"url", rx.server.url("/hook")}, {"events", {"*"}}});
    test::http_client producer(runner->ingest_port());
    ASSERT_EQ(producer.post("/v1/events", R"({"id":"evt_one","event":"a.b","data":1})").status, 202);
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 1), 1);
    auto page = admin("GET", "/v1/deliveries?event_id=evt_one");
    ASSERT_EQ(page["data"].size(), 1u);
    std::string id = page["data"][0]["id"];
    EXPECT_EQ(admin("GET", "/v1/deliveries?event_id=evt_other")["data"].size(), 0u);

    // Delivered: sent again, attempt 2, the same event id.
    EXPECT_EQ(admin("POST", "/v1/deliveries/" + id + "/retry")["status"], "pending");
    ASSERT_EQ(wait_requests(rx.server, 2, 0ms), 2u);
    EXPECT_EQ(rx.server.requests()[1].header("X-Webhook-Attempt"), "2");
    EXPECT_EQ(rx.server.requests()[1].header("X-Webhook-Id"), "evt_one");
    ASSERT_EQ(wait_for("SELECT attempts FROM deliveries WHERE state = 'delivered'", 2), 2);

    // Dead (one attempt, a 500): 409 while its endpoint is disabled, sent again once enabled.
    rx.status = 500;
    ASSERT_EQ(producer.post("/v1/events", R"({"id":"evt_two","event":"a.b","data":2})").status, 202);
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM dead_letters", 1), 1);
    std::string dead = admin("GET", "/v1/deliveries?event_id=evt_two&status=dead")["data"][0]["id"];
    admin("PATCH", "/v1/endpoints/" + ep, {{"enabled", false}});
    auto refused = admin("POST", "/v1/deliveries/" + dead + "/retry", nullptr, 409);
    EXPECT_EQ(refused["error"]["code"], "conflict");
    admin("PATCH", "/v1/endpoints/" + ep, {{"enabled", true}});
    rx.status = 200;
    admin("POST", "/v1/deliveries/" + dead + "/retry");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 2), 2);
    EXPECT_EQ(count("SELECT COUNT(*) FROM dead_letters"), 0);
    admin("POST", "/v1/deliveries/dlv_999999/retry", nullptr, 404);

    // A pending delivery is refused: it is being sent.
    admin("POST", "/v1/endpoints/" + ep + "/pause");
    ASSERT_EQ(producer.post("/v1/events", R"({"id":"evt_three","event":"a.b","data":3})").status, 202);
    std::string pending = admin("GET", "/v1/deliveries?event_id=evt_three")["data"][0]["id"];
    EXPECT_EQ(admin("POST", "/v1/deliveries/" + pending + "/retry", nullptr, 409)["error"]["code"], "conflict");

    // Events by time: since is inclusive, until exclusive.
    auto created = count("SELECT created_at FROM events WHERE id = 'evt_three'");
    auto events = [&](const std::string& q) {
        std::set<std::string> ids;
        auto page = admin("GET", "/v1/events?" + q);  // kept: the loop must not range over a temporary's member
        for (const auto& e : page["data"]) ids.insert(e["id"]);
        return ids;
    };
    EXPECT_EQ(events("since=" + std::to_string(created / 1000 + 1)), std::set<std::string>{});
    EXPECT_TRUE(events("since=" + std::to_string(created / 1000)).count("evt_three"));
    EXPECT_FALSE(events("until=" + std::to_string(created / 1000)).count("evt_three"));
    EXPECT_EQ(events("event=a.b").size(), 3u);
    admin("GET", "/v1/events?since=yesterday", nullptr, 400);
}


TEST_F(endpoint_health, a_rate_limit_caps_the_attempts_started_in_any_second_with_thousands_due) {
    start();
    std::mutex m;
    std::vector<std::chrono::steady_clock::time_point> seen;
    test_server rx([&](test::test_connection& c) {
        while (c.read_request()) {
            {
                std::lock_guard lock(m);
                seen.push_back(std::chrono::steady_clock::now());
            }
            if (!c.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")) return;
        }
    });
    auto ep = create({{"url", rx.url("/limited")}, {"events", {"*"}}, {"rate_limit", 20}});
    admin("POST", "/v1/endpoints/" + ep + "/pause");
    test::http_client producer(runner->ingest_port());
    for (int b = 0; b < 5; ++b) {
        json batch{{"events", json::array()}};
        for (int i = 0; i < 1000; ++i) batch["events"].push_back({{"event", "a.b"}, {"data", i}});
        ASSERT_EQ(producer.post("/v1/events/batch", batch.dump()).status, 202);
    }
    admin("POST", "/v1/endpoints/" + ep + "/resume");
    std::this_thread::sleep_for(3s);
    std::vector<std::chrono::steady_clock::time_point> times;
    {
        std::lock_guard lock(m);
        times = seen;
    }
    // A burst of 20, then 20 a second: at most 40 in any one-second window, and about 80
    // in 3 s (so not a limit so strict that nothing moves).
    std::size_t most = 0;
    for (std::size_t i = 0, j = 0; j < times.size(); ++j) {
        while (times[j] - times[i] >= 1s) ++i;
        most = std::max(most, j - i + 1);
    }
    EXPECT_LE(most, 40u);
    EXPECT_GE(times.size(), 60u);
    EXPECT_LE(times.size(), 90u);
    admin("DELETE", "/v1/endpoints/" + ep);  // thousands still pending: not waited for
}

TEST_F(endpoint_health, answers_429_and_503_halve_the_concurrency_and_each_success_adds_one_back) {
    start([](config& c) {
        c.delivery.max_in_flight_per_endpoint = 8;
        c.retry.schedule = std::vector<duration>(12, 5ms);
    });
    // The first 16 requests are answered 503 (or 429) at once. The 17th is held until the test
    // has read the gauge; from then on every request succeeds after 20 ms, and each records
    // how many were in flight when it arrived and how many had succeeded before it.
    std::mutex m;
    std::condition_variable cv;
    bool released = false;
    int requests = 0, in_flight = 0, succeeded = 0, most = 0;
    std::vector<std::pair<int, int>> arrivals;  // (in flight, succeeded before), from the 17th on
    test_server rx([&](test::test_connection& c) {
        while (c.read_request()) {
            std::unique_lock lock(m);
            int n = ++requests;
            if (n <= 16) {
                lock.unlock();
                auto code = n % 2 ? "503 Service Unavailable" : "429 Too Many Requests";
                if (!c.write(std::string("HTTP/1.1 ") + code + "\r\nContent-Length: 0\r\n\r\n")) return;
                continue;
            }
            ++in_flight;
            most = std::max(most, in_flight);
            arrivals.emplace_back(in_flight, succeeded);
            cv.wait(lock, [&] { return released; });
            lock.unlock();
            std::this_thread::sleep_for(20ms);
            lock.lock();
            --in_flight;
            ++succeeded;
            lock.unlock();
            if (!c.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")) return;
        }
    });
    auto ep = create({{"url", rx.url("/pressed")}, {"events", {"*"}}});
    auto series = "webhookd_endpoint_concurrency{endpoint=\"" + ep + "\"}";
    EXPECT_EQ(test::metric(test::http_client(runner->admin_port()).get("/metrics").body, series), 8);
    json batch{{"events", json::array()}};
    for (int i = 0; i < 60; ++i) batch["events"].push_back({{"event", "a.b"}, {"data", i}});
    ASSERT_EQ(test::http_client(runner->ingest_port()).post("/v1/events/batch", batch.dump()).status, 202);

    // 8 in flight at first; eight answers 429 or 503 take it to 1 (8, 4, 2, 1, 1, ...), so the
    // 17th request is alone and the gauge shows 1.
    auto deadline = std::chrono::steady_clock::now() + 15s;
    while (std::chrono::steady_clock::now() < deadline) {
        {
            std::lock_guard lock(m);
            if (requests >= 17) break;
        }
        std::this_thread::sleep_for(5ms);
    }
    std::this_thread::sleep_for(200ms);  // anything else that would start, starts
    {
        std::lock_guard lock(m);
        ASSERT_EQ(requests, 17);
        EXPECT_EQ(in_flight, 1);
    }
    EXPECT_EQ(test::metric(test::http_client(runner->admin_port()).get("/metrics").body, series), 1);
    {
        std::lock_guard lock(m);
        released = true;
    }
    cv.notify_all();

    // One more in flight with each success, never more, up to the cap of 8.
    EXPECT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 60), 60);
    std::lock_guard lock(m);
    for (std::size_t k = 0; k < arrivals.size(); ++k) {
        auto [seen, before] = arrivals[k];
        EXPECT_LE(seen, std::min(8, 1 + before)) << "request " << k + 17;
    }
    // Over PostgreSQL the cap counts leases, and an attempt's lease ends when its outcome
    // is stored, a moment after its answer: the receiver may see one fewer at the top.
    EXPECT_GE(most, test::on_postgres() ? 7 : 8);
    EXPECT_LE(most, 8);
    EXPECT_EQ(test::metric(test::wait_for_metric(runner->admin_port(), series, 8), series), 8);
}

TEST_F(endpoint_health, a_fifo_endpoint_gets_its_deliveries_one_at_a_time_in_ingest_order_while_others_keep_speed) {
    start([](config& c) { c.retry.schedule = std::vector<duration>(12, 1ms); });
    // The FIFO receiver fails a random 30% of requests; every request is recorded with the
    // event number it carries and whether it succeeded.
    std::mutex m;
    std::vector<std::pair<int, bool>> fifo_seen;
    int fifo_in_flight = 0, fifo_most = 0;
    std::mt19937 coin(20261204);
    test_server fifo_rx([&](test::test_connection& c) {
        while (auto req = c.read_request()) {
            bool ok;
            {
                std::lock_guard lock(m);
                fifo_most = std::max(fifo_most, ++fifo_in_flight);
                ok = std::uniform_int_distribution<int>(1, 10)(coin) > 3;
                fifo_seen.emplace_back(json::parse(req->body)["data"]["n"].get<int>(), ok);
            }
            std::this_thread::sleep_for(1ms);
            {
                std::lock_guard lock(m);
                --fifo_in_flight;
            }
            if (!c.write(ok ? "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
                            : "HTTP/1.1 500 Error\r\nContent-Length: 0\r\n\r\n")) {
                return;
            }
        }
    });
    // An unordered endpoint for the same events, whose receiver takes 20 ms an answer.
    std::atomic<int> fast_done{0}, fast_in_flight{0}, fast_most{0};
    std::atomic<std::size_t> fifo_when_fast_done{0};
    test_server fast_rx([&](test::test_connection& c) {
        while (c.read_request()) {
            int now = ++fast_in_flight;
            for (int was = fast_most; now > was && !fast_most.compare_exchange_weak(was, now);) {
            }
            std::this_thread::sleep_for(20ms);
            --fast_in_flight;
            if (!c.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")) return;
            if (++fast_done == 500) {
                std::lock_guard lock(m);
                fifo_when_fast_done = fifo_seen.size();
            }
        }
    });
    auto fifo = create({{"url", fifo_rx.url("/ordered")}, {"events", {"*"}}, {"ordering", "fifo"}});
    create({{"url", fast_rx.url("/fast")}, {"events", {"*"}}});
    test::http_client producer(runner->ingest_port());
    for (int b = 0; b < 5; ++b) {
        json batch{{"events", json::array()}};
        for (int i = 0; i < 100; ++i) batch["events"].push_back({{"event", "a.b"}, {"data", {{"n", 100 * b + i}}}});
        ASSERT_EQ(producer.post("/v1/events/batch", batch.dump()).status, 202);
    }
    EXPECT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 1000), 1000);
    EXPECT_EQ(count("SELECT COUNT(*) FROM dead_letters"), 0);

    std::lock_guard lock(m);
    EXPECT_EQ(fifo_most, 1);
    // Each request carries the event after the last success, or the same event again after
    // a failure: the head blocks the queue, and nothing is skipped or sent twice.
    int expected = 0;
    std::size_t failures = 0;
    for (std::size_t k = 0; k < fifo_seen.size(); ++k) {
        auto [n, ok] = fifo_seen[k];
        ASSERT_EQ(n, expected) << "request " << k;
        if (ok) {
            ++expected;
        } else {
            ++failures;
        }
    }
    EXPECT_EQ(expected, 500);
    EXPECT_GT(failures, 100u);  // a random 30% of some 700 requests failed
    // The unordered endpoint kept its concurrency and was done long before the FIFO one.
    EXPECT_GE(fast_most.load(), 16);
    EXPECT_LT(fifo_when_fast_done.load(), fifo_seen.size() / 2);
    auto view = admin("GET", "/v1/endpoints/" + fifo);
    EXPECT_EQ(view["ordering"], "fifo");
}

}  // namespace
}  // namespace webhookd
