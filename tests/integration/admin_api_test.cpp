// The admin API against a running daemon: endpoints, secrets, test events, the delivery
// log, dead letters, pagination, auth and errors (docs/api.md).

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "delivery/signer.hpp"
#include "support/daemon_fixture.hpp"
#include "support/http_client.hpp"
#include "support/test_server.hpp"

namespace webhookd {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using test::test_server;

std::string ok_response() { return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"; }
std::string status_response(int code) {
    return "HTTP/1.1 " + std::to_string(code) + " X\r\nContent-Length: 4\r\n\r\nnope";
}

// Answers 500 until told to answer 200.
struct switchable_receiver {
    std::shared_ptr<std::atomic<bool>> healthy = std::make_shared<std::atomic<bool>>(false);
    test_server server{[h = healthy](test::test_connection& c) {
        while (c.read_request()) {
            if (!c.write(h->load() ? ok_response() : status_response(500))) return;
        }
    }};
};

class admin_api : public test::daemon_test {
protected:
    void configure(config& cfg) override {
        cfg.delivery.allowed_cidrs = test::cidrs({"127.0.0.0/8"});
        cfg.delivery.timeout = 2s;
        cfg.retry.schedule = {0ms};
        cfg.retry.jitter = 0;
    }

    test::http_result call(const std::string& method, const std::string& target, const std::string& body = "",
                           std::map<std::string, std::string> headers = {{"Content-Type", "application/json"}}) {
        return test::http_client(runner->admin_port()).request(method, target, body, headers);
    }
    json ok(const std::string& method, const std::string& target, const std::string& body = "", int expected = 200) {
        auto r = call(method, target, body);
        EXPECT_EQ(r.status, expected) << method << " " << target << ": " << r.body;
        return json::parse(r.body, nullptr, false);
    }
    // Expects an error response and returns its message.
    std::string fails(int status, const std::string& code, const std::string& method, const std::string& target,
                      const std::string& body = "") {
        auto r = call(method, target, body);
        EXPECT_EQ(r.status, status) << method << " " << target << ": " << r.body;
        auto j = json::parse(r.body, nullptr, false);
        EXPECT_EQ(j["error"]["code"], code) << r.body;
        return j["error"]["message"].is_string() ? j["error"]["message"].get<std::string>() : "";
    }
    json create_endpoint(const json& body) { return ok("POST", "/v1/endpoints", body.dump(), 201); }
    std::string ingest(const std::string& type, int data = 1) {
        auto r = test::http_client(runner->ingest_port())
                     .post("/v1/events", json{{"event", type}, {"data", data}}.dump());
        EXPECT_EQ(r.status, 202) << r.body;
        return json::parse(r.body)["id"];
    }
};

TEST_F(admin_api, the_endpoint_lifecycle_create_read_patch_pause_delete) {
    start();
    auto created = create_endpoint({{"url", "https://127.0.0.1:9/hooks"},
                                    {"events", {"booking.*"}},
                                    {"description", "Front desk"},
                                    {"headers", {{"X-Tenant", "acme"}}},
                                    {"signature", {{"format", "stripe"}, {"header", "Stripe-Signature"}}}});
    std::string id = created["id"];
    std::string secret = created["secret"];
    EXPECT_TRUE(id.starts_with("ep_")) << id;
    EXPECT_TRUE(is_valid_secret(secret)) << secret;
    EXPECT_EQ(created["signature"]["format"], "stripe");
    EXPECT_EQ(created["events"], json({"booking.*"}));

    // The secret is shown in full once; every read shows it masked.
    auto read = ok("GET", "/v1/endpoints/" + id);
    EXPECT_EQ(read["secret"], mask_secret(secret));
    EXPECT_EQ(read["secret"].get<std::string>().find(secret.substr(10)), std::string::npos);
    EXPECT_EQ(read["description"], "Front desk");
    EXPECT_EQ(read["headers"]["X-Tenant"], "acme");
    auto list = ok("GET", "/v1/endpoints");
    ASSERT_EQ(list["data"].size(), 1u);
    EXPECT_EQ(list["data"][0]["secret"], mask_secret(secret));

    auto patched = ok("PATCH", "/v1/endpoints/" + id,
                      json{{"description", "Back office"}, {"events", {"payment.failed"}}, {"enabled", false}}.dump());
    EXPECT_EQ(patched["description"], "Back office");
    EXPECT_EQ(patched["events"], json({"payment.failed"}));
    EXPECT_EQ(patched["enabled"], false);
    EXPECT_EQ(patched["signature"]["format"], "stripe");  // untouched fields stay
    EXPECT_NE(fails(400, "invalid_field", "PATCH", "/v1/endpoints/" + id, R"({"colour":"red"})").find("colour"),
              std::string::npos);

    // A disabled endpoint gets no new deliveries.
    ingest("payment.failed");
    EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries"), 0);
    ok("PATCH", "/v1/endpoints/" + id, R"({"enabled": true})");

    // Paused: deliveries are created and wait.
    auto paused = ok("POST", "/v1/endpoints/" + id + "/pause");
    EXPECT_EQ(paused["paused"], true);
    EXPECT_TRUE(paused["paused_at"].is_string());
    for (int i = 0; i < 3; ++i) ingest("payment.failed", i);
    EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'"), 3);
    EXPECT_EQ(count("SELECT COUNT(*) FROM attempts"), 0);

    // Deleting stops its pending deliveries and says how many.
    auto deleted = ok("DELETE", "/v1/endpoints/" + id);
    EXPECT_EQ(deleted["deleted"], true);
    EXPECT_EQ(deleted["cancelled_deliveries"], 3);
    EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries"), 0);
    fails(404, "not_found", "GET", "/v1/endpoints/" + id);
    fails(404, "not_found", "DELETE", "/v1/endpoints/" + id);
    EXPECT_EQ(ok("GET", "/v1/endpoints")["data"].size(), 0u);
}

TEST_F(admin_api, registration_refuses_blocked_addresses_and_names_the_config_key) {
    start([](config& c) { c.delivery.allowed_cidrs = {}; });
    for (std::string url : {"http://127.0.0.1:8080/", "http://169.254.169.254/latest", "http://[::ffff:127.0.0.1]/",
                            "http://0x7f000001/", "http://10.1.2.3/", "http://localhost:9/"}) {
        auto message = fails(400, "invalid_field", "POST", "/v1/endpoints", json{{"url", url}}.dump());
        EXPECT_NE(message.find("delivery.allowed_cidrs"), std::string::npos) << url << ": " << message;
    }
    auto message = fails(400, "invalid_field", "POST", "/v1/endpoints", R"({"url":"http://169.254.169.254/"})");
    EXPECT_NE(message.find("169.254.169.254"), std::string::npos) << message;
    for (std::string url : {"ftp://example.com/", "http://user:pw@example.com/", "example.com/hook", "http://256.1.1.1/"}) {
        fails(400, "invalid_field", "POST", "/v1/endpoints", json{{"url", url}}.dump());
    }
    fails(400, "invalid_field", "POST", "/v1/endpoints", R"({"events":["a"]})");  // url is required
    EXPECT_EQ(count("SELECT COUNT(*) FROM endpoints"), 0);
    // A public address needs no DNS and is accepted.
    create_endpoint({{"url", "https://93.184.215.14/hook"}});
}

TEST_F(admin_api, custom_headers_and_signature_settings_are_validated) {
    start();
    for (const auto& headers : {json{{"Connection", "close"}}, json{{"X-Webhook-Signature", "forged"}},
                                json{{"webhook-id", "x"}}, json{{"Host", "evil"}}, json{{"X-A", "a\r\nX-B: b"}},
                                json{{"X-A", 1}}, json{{"Bad Name", "x"}}}) {
        fails(400, "invalid_field", "POST", "/v1/endpoints",
              json{{"url", "http://127.0.0.1:9/"}, {"headers", headers}}.dump());
    }
    fails(400, "invalid_field", "POST", "/v1/endpoints",
          R"({"url":"http://127.0.0.1:9/","signature":{"format":"md5"}})");
    fails(400, "invalid_field", "POST", "/v1/endpoints",
          R"({"url":"http://127.0.0.1:9/","signature":{"header":"Content-Length"}})");
    fails(400, "invalid_field", "POST", "/v1/endpoints", R"({"url":"http://127.0.0.1:9/","secret":"whsec_short"})");
    fails(400, "invalid_field", "POST", "/v1/endpoints", R"({"url":"http://127.0.0.1:9/","events":["a*b"]})");
    fails(400, "invalid_field", "POST", "/v1/endpoints", R"({"url":"http://127.0.0.1:9/","body":"xml"})");
    auto given = create_endpoint({{"url", "http://127.0.0.1:9/"}, {"secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}});
    EXPECT_EQ(given["secret"], "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    EXPECT_NE(fails(400, "invalid_field", "PATCH", "/v1/endpoints/" + given["id"].get<std::string>(),
                    R"({"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})")
                  .find("rotate-secret"),
              std::string::npos);
}

// Checks a Standard Webhooks signature list the way a receiver does: which of `secrets`
// signed this request.
std::vector<std::string> signers(const test::recorded_request& r, const std::vector<std::string>& secrets) {
    std::vector<std::string> out;
    auto id = r.header("webhook-id");
    auto ts = std::stoll(r.header("webhook-timestamp"));
    std::istringstream sigs(r.header("webhook-signature"));
    std::string sig;
    while (sigs >> sig) {
        for (const auto& s : secrets) {
            if (constant_time_equal(sig, standard_webhooks_signature(*standard_webhooks_key(s), id, ts, r.body))) {
                out.push_back(s);
            }
        }
    }
    return out;
}

TEST_F(admin_api, a_rotated_secret_signs_with_both_during_grace_and_alone_after) {
    test_server receiver(test_server::respond(ok_response()));
    start();
    auto ep = create_endpoint({{"url", receiver.url()}});
    std::string id = ep["id"];
    std::string old_secret = ep["secret"];

    auto rotated = ok("POST", "/v1/endpoints/" + id + "/rotate-secret", R"({"grace_period":"1h"})");
    std::string new_secret = rotated["secret"];
    ASSERT_TRUE(is_valid_secret(new_secret));
    EXPECT_NE(new_secret, old_secret);
    EXPECT_TRUE(rotated["previous_secrets_expire_at"].is_string());
    auto read = ok("GET", "/v1/endpoints/" + id);
    EXPECT_EQ(read["secret"], mask_secret(new_secret));
    ASSERT_EQ(read["previous_secrets"].size(), 1u);
    EXPECT_EQ(read["previous_secrets"][0]["secret"], mask_secret(old_secret));

    ingest("a.b");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 1), 1);
    auto during = receiver.requests().at(0);
    EXPECT_EQ(signers(during, {old_secret, new_secret}), (std::vector<std::string>{new_secret, old_secret}));
    EXPECT_EQ(during.header("X-Webhook-Signature"), to_hex(hmac_sha256(new_secret, during.body)));

    // Ending the grace period at once: only the newest secret signs.
    ok("POST", "/v1/endpoints/" + id + "/rotate-secret", R"({"grace_period":"0s","secret":")" + new_secret.substr(0, 6) +
                                                               std::string(32, 'A') + R"("})");
    ingest("a.b");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 2), 2);
    auto after = receiver.requests().at(1);
    auto newest = "whsec_" + std::string(32, 'A');
    EXPECT_EQ(signers(after, {old_secret, new_secret, newest}), std::vector<std::string>{newest});
    EXPECT_EQ(ok("GET", "/v1/endpoints/" + id)["previous_secrets"].size(), 0u);

    fails(400, "invalid_field", "POST", "/v1/endpoints/" + id + "/rotate-secret", R"({"grace_period":"8d"})");
    fails(400, "invalid_field", "POST", "/v1/endpoints/" + id + "/rotate-secret", R"({"grace":"1h"})");
    fails(404, "not_found", "POST", "/v1/endpoints/ep_nope/rotate-secret");
}

TEST_F(admin_api, the_old_secret_stops_signing_when_its_grace_period_ends_with_no_other_write) {
    test_server receiver(test_server::respond(ok_response()));
    start();
    auto ep = create_endpoint({{"url", receiver.url()}});
    std::string id = ep["id"];
    std::string old_secret = ep["secret"];
    std::string new_secret = ok("POST", "/v1/endpoints/" + id + "/rotate-secret", R"({"grace_period":"1s"})")["secret"];
    ingest("a.b");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 1), 1);
    EXPECT_EQ(signers(receiver.requests().at(0), {old_secret, new_secret}),
              (std::vector<std::string>{new_secret, old_secret}));
    // Nothing is written when the grace period ends: the dispatcher drops the old secret
    // from the endpoint it holds by itself.
    std::this_thread::sleep_for(1100ms);
    ingest("a.b");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 2), 2);
    EXPECT_EQ(signers(receiver.requests().at(1), {old_secret, new_secret}), std::vector<std::string>{new_secret});
}

TEST_F(admin_api, at_most_ten_previous_secrets_are_kept) {
    start();
    std::string id = create_endpoint({{"url", "http://127.0.0.1:9/"}})["id"];
    for (int i = 0; i < 12; ++i) ok("POST", "/v1/endpoints/" + id + "/rotate-secret");
    EXPECT_EQ(ok("GET", "/v1/endpoints/" + id)["previous_secrets"].size(), 10u);
    EXPECT_EQ(count("SELECT COUNT(*) FROM endpoint_secrets"), 11);
}

TEST_F(admin_api, a_test_event_is_sent_now_logged_and_never_retried) {
    test_server good(test_server::respond(ok_response()));
    test_server bad(test_server::respond(status_response(500)));
    start([](config& c) { c.retry.schedule = {0ms, 10ms, 10ms}; });
    std::string good_id = create_endpoint({{"url", good.url()}})["id"];
    std::string bad_id = create_endpoint({{"url", bad.url()}})["id"];

    auto r = ok("POST", "/v1/endpoints/" + good_id + "/test", R"({"event":"booking.created","data":{"id":"bkg_1"}})");
    EXPECT_EQ(r["success"], true);
    EXPECT_EQ(r["status_code"], 200);
    EXPECT_EQ(r["outcome"], "success");
    EXPECT_GE(r["latency_ms"].get<double>(), 0.0);
    EXPECT_TRUE(r["error"].is_null());
    EXPECT_EQ(r["response"], "ok");
    ASSERT_EQ(good.requests().size(), 1u);
    auto sent = good.requests()[0];
    EXPECT_EQ(json::parse(sent.body)["data"], json({{"id", "bkg_1"}}));
    EXPECT_EQ(sent.header("X-Webhook-Event"), "booking.created");
    EXPECT_FALSE(sent.header("webhook-signature").empty());

    auto failed = ok("POST", "/v1/endpoints/" + bad_id + "/test", "");
    EXPECT_EQ(failed["success"], false);
    EXPECT_EQ(failed["status_code"], 500);
    EXPECT_EQ(failed["outcome"], "http_error");
    EXPECT_EQ(failed["response"], "nope");
    ASSERT_EQ(bad.requests().size(), 1u);
    EXPECT_EQ(json::parse(bad.requests()[0].body)["data"], json({{"test", true}}));

    // In the endpoint's attempt log, as a test; no delivery, so nothing retries it.
    auto log = ok("GET", "/v1/endpoints/" + bad_id + "/attempts");
    ASSERT_EQ(log["data"].size(), 1u);
    EXPECT_EQ(log["data"][0]["test"], true);
    EXPECT_EQ(log["data"][0]["status_code"], 500);
    EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries"), 0);
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(bad.requests().size(), 1u);
    fails(404, "not_found", "POST", "/v1/endpoints/ep_nope/test");
    fails(400, "invalid_field", "POST", "/v1/endpoints/" + good_id + "/test", R"({"event":"no spaces"})");

    // Test sends have counters of their own; the delivery attempt counters all agree on none.
    auto m = test::http_client(runner->admin_port()).get("/metrics").body;
    EXPECT_EQ(test::metric(m, R"(webhookd_test_sends_total{outcome="success"})"), 1) << m;
    EXPECT_EQ(test::metric(m, R"(webhookd_test_sends_total{outcome="http_error"})"), 1);
    EXPECT_EQ(test::metric(m, R"(webhookd_attempts_total{outcome="success"})"), 0);
    EXPECT_EQ(test::metric(m, R"(webhookd_attempts_total{outcome="http_error"})"), 0);
    EXPECT_EQ(test::metric(m, "webhookd_attempt_duration_seconds_count"), 0);
}

TEST_F(admin_api, a_binary_response_snippet_does_not_break_the_answer) {
    test_server binary(test_server::respond(std::string("HTTP/1.1 500 X\r\nContent-Length: 4\r\n\r\n\xff\xfe\x00\x01", 41)));
    start();
    std::string id = create_endpoint({{"url", binary.url()}})["id"];
    auto r = ok("POST", "/v1/endpoints/" + id + "/test");
    EXPECT_EQ(r["status_code"], 500);
    EXPECT_EQ(r["response"].get<std::string>().size(), 8u);  // two U+FFFD, NUL, U+0001
    EXPECT_EQ(ok("GET", "/v1/endpoints/" + id + "/attempts")["data"].size(), 1u);
}

TEST_F(admin_api, lists_page_newest_first_and_stay_stable_under_concurrent_inserts) {
    start();
    std::string a = create_endpoint({{"url", "http://127.0.0.1:9/a"}})["id"];
    std::string b = create_endpoint({{"url", "http://127.0.0.1:9/b"}, {"events", {"payment.*"}}})["id"];
    ok("POST", "/v1/endpoints/" + a + "/pause");
    ok("POST", "/v1/endpoints/" + b + "/pause");
    for (int i = 0; i < 7; ++i) ingest("booking.created", i);   // a only
    for (int i = 0; i < 3; ++i) ingest("payment.failed", i);    // a and b
    ASSERT_EQ(count("SELECT COUNT(*) FROM deliveries"), 13);

    std::vector<std::string> seen;
    std::string cursor;
    int pages = 0;
    do {
        auto page = ok("GET", "/v1/deliveries?limit=4" + (cursor.empty() ? "" : "&cursor=" + cursor));
        for (const auto& d : page["data"]) seen.push_back(d["id"]);
        cursor = page["next_cursor"].is_null() ? "" : page["next_cursor"].get<std::string>();
        if (pages++ == 0) ingest("payment.failed", 99);  // newer rows: never in the pages that follow
    } while (!cursor.empty() && pages < 10);
    EXPECT_EQ(pages, 4);
    ASSERT_EQ(seen.size(), 13u);
    std::set<std::string> unique(seen.begin(), seen.end());
    EXPECT_EQ(unique.size(), 13u);
    for (std::size_t i = 1; i < seen.size(); ++i) {
        EXPECT_GT(std::stoll(seen[i - 1].substr(4)), std::stoll(seen[i].substr(4)));
    }

    EXPECT_EQ(ok("GET", "/v1/deliveries?endpoint_id=" + b + "&limit=1000")["data"].size(), 4u);
    EXPECT_EQ(ok("GET", "/v1/deliveries?event=booking.created")["data"].size(), 7u);
    EXPECT_EQ(ok("GET", "/v1/deliveries?event=payment.*&endpoint_id=" + a)["data"].size(), 4u);
    EXPECT_EQ(ok("GET", "/v1/deliveries?status=pending")["data"].size(), 15u);
    EXPECT_EQ(ok("GET", "/v1/deliveries?status=delivered")["data"].size(), 0u);
    EXPECT_EQ(ok("GET", "/v1/deliveries?since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z")["data"].size(), 15u);
    EXPECT_EQ(ok("GET", "/v1/deliveries?until=2000-01-01T00:00:00Z")["data"].size(), 0u);
    auto endpoints = ok("GET", "/v1/endpoints?limit=1");
    ASSERT_EQ(endpoints["data"].size(), 1u);
    EXPECT_EQ(endpoints["data"][0]["id"], b);  // newest first
    auto second = ok("GET", "/v1/endpoints?limit=1&cursor=" + endpoints["next_cursor"].get<std::string>());
    EXPECT_EQ(second["data"][0]["id"], a);
    EXPECT_TRUE(second["next_cursor"].is_null());

    // An event with its deliveries.
    auto event_id = ingest("payment.failed", 7);
    auto event = ok("GET", "/v1/events/" + event_id);
    EXPECT_EQ(event["event"], "payment.failed");
    EXPECT_EQ(event["data"], 7);
    EXPECT_EQ(event["deliveries"].size(), 2u);
    EXPECT_EQ(event["deliveries"][0]["status"], "pending");
    fails(404, "not_found", "GET", "/v1/events/evt_nope");

    fails(400, "invalid_field", "GET", "/v1/deliveries?limit=0");
    fails(400, "invalid_field", "GET", "/v1/deliveries?limit=1001");
    fails(400, "invalid_field", "GET", "/v1/deliveries?cursor=garbage");
    fails(400, "invalid_field", "GET", "/v1/deliveries?status=lost");
    fails(400, "invalid_field", "GET", "/v1/deliveries?since=yesterday");
    EXPECT_NE(fails(400, "invalid_field", "GET", "/v1/deliveries?colour=red").find("colour"), std::string::npos);
}

TEST_F(admin_api, dead_letters_are_listed_retried_one_and_in_bulk_and_deleted) {
    switchable_receiver receiver;
    start();
    std::string id = create_endpoint({{"url", receiver.server.url()}})["id"];
    std::string other = create_endpoint({{"url", receiver.server.url("/other")}})["id"];
    ok("POST", "/v1/endpoints/" + other + "/pause");
    for (int i = 0; i < 5; ++i) ingest("booking.created", i);
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM dead_letters", 5), 5);

    auto list = ok("GET", "/v1/dead-letters?endpoint_id=" + id + "&limit=2");
    ASSERT_EQ(list["data"].size(), 2u);
    EXPECT_FALSE(list["next_cursor"].is_null());
    auto rest = ok("GET", "/v1/dead-letters?endpoint_id=" + id + "&cursor=" + list["next_cursor"].get<std::string>());
    EXPECT_EQ(rest["data"].size(), 3u);
    EXPECT_TRUE(rest["next_cursor"].is_null());
    EXPECT_EQ(ok("GET", "/v1/dead-letters?event=payment.*")["data"].size(), 0u);
    EXPECT_EQ(ok("GET", "/v1/deliveries?status=dead")["data"].size(), 5u);

    std::string first = list["data"][0]["id"];
    auto detail = ok("GET", "/v1/dead-letters/" + first);
    EXPECT_EQ(detail["status"], "dead");
    EXPECT_EQ(detail["last_status"], 500);
    EXPECT_EQ(detail["last_response"], "nope");
    ASSERT_EQ(detail["attempts"].size(), 1u);
    EXPECT_EQ(detail["attempts"][0]["status_code"], 500);
    EXPECT_EQ(detail["attempts"][0]["outcome"], "http_error");
    EXPECT_EQ(ok("GET", "/v1/deliveries/" + first)["attempts"].size(), 1u);

    // Retry one: back to the outbox with a fresh ladder, and delivered.
    receiver.healthy->store(true);
    auto retried = ok("POST", "/v1/dead-letters/" + first + "/retry");
    EXPECT_EQ(retried["status"], "pending");
    EXPECT_EQ(count("SELECT COUNT(*) FROM dead_letters"), 4);
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 1), 1);
    auto redelivered = ok("GET", "/v1/deliveries/" + first);
    EXPECT_EQ(redelivered["status"], "delivered");
    ASSERT_EQ(redelivered["attempts"].size(), 2u);
    EXPECT_EQ(redelivered["attempts"][1]["attempt"], 2);
    EXPECT_EQ(receiver.server.requests().back().header("X-Webhook-Attempt"), "2");
    fails(404, "not_found", "GET", "/v1/dead-letters/" + first);
    fails(404, "not_found", "POST", "/v1/dead-letters/" + first + "/retry");

    // Bulk: a dry run counts and moves nothing; the real one requeues them all.
    auto dry = ok("POST", "/v1/dead-letters/retry", json{{"endpoint_id", id}, {"dry_run", true}}.dump());
    EXPECT_EQ(dry["matched"], 4);
    EXPECT_EQ(dry["requeued"], 0);
    EXPECT_EQ(count("SELECT COUNT(*) FROM dead_letters"), 4);
    EXPECT_EQ(ok("POST", "/v1/dead-letters/retry", json{{"endpoint_id", other}}.dump())["requeued"], 0);
    auto bulk = ok("POST", "/v1/dead-letters/retry", json{{"endpoint_id", id}, {"since", "2000-01-01T00:00:00Z"}}.dump());
    EXPECT_EQ(bulk["requeued"], 4);
    EXPECT_EQ(count("SELECT COUNT(*) FROM dead_letters"), 0);
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 5), 5);
    fails(400, "invalid_field", "POST", "/v1/dead-letters/retry", R"({"endpoint":"x"})");

    // Delete one; and a dead letter whose endpoint is gone cannot be retried.
    receiver.healthy->store(false);
    ingest("booking.created", 42);
    ingest("booking.created", 43);
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM dead_letters", 2), 2);
    auto dead = ok("GET", "/v1/dead-letters");
    std::string doomed = dead["data"][0]["id"];
    std::string orphan = dead["data"][1]["id"];
    EXPECT_EQ(ok("DELETE", "/v1/dead-letters/" + doomed)["deleted"], true);
    fails(404, "not_found", "DELETE", "/v1/dead-letters/" + doomed);
    ok("DELETE", "/v1/endpoints/" + id);
    fails(409, "conflict", "POST", "/v1/dead-letters/" + orphan + "/retry");
    auto skipped = ok("POST", "/v1/dead-letters/retry", "{}");
    EXPECT_EQ(skipped["requeued"], 0);
    EXPECT_EQ(skipped["skipped"], 1);
    auto metrics = test::http_client(runner->admin_port()).get("/metrics").body;
    EXPECT_NE(metrics.find("webhookd_dead_letters 1\n"), std::string::npos) << metrics;
}

TEST_F(admin_api, resume_delivers_what_waited_during_the_pause) {
    test_server receiver(test_server::respond(ok_response()));
    start();
    std::string id = create_endpoint({{"url", receiver.url()}})["id"];
    ok("POST", "/v1/endpoints/" + id + "/pause");
    ingest("a.b");
    ingest("a.b");
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(receiver.requests().size(), 0u);
    // The views count what waits.
    EXPECT_EQ(ok("GET", "/v1/endpoints/" + id)["deliveries_pending"], 2);
    EXPECT_EQ(ok("GET", "/v1/endpoints")["data"][0]["deliveries_pending"], 2);
    EXPECT_EQ(ok("POST", "/v1/endpoints/" + id + "/resume")["paused"], false);
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 2), 2);
    EXPECT_EQ(receiver.requests().size(), 2u);
    EXPECT_EQ(ok("GET", "/v1/endpoints/" + id)["deliveries_pending"], 0);
}

TEST_F(admin_api, resume_gives_each_delivery_the_wait_it_had_left) {
    start();
    // Disabled too, so the dispatcher leaves the rows alone while the test reads them.
    std::string id = create_endpoint({{"url", "http://127.0.0.1:9/"}, {"enabled", false}})["id"];
    ok("POST", "/v1/endpoints/" + id + "/pause");
    auto paused_at = count("SELECT paused_at FROM endpoints");
    {
        // Before the pause: one retry due 10 min after it, one overdue since 1 min before it.
        auto p = std::to_string(paused_at);
        // SQLite keys pending deliveries by their endpoint's seq as well (migration 0011).
        auto seq = test::on_postgres() ? std::string() : ", (SELECT seq FROM endpoints WHERE id = '" + id + "')";
        auto delivery = [&](const std::string& due, const std::string& last) {
            return "INSERT INTO deliveries (event_seq, endpoint_id, attempts, next_attempt_at, created_at, "
                   "last_attempt_at" + std::string(seq.empty() ? "" : ", endpoint_seq") + ") SELECT seq, '" + id +
                   "', 1, " + due + ", 0, " + last + seq + " FROM events";
        };
        test::exec(db(), "INSERT INTO events (id, type, timestamp, body, data_offset, created_at) VALUES ('e', 't', "
                         "'ts', '{\"data\":1}', 8, 0); " +
                             delivery(p + " + 600000", p + " - 1000") + "; " + delivery(p + " - 60000", p + " - 120000"));
    }
    std::this_thread::sleep_for(50ms);
    ok("POST", "/v1/endpoints/" + id + "/resume");
    auto resumed_at = count("SELECT updated_at FROM endpoints");
    EXPECT_EQ(count("SELECT next_attempt_at FROM deliveries WHERE last_attempt_at = " + std::to_string(paused_at - 1000)),
              resumed_at + 600000);
    EXPECT_EQ(count("SELECT next_attempt_at FROM deliveries WHERE last_attempt_at = " +
                    std::to_string(paused_at - 120000)),
              paused_at - 60000);
}

TEST_F(admin_api, tokens_guard_every_admin_route) {
    start([](config& c) { c.admin.tokens = {"s3cret-admin"}; });
    for (auto target : {"/v1/endpoints", "/v1/dead-letters", "/v1/nothing-here"}) {
        EXPECT_EQ(call("GET", target, "", {}).status, 401) << target;
        EXPECT_EQ(call("GET", target, "", {{"Authorization", "Bearer wrong"}}).status, 401) << target;
    }
    EXPECT_EQ(call("GET", "/v1/endpoints", "", {{"Authorization", "Bearer s3cret-admin"}}).status, 200);
    EXPECT_EQ(call("GET", "/healthz", "", {}).status, 200);  // probes stay open
}

TEST_F(admin_api, errors_have_stable_codes) {
    start();
    fails(400, "invalid_json", "POST", "/v1/endpoints", "{not json");
    fails(400, "invalid_json", "POST", "/v1/endpoints", "[1]");
    fails(404, "not_found", "GET", "/v1/endpoints/ep_missing");
    fails(404, "not_found", "PATCH", "/v1/endpoints/ep_missing", R"({"description":"x"})");
    fails(404, "not_found", "POST", "/v1/endpoints/ep_missing/pause");
    fails(404, "not_found", "GET", "/v1/deliveries/dlv_999");
    fails(404, "not_found", "GET", "/v1/deliveries/not-a-delivery");
    fails(404, "not_found", "GET", "/v1/nothing-here");
    fails(405, "method_not_allowed", "PUT", "/v1/endpoints");
    auto r = call("POST", "/v1/endpoints", R"({"url":"http://127.0.0.1:9/"})", {{"Content-Type", "text/plain"}});
    EXPECT_EQ(r.status, 415) << r.body;
}

// Every route the server registers is described in docs/openapi.yaml.
TEST_F(admin_api, every_route_is_in_the_openapi_document) {
    start();
    std::ifstream in(std::string(WEBHOOKD_SOURCE_DIR) + "/docs/openapi.yaml");
    ASSERT_TRUE(in) << "docs/openapi.yaml is missing";
    std::set<std::string> documented;
    std::string line, path;
    const std::regex path_line(R"(^  (/[^:\s]*):\s*$)");
    const std::regex method_line(R"(^    (get|post|put|patch|delete):\s*$)");
    std::smatch m;
    while (std::getline(in, line)) {
        if (std::regex_match(line, m, path_line)) {
            path = m[1];
        } else if (!path.empty() && std::regex_match(line, m, method_line)) {
            std::string method = m[1];
            std::transform(method.begin(), method.end(), method.begin(), ::toupper);
            documented.insert(method + " " + path);
        } else if (!line.empty() && line[0] != ' ' && line[0] != '#') {
            path.clear();  // left the paths section
        }
    }
    auto routes = runner->routes();
    EXPECT_GE(routes.size(), 20u);
    for (auto r : routes) {
        // A tree ("/console/*") is a path parameter there: "/console/{path}".
        if (r.ends_with("/*")) r.replace(r.size() - 1, 1, "{path}");
        EXPECT_TRUE(documented.count(r)) << r << " is not in docs/openapi.yaml";
    }
}

}  // namespace
}  // namespace webhookd
