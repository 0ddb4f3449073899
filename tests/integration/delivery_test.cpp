// Delivery end to end: a real daemon, real SQLite file, real receivers on loopback.
// Schedules are in milliseconds so the whole ladder runs in a test.

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <nlohmann/json.hpp>

#include "delivery/signer.hpp"
#include "support/daemon_fixture.hpp"
#include "support/http_client.hpp"
#include "support/test_server.hpp"

namespace webhookd {
namespace {

using namespace std::chrono_literals;
using test::test_server;

constexpr const char* secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

std::string ok_response() { return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"; }
std::string status_response(int code) {
    return "HTTP/1.1 " + std::to_string(code) + " X\r\nContent-Length: 4\r\n\r\nnope";
}

class delivery : public test::daemon_test {
protected:
    void configure(config& cfg) override {
        cfg.delivery.allowed_cidrs = test::cidrs({"127.0.0.0/8"});
        cfg.delivery.timeout = 2s;
        cfg.retry.schedule = {0ms, 20ms, 20ms};
        cfg.retry.jitter = 0;
    }
    std::string ingest(const std::string& body) {
        auto r = test::http_client(runner->ingest_port()).post("/v1/events", body);
        EXPECT_EQ(r.status, 202) << r.body;
        return nlohmann::json::parse(r.body)["id"];
    }
};

TEST_F(delivery, a_signed_envelope_reaches_the_endpoint_byte_for_byte) {
    test_server receiver(test_server::respond(ok_response()));
    start();
    test::add_endpoint(db(), {.id = "ep_1", .url = receiver.url("/hooks"), .patterns = R"(["booking.*"])",
                              .headers = R"({"X-Tenant": "acme", "x-webhook-id": "forged", "Host": "evil.example"})"});
    auto id = ingest(R"({"event":"booking.created","data":{"id":"bkg_1","price":1.10}})");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 1), 1);

    auto requests = receiver.requests();
    ASSERT_EQ(requests.size(), 1u);
    const auto& r = requests[0];
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.target, "/hooks");
    std::string envelope = test::query_text(db(), "SELECT body FROM events");
    EXPECT_EQ(r.body, envelope);
    EXPECT_NE(r.body.find(R"("price":1.10)"), std::string::npos);
    EXPECT_EQ(r.header("Content-Type"), "application/json");
    EXPECT_TRUE(r.header("User-Agent").starts_with("webhookd/"));
    EXPECT_EQ(r.header("X-Webhook-Id"), id);  // the endpoint's own x-webhook-id is not sent
    EXPECT_EQ(r.header("Host"), "127.0.0.1:" + std::to_string(receiver.port()));
    EXPECT_EQ(r.header("X-Webhook-Event"), "booking.created");
    EXPECT_EQ(r.header("X-Webhook-Attempt"), "1");
    EXPECT_EQ(r.header("X-Tenant"), "acme");
    auto ts = std::stoll(r.header("X-Webhook-Timestamp"));
    EXPECT_NEAR(static_cast<double>(ts), static_cast<double>(std::time(nullptr)), 5.0);
    // What a booking platform's documented verifiers compute: hex HMAC-SHA256 of the raw body, key = the secret string.
    EXPECT_EQ(r.header("X-Webhook-Signature"), to_hex(hmac_sha256(secret, r.body)));
    EXPECT_EQ(r.header("webhook-id"), id);
    EXPECT_EQ(r.header("webhook-timestamp"), r.header("X-Webhook-Timestamp"));
    EXPECT_EQ(r.header("webhook-signature"),
              standard_webhooks_signature(*standard_webhooks_key(secret), id, ts, r.body));
    EXPECT_EQ(count("SELECT COUNT(*) FROM attempts WHERE outcome = 'success' AND status_code = 200"), 1);
}

TEST_F(delivery, data_body_mode_sends_data_verbatim_and_other_signature_formats) {
    test_server receiver(test_server::respond(ok_response()));
    start();
    test::add_endpoint(db(), {.id = "ep_data", .url = receiver.url(), .format = "stripe", .body_mode = "data"});
    ingest(R"({"event":"a.b","data":{"z":1, "a":[1.50]}})");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 1), 1);
    auto r = receiver.requests().at(0);
    EXPECT_EQ(r.body, R"({"z":1,"a":[1.50]})");
    auto ts = r.header("X-Webhook-Timestamp");
    EXPECT_EQ(r.header("X-Webhook-Signature"), "t=" + ts + ",v1=" + to_hex(hmac_sha256(secret, ts + "." + r.body)));
}

TEST_F(delivery, a_500_then_a_200_is_delivered_on_the_second_attempt) {
    test_server receiver([](test::test_connection& c) {
        while (auto req = c.read_request()) {
            bool first = req->header("X-Webhook-Attempt") == "1";
            if (!c.write(first ? status_response(500) : ok_response())) return;
        }
    });
    start();
    test::add_endpoint(db(), {.id = "ep_1", .url = receiver.url()});
    ingest(R"({"event":"a.b","data":1})");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered' AND attempts = 2", 1), 1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM attempts WHERE attempt = 1 AND outcome = 'http_error' AND status_code = 500"), 1);
    EXPECT_EQ(test::query_text(db(), "SELECT response_snippet FROM attempts WHERE attempt = 1"), "nope");
    EXPECT_EQ(count("SELECT COUNT(*) FROM attempts WHERE attempt = 2 AND outcome = 'success'"), 1);
    auto requests = receiver.requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[0].body, requests[1].body);
    EXPECT_EQ(requests[0].header("X-Webhook-Id"), requests[1].header("X-Webhook-Id"));
}

TEST_F(delivery, the_full_ladder_ends_in_a_dead_letter_with_every_attempt) {
    test_server receiver(test_server::respond(status_response(503)));
    start();
    test::add_endpoint(db(), {.id = "ep_1", .url = receiver.url()});
    ingest(R"({"event":"a.b","data":1})");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM dead_letters WHERE attempts = 3 AND last_status = 503", 1), 1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries"), 0);
    EXPECT_EQ(count("SELECT COUNT(*) FROM attempts a JOIN dead_letters d ON a.delivery_id = d.id"), 3);
    EXPECT_EQ(receiver.requests().size(), 3u);
    auto metrics = test::wait_for_metric(runner->admin_port(), R"(webhookd_deliveries_total{result="dead"})", 1);
    EXPECT_NE(metrics.find("webhookd_deliveries_total{result=\"dead\"} 1\n"), std::string::npos) << metrics;
    EXPECT_NE(metrics.find("webhookd_dead_letters 1\n"), std::string::npos);
    EXPECT_NE(metrics.find("webhookd_attempts_total{outcome=\"http_error\"} 3\n"), std::string::npos);
    EXPECT_NE(metrics.find("webhookd_deliveries_pending 0\n"), std::string::npos);
}

// A delivery that dies moves to dead_letters under its id. Ids were rowids, so the next
// delivery took the id of the one that had just died; when it died too, its move failed on
// the dead letter's id and it was attempted again after every lease, for ever.
TEST_F(delivery, a_delivery_id_is_never_reused_after_the_newest_one_died) {
    unsigned short closed_port;
    {
        test_server gone(test_server::respond(ok_response()));
        closed_port = gone.port();
    }
    start([](config& c) { c.retry.schedule = {0ms}; });
    test::add_endpoint(db(), {.id = "ep_refused", .url = "http://127.0.0.1:" + std::to_string(closed_port) + "/"});
    auto first = ingest(R"({"event":"a.b","data":1})");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM dead_letters", 1), 1);
    auto second = ingest(R"({"event":"a.b","data":2})");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM dead_letters", 2), 2);
    EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries"), 0);
    EXPECT_EQ(count("SELECT COUNT(DISTINCT id) FROM dead_letters"), 2);
    // Each dead letter holds its own event's one attempt, never another's.
    EXPECT_EQ(count("SELECT COUNT(*) FROM dead_letters d WHERE (SELECT COUNT(*) FROM attempts a "
                    "WHERE a.delivery_id = d.id) <> 1"),
              0);
    auto second_id = count("SELECT d.id FROM dead_letters d JOIN events e ON e.seq = d.event_seq WHERE e.id = '" +
                           second + "'");
    test::http_client admin(runner->admin_port());
    auto shown = admin.get("/v1/dead-letters/dlv_" + std::to_string(second_id));
    ASSERT_EQ(shown.status, 200) << shown.body;
    auto view = nlohmann::json::parse(shown.body);
    EXPECT_EQ(view["event_id"], second);
    EXPECT_EQ(view["attempts"].size(), 1u);
    auto metrics = test::wait_for_metric(runner->admin_port(), R"(webhookd_deliveries_total{result="dead"})", 2);
    EXPECT_EQ(test::metric(metrics, R"(webhookd_deliveries_total{result="dead"})"), 2) << metrics;
    // Retried, it comes back under the same id and dies again, once.
    auto retried = admin.post("/v1/dead-letters/dlv_" + std::to_string(second_id) + "/retry", "");
    EXPECT_LT(retried.status, 300) << retried.body;
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM attempts WHERE delivery_id = " + std::to_string(second_id), 2), 2);
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM dead_letters", 2), 2);
    (void)first;
}

// An outcome the store refuses (here: a dead letter already holds the id, put there behind
// the daemon's back) is not retried after every lease: the delivery is parked with the
// reason, and neither the lease's end nor a restart sends it again.
TEST_F(delivery, a_delivery_whose_outcome_cannot_be_stored_is_parked_not_attempted_again) {
    test_server receiver(test_server::respond(status_response(500)));
    start([](config& c) { c.retry.schedule = {0ms}; });
    test::add_endpoint(db(), {.id = "ep_1", .url = receiver.url()});
    auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch()).count();
    test::exec(db(), "INSERT INTO events (id, type, timestamp, body, data_offset, created_at) VALUES "
                     "('e_other', 'a.b', 'ts', '{}', 0, 0); "
                     "INSERT INTO dead_letters (id, event_seq, endpoint_id, attempts, created_at, died_at) "
                     "SELECT 1, seq, 'ep_other', 1, 0, " + std::to_string(now) + " FROM events");
    ingest(R"({"event":"a.b","data":1})");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE id = 1 AND next_attempt_at IS NULL "
                       "AND lease_owner IS NULL AND last_error LIKE '%could not be recorded%'",
                       1),
              1);
    runner->restart();
    std::this_thread::sleep_for(300ms);
    EXPECT_EQ(receiver.requests().size(), 1u);
    EXPECT_EQ(count("SELECT COUNT(*) FROM dead_letters"), 1);  // only the one planted
}

TEST_F(delivery, a_refused_port_and_a_302_are_failures_and_redirects_are_not_followed) {
    test_server target(test_server::respond(ok_response()));
    test_server redirector(test_server::respond("HTTP/1.1 302 Found\r\nLocation: " + target.url() +
                                                "\r\nContent-Length: 0\r\n\r\n"));
    start([](config& c) { c.retry.schedule = {0ms}; });
    // Closed after the daemon listens, so that none of its own listeners can take the port
    // (under ASan the attempt was once recorded as something other than connect_error).
    unsigned short closed_port;
    {
        test_server gone(test_server::respond(ok_response()));
        closed_port = gone.port();
    }
    test::add_endpoint(db(), {.id = "ep_redirect", .url = redirector.url()});
    test::add_endpoint(db(), {.id = "ep_refused", .url = "http://127.0.0.1:" + std::to_string(closed_port) + "/"});
    ingest(R"({"event":"a.b","data":1})");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM dead_letters", 2), 2);
    EXPECT_EQ(count("SELECT COUNT(*) FROM attempts WHERE endpoint_id = 'ep_redirect' AND outcome = 'http_error' "
                    "AND status_code = 302"),
              1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM attempts WHERE endpoint_id = 'ep_refused' AND outcome = 'connect_error'"), 1);
    EXPECT_EQ(target.requests().size(), 0u);
}

TEST_F(delivery, a_receiver_that_hangs_times_out_and_does_not_slow_a_fast_one) {
    test_server hanging([](test::test_connection& c) { c.hold(); });
    test_server fast(test_server::respond(ok_response()));
    start([](config& c) {
        c.delivery.timeout = 4s;
        c.retry.schedule = {0ms};
    });
    test::add_endpoint(db(), {.id = "ep_slow", .url = hanging.url()});
    test::add_endpoint(db(), {.id = "ep_fast", .url = fast.url()});
    for (int i = 0; i < 20; ++i) ingest(R"({"event":"a.b","data":)" + std::to_string(i) + "}");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE endpoint_id = 'ep_fast' AND state = 'delivered'", 20), 20);
    // Every fast delivery is done while all the slow attempts are still hanging.
    EXPECT_EQ(count("SELECT COUNT(*) FROM attempts WHERE endpoint_id = 'ep_slow'"), 0);
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM dead_letters WHERE endpoint_id = 'ep_slow'", 20), 20);
    EXPECT_EQ(count("SELECT COUNT(*) FROM attempts WHERE endpoint_id = 'ep_slow' AND outcome = 'timeout'"), 20);
}

// The client keeps as many idle connections to an origin as attempts may run against it:
// a second burst reuses the first burst's connections instead of opening new ones.
TEST_F(delivery, a_busy_endpoint_reuses_its_connections_across_bursts) {
    std::atomic<int> connections{0};
    test_server receiver([&](test::test_connection& c) {
        ++connections;
        while (c.read_request()) {
            std::this_thread::sleep_for(30ms);  // slow enough that a burst runs concurrently
            if (!c.write(ok_response())) return;
        }
    });
    start();
    test::add_endpoint(db(), {.id = "ep_1", .url = receiver.url()});
    std::string batch = R"({"events":[)";
    for (int i = 0; i < 48; ++i) batch += std::string(i ? "," : "") + R"({"event":"a.b","data":)" + std::to_string(i) + "}";
    batch += "]}";
    test::http_client producer(runner->ingest_port());
    ASSERT_EQ(producer.post("/v1/events/batch", batch).status, 202);
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 48), 48);
    int first_burst = connections.load();
    EXPECT_GT(first_burst, 16);  // the burst really ran concurrently
    ASSERT_EQ(producer.post("/v1/events/batch", batch).status, 202);
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 96), 96);
    EXPECT_EQ(connections.load(), first_burst);
}

TEST_F(delivery, the_ssrf_guard_refuses_loopback_unless_allowed) {
    test_server receiver(test_server::respond(ok_response()));
    start([](config& c) {
        c.delivery.allowed_cidrs = {};
        c.retry.schedule = {0ms};
    });
    test::add_endpoint(db(), {.id = "ep_1", .url = receiver.url()});
    ingest(R"({"event":"a.b","data":1})");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM dead_letters", 1), 1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM attempts WHERE outcome = 'connect_error' AND error LIKE '%allowed_cidrs%'"), 1);
    EXPECT_EQ(receiver.accepts(), 0u);
}

TEST_F(delivery, an_endpoint_without_a_valid_secret_gets_nothing_unsigned) {
    test_server receiver(test_server::respond(ok_response()));
    start([](config& c) { c.retry.schedule = {0ms}; });
    test::add_endpoint(db(), {.id = "ep_1", .url = receiver.url(), .secret = "whsec_not base64!"});
    ingest(R"({"event":"a.b","data":1})");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM dead_letters", 1), 1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM attempts WHERE error LIKE '%no valid signing secret%'"), 1);
    EXPECT_EQ(receiver.accepts(), 0u);
}

TEST_F(delivery, first_attempts_go_before_a_backlog_of_retries) {
    test_server receiver(test_server::respond(ok_response()));
    start([](config& c) { c.delivery.max_in_flight_per_endpoint = 1; });
    {
        // An endpoint with 50 retries due now (attempt 1 failed long ago), paused until the
        // fresh event is in too: else the retries may start going before it is ingested,
        // and the test would time its own request rather than the claim's order.
        test::add_endpoint(db(), {.id = "ep_1", .url = receiver.url(), .paused_at = 1});
        std::string sql;
        for (int i = 0; i < 50; ++i) {
            auto n = std::to_string(i);
            sql += "INSERT INTO events (id, type, timestamp, body, data_offset, created_at) VALUES ('old" + n +
                   "', 'a.b', 'ts', '{\"data\":1}', 8, 0); "
                   "INSERT INTO deliveries (event_seq, endpoint_id, attempts, next_attempt_at, created_at" +
                   std::string(test::on_postgres() ? "" : ", endpoint_seq") + ") SELECT seq, 'ep_1', 1, 0, 0" +
                   (test::on_postgres() ? "" : ", (SELECT seq FROM endpoints WHERE id = 'ep_1')") +
                   " FROM events WHERE id = 'old" + n + "'; ";
        }
        sql += "SELECT 1";
        test::exec(db(), sql);
    }
    auto fresh = ingest(R"({"event":"a.b","data":"fresh"})");
    auto resumed = test::http_client(runner->admin_port()).request("POST", "/v1/endpoints/ep_1/resume", "");
    ASSERT_EQ(resumed.status, 200) << resumed.body;
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 51), 51);
    auto requests = receiver.requests();
    ASSERT_EQ(requests.size(), 51u);
    std::size_t position = 0;
    while (position < requests.size() && requests[position].header("X-Webhook-Id") != fresh) ++position;
    EXPECT_LE(position, 2u) << "the first attempt waited behind " << position << " retries";
    EXPECT_EQ(requests[position].header("X-Webhook-Attempt"), "1");
}

// The dispatcher passes over a notice of new deliveries when the endpoint is due no later
// already; one whose retry is an hour away is due at once again when a new event arrives.
TEST_F(delivery, a_new_event_is_sent_at_once_to_an_endpoint_whose_retry_is_an_hour_away) {
    std::atomic<int> answered{0};
    test_server receiver([&](test::test_connection& c) {
        while (auto req = c.read_request()) {
            if (!c.write(answered++ == 0 ? status_response(500) : ok_response())) return;
        }
    });
    start([](config& c) { c.retry.schedule = {0ms, 1h}; });
    test::add_endpoint(db(), {.id = "ep_1", .url = receiver.url()});
    ingest(R"({"event":"a.b","data":"first"})");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND attempts = 1", 1), 1);
    // The dispatcher holds the retry's due time (an hour on) before the next event comes.
    std::this_thread::sleep_for(100ms);
    auto sent = std::chrono::steady_clock::now();
    ingest(R"({"event":"a.b","data":"second"})");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 1), 1);
    // Well within the 5 s between two scans of the endpoints, which would find it too.
    EXPECT_LT(std::chrono::steady_clock::now() - sent, 2500ms);
    EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND attempts = 1"), 1);
}

TEST_F(delivery, paused_endpoints_hold_their_deliveries) {
    test_server receiver(test_server::respond(ok_response()));
    start();
    test::add_endpoint(db(), {.id = "ep_paused", .url = receiver.url(), .paused_at = 1});
    test::add_endpoint(db(), {.id = "ep_live", .url = receiver.url()});
    ingest(R"({"event":"a.b","data":1})");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE endpoint_id = 'ep_live' AND state = 'delivered'", 1), 1);
    std::this_thread::sleep_for(200ms);
    EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE endpoint_id = 'ep_paused' AND state = 'pending' AND attempts = 0"), 1);
    EXPECT_EQ(receiver.requests().size(), 1u);
}

// A busy endpoint has up to max_in_flight_per_endpoint attempts out and as many more
// deliveries leased ahead; a pause gives the ones not yet sent back at once (only the
// attempts already out reach the receiver), and so does a stop.
TEST_F(delivery, deliveries_leased_ahead_are_given_back_at_a_pause_and_at_a_stop) {
    std::atomic<int> received{0};
    test_server receiver([&](test::test_connection& c) {
        while (c.read_request()) {
            ++received;
            std::this_thread::sleep_for(150ms);
            if (!c.write(ok_response())) return;
        }
    });
    start([](config& c) { c.delivery.max_in_flight_per_endpoint = 2; });
    test::add_endpoint(db(), {.id = "ep_1", .url = receiver.url()});
    std::string batch = R"({"events":[)";
    for (int i = 0; i < 20; ++i) batch += std::string(i ? "," : "") + R"({"event":"a.b","data":)" + std::to_string(i) + "}";
    batch += "]}";
    ASSERT_EQ(test::http_client(runner->ingest_port()).post("/v1/events/batch", batch).status, 202);
    const char* leased = "SELECT COUNT(*) FROM deliveries WHERE lease_owner IS NOT NULL";
    // 2 out, 2 ahead; over PostgreSQL the cap counts the leases of every instance sharing
    // the outbox, so none are taken ahead.
    const std::int64_t held = test::on_postgres() ? 2 : 4;
    ASSERT_EQ(wait_for(leased, held), held);
    auto admin = [&](const std::string& target) {
        auto r = test::http_client(runner->admin_port()).request("POST", target, "");
        ASSERT_EQ(r.status, 200) << r.body;
    };
    admin("/v1/endpoints/ep_1/pause");
    std::this_thread::sleep_for(50ms);  // a request sent just before the pause arrives
    int at_pause = received.load();
    EXPECT_EQ(wait_for(leased, 0), 0);
    std::this_thread::sleep_for(400ms);
    EXPECT_EQ(received.load(), at_pause);  // the two out were answered; the two ahead never sent
    auto delivered = count("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'");
    EXPECT_LT(delivered, 20);
    EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE state = 'pending' AND attempts = 0 AND next_attempt_at IS NULL"), 0);

    admin("/v1/endpoints/ep_1/resume");
    ASSERT_EQ(wait_for(leased, held), held);
    runner->stop();
    EXPECT_EQ(count(leased), 0);  // the two ahead were given back, the two out were recorded
    EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'") +
                  count("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'"), 20);
}

TEST_F(delivery, deliveries_in_flight_at_a_stop_are_delivered_after_the_restart) {
    WEBHOOKD_SQLITE_ONLY();
    std::atomic<bool> healthy{false};
    test_server receiver([&](test::test_connection& c) {
        while (auto req = c.read_request()) {
            if (!healthy) return c.hold();
            if (!c.write(ok_response())) return;
        }
    });
    start([](config& c) {
        c.delivery.timeout = 10s;  // longer than the drain: the attempts are still out at the stop
        c.shutdown_timeout = 300ms;
    });
    test::add_endpoint(db(), {.id = "ep_1", .url = receiver.url()});
    for (int i = 0; i < 5; ++i) ingest(R"({"event":"a.b","data":)" + std::to_string(i) + "}");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE lease_owner IS NOT NULL", 5), 5);
    runner->stop();
    EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'"), 5);
    healthy = true;
    runner->start();
    EXPECT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 5), 5);
}

TEST_F(delivery, the_purge_removes_only_what_is_past_retention) {
    start([](config& c) {
        c.dead_letter.retention = 1h;
        c.dead_letter.purge_interval = 50ms;
        c.storage.delivered_retention = 1h;
    });
    {
        auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
        auto old = std::to_string(now - 2 * 3600 * 1000);
        auto seq = [](const char* event) { return std::string("(SELECT seq FROM events WHERE id = '") + event + "')"; };
        // One transaction: the sweeper runs every 50 ms, it must see all of it or none.
        test::exec(db(),
                   "INSERT INTO events (id, type, timestamp, body, data_offset, created_at) VALUES "
                   "('e_old', 't', 'ts', '{}', 0, 0), ('e_new', 't', 'ts', '{}', 0, 0), ('e_done', 't', 'ts', '{}', 0, 0), "
                   "('e_lonely', 't', 'ts', '{}', 0, 0), ('e_fresh', 't', 'ts', '{}', 0, " + std::to_string(now) + "); "
                   "INSERT INTO dead_letters (id, event_seq, endpoint_id, attempts, created_at, died_at) VALUES "
                   "(10, " + seq("e_old") + ", 'ep', 7, 0, " + old + "), (11, " + seq("e_new") + ", 'ep', 7, 0, " +
                       std::to_string(now) + "); "
                   "INSERT INTO attempts (delivery_id, endpoint_id, attempt, started_at, duration_us, outcome) VALUES "
                   "(10, 'ep', 1, 0, 1, 'timeout'), (11, 'ep', 1, 0, 1, 'timeout'); "
                   "INSERT INTO deliveries (event_seq, endpoint_id, state, created_at, delivered_at) VALUES "
                   "(" + seq("e_done") + ", 'ep', 'delivered', 0, " + old + ")");
    }
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM dead_letters", 1), 1);
    EXPECT_EQ(wait_for("SELECT COUNT(*) FROM deliveries", 0), 0);
    EXPECT_EQ(count("SELECT COUNT(*) FROM dead_letters WHERE id = 11"), 1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM attempts"), 1);
    // Events go once nothing refers to them and they are past retention; e_fresh is recent.
    EXPECT_EQ(count("SELECT COUNT(*) FROM events"), 2);
    EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE id IN ('e_new', 'e_fresh')"), 2);
}

}  // namespace
}  // namespace webhookd
