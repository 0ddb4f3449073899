// The ingest API of a real daemon on loopback, against a real SQLite file: every status
// code of docs/api.md, durability across restarts, limits and concurrency.

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <future>
#include <thread>

#include "support/daemon_fixture.hpp"
#include "support/http_client.hpp"

namespace webhookd {
namespace {

using nlohmann::json;
using test::http_client;

constexpr const char* booking = R"({"event":"booking.created","data":{"id":"bkg_987654321","customerId":"cust_123"}})";

class ingest_api : public test::daemon_test {
protected:
    http_client client() const { return http_client(runner->ingest_port()); }
    static std::string code_of(const test::http_result& r) { return json::parse(r.body)["error"]["code"]; }
};

TEST_F(ingest_api, accepts_an_event_and_commits_it_with_its_deliveries) {
    start();
    test::add_endpoint(db(), "ep_1", R"(["booking.*"])");
    test::add_endpoint(db(), "ep_2", R"(["payment.*"])");
    auto r = client().post("/v1/events", booking);
    ASSERT_EQ(r.status, 202) << r.body;
    auto j = json::parse(r.body);
    EXPECT_EQ(j["event"], "booking.created");
    EXPECT_EQ(j["deliveries"], 1);
    EXPECT_TRUE(j["id"].get<std::string>().starts_with("evt_"));
    EXPECT_EQ(j["timestamp"].get<std::string>().size(), 20u);
    EXPECT_FALSE(j.contains("duplicate"));
    // Acknowledged means committed: a separate connection sees the rows at once.
    EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE id = '" + j["id"].get<std::string>() + "'"), 1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE endpoint_id = 'ep_1'"), 1);
}

TEST_F(ingest_api, the_same_id_again_is_a_duplicate_also_after_a_restart) {
    start();
    test::add_endpoint(db(), "ep_1", "[]");
    const std::string body = R"({"event":"a.b","data":{},"id":"evt_fixed"})";
    ASSERT_EQ(client().post("/v1/events", body).status, 202);
    auto again = client().post("/v1/events", body);
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(json::parse(again.body)["duplicate"], true);
    runner->restart();
    auto after = client().post("/v1/events", R"({"event":"other.type","data":{"x":1},"id":"evt_fixed"})");
    ASSERT_EQ(after.status, 200) << after.body;
    auto j = json::parse(after.body);
    EXPECT_EQ(j["id"], "evt_fixed");
    EXPECT_EQ(j["event"], "a.b");  // the first event's, not this request's
    EXPECT_EQ(j["duplicate"], true);
    EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries"), 1);
}

TEST_F(ingest_api, idempotency_key_header_gives_the_id) {
    start();
    auto c = client();
    auto r = c.request("POST", "/v1/events", R"({"event":"a.b","data":1})",
                       {{"Content-Type", "application/json"}, {"Idempotency-Key", "order-42"}});
    ASSERT_EQ(r.status, 202) << r.body;
    EXPECT_EQ(json::parse(r.body)["id"], "order-42");
    auto again = c.request("POST", "/v1/events", R"({"event":"a.b","data":2})",
                           {{"Content-Type", "application/json"}, {"Idempotency-Key", "order-42"}});
    EXPECT_EQ(again.status, 200);
}

TEST_F(ingest_api, every_error_code_and_nothing_written) {
    start([](config& c) {
        c.ingest.max_body = 2048;
        c.ingest.max_header = 1024;
    });
    auto c = client();
    auto r = c.post("/v1/events", R"({"event":"a.b","data":)");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(code_of(r), "invalid_json");
    r = c.post("/v1/events", R"({"event":"bad event","data":1})");
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(code_of(r), "invalid_field");
    EXPECT_NE(json::parse(r.body)["error"]["message"].get<std::string>().find("event"), std::string::npos);
    r = c.request("POST", "/v1/events", booking, {{"Content-Type", "text/plain"}});
    EXPECT_EQ(r.status, 415);
    EXPECT_EQ(code_of(r), "unsupported_media_type");
    r = c.get("/v1/nowhere");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(code_of(r), "not_found");
    r = c.get("/v1/events");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.headers["allow"], "POST");
    EXPECT_FALSE(r.closed);  // errors keep the connection
    r = c.post("/v1/events", R"({"event":"a.b","data":")" + std::string(3000, 'x') + "\"}");
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(code_of(r), "payload_too_large");
    EXPECT_TRUE(r.closed);
    r = client().request("GET", "/healthz", "", {{"X-Filler", std::string(2000, 'h')}});
    EXPECT_EQ(r.status, 431);
    EXPECT_EQ(count("SELECT COUNT(*) FROM events"), 0);
    EXPECT_EQ(client().get("/healthz").status, 200);  // and the daemon still serves
}

TEST_F(ingest_api, bearer_tokens_guard_ingest_but_not_health) {
    start([](config& c) { c.ingest.tokens = {"tok-1", "tok-2"}; });
    auto c = client();
    auto r = c.post("/v1/events", booking);
    EXPECT_EQ(r.status, 401);
    EXPECT_EQ(code_of(r), "unauthorized");
    r = c.request("POST", "/v1/events", booking, {{"Content-Type", "application/json"}, {"Authorization", "Bearer nope"}});
    EXPECT_EQ(r.status, 401);
    r = c.request("POST", "/v1/events", booking, {{"Content-Type", "application/json"}, {"Authorization", "Bearer tok-2"}});
    EXPECT_EQ(r.status, 202);
    EXPECT_EQ(c.get("/healthz").status, 200);
    EXPECT_EQ(c.get("/readyz").status, 200);
    EXPECT_EQ(count("SELECT COUNT(*) FROM events"), 1);
}

TEST_F(ingest_api, batch_is_all_or_nothing_with_results_in_order) {
    start();
    test::add_endpoint(db(), "ep_1", "[]");
    auto c = client();
    auto bad = c.post("/v1/events/batch",
                      R"({"events":[{"event":"a.b","data":1},{"event":"a b","data":2},{"event":"a.c","data":3}]})");
    EXPECT_EQ(bad.status, 400);
    EXPECT_NE(bad.body.find("events[1].event"), std::string::npos) << bad.body;
    EXPECT_EQ(count("SELECT COUNT(*) FROM events"), 0);

    ASSERT_EQ(c.post("/v1/events", R"({"event":"a.b","data":0,"id":"seen"})").status, 202);
    auto ok = c.post("/v1/events/batch",
                     R"({"events":[{"event":"a.b","data":1,"id":"n1"},{"event":"a.b","data":2,"id":"seen"},{"event":"a.c","data":3,"id":"n3"}]})");
    ASSERT_EQ(ok.status, 202) << ok.body;
    auto items = json::parse(ok.body)["events"];
    ASSERT_EQ(items.size(), 3u);
    EXPECT_EQ(items[0]["id"], "n1");
    EXPECT_EQ(items[1]["id"], "seen");
    EXPECT_EQ(items[1]["duplicate"], true);
    EXPECT_EQ(items[2]["id"], "n3");
    EXPECT_EQ(items[2]["deliveries"], 1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM events"), 3);
    EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries"), 3);
}

TEST_F(ingest_api, full_write_queue_answers_503_overloaded_and_writes_nothing) {
    WEBHOOKD_SQLITE_ONLY();
    start([](config& c) {
        c.ingest.queue_limit = 2;
        c.storage.busy_timeout = std::chrono::seconds(10);
    });
    ASSERT_EQ(client().get("/readyz").status, 200);  // start-up work is done
    // Another process holds the write lock: the writer waits inside its current group and
    // producers queue behind it until the queue's bound.
    sqlite::connection locker(db());
    locker.exec("BEGIN IMMEDIATE");
    std::vector<std::thread> waiting;
    std::atomic<int> accepted{0};
    test::http_result refused;
    int sent = 0;
    for (; sent < 6; ++sent) {
        std::promise<test::http_result> answer;
        auto early = answer.get_future();
        waiting.emplace_back([&, sent, answer = std::move(answer)]() mutable {
            auto r = client().post("/v1/events", R"({"event":"a","data":1,"id":"e)" + std::to_string(sent) + "\"}");
            answer.set_value(r);
            if (r.status == 202) ++accepted;
        });
        if (early.wait_for(std::chrono::milliseconds(300)) == std::future_status::ready) {
            refused = early.get();
            break;
        }
    }
    ASSERT_LT(sent, 6) << "no request was refused";
    EXPECT_GE(sent, 2);  // the queue took at least its bound
    EXPECT_EQ(refused.status, 503);
    EXPECT_EQ(code_of(refused), "overloaded");
    EXPECT_EQ(refused.headers["retry-after"], "1");
    locker.exec("ROLLBACK");
    for (auto& t : waiting) t.join();
    EXPECT_EQ(accepted, sent);
    EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE id = 'e" + std::to_string(sent) + "'"), 0);
    EXPECT_EQ(count("SELECT COUNT(*) FROM events"), sent);
}

TEST_F(ingest_api, storage_failure_answers_503_and_acknowledges_nothing) {
    WEBHOOKD_SQLITE_ONLY();
    start([](config& c) { c.storage.busy_timeout = std::chrono::milliseconds(100); });
    sqlite::connection locker(db());
    locker.exec("BEGIN IMMEDIATE");
    auto r = client().post("/v1/events", R"({"event":"a","data":1,"id":"lost"})");
    locker.exec("ROLLBACK");
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(code_of(r), "storage_unavailable");
    EXPECT_EQ(client().get("/readyz").status, 200);  // recovers by itself
    EXPECT_EQ(count("SELECT COUNT(*) FROM events"), 0);
    EXPECT_EQ(client().post("/v1/events", R"({"event":"a","data":1,"id":"lost"})").status, 202);
}

TEST_F(ingest_api, a_slow_client_is_cut_off_while_others_are_served) {
    start([](config& c) { c.ingest.request_timeout = std::chrono::milliseconds(300); });
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket slow(ioc);
    slow.connect({boost::asio::ip::make_address("127.0.0.1"), runner->ingest_port()});
    boost::asio::write(slow, boost::asio::buffer(std::string("POST /v1/events HTTP/1.1\r\nHost: x\r\n")));
    auto started = std::chrono::steady_clock::now();
    // Dribble a header byte every 50 ms: the deadline covers the whole request, not each byte.
    boost::system::error_code ec;
    auto c = client();
    for (int i = 0; i < 40 && !ec; ++i) {
        boost::asio::write(slow, boost::asio::buffer(std::string("X")), ec);
        EXPECT_EQ(c.post("/v1/events", booking).status, 202);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    char buf[16];
    slow.read_some(boost::asio::buffer(buf), ec);  // EOF or reset once cut
    EXPECT_TRUE(ec) << "the slow connection is still open";
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(2000));
}

TEST_F(ingest_api, a_silent_new_connection_is_closed_after_the_request_timeout) {
    start([](config& c) {
        c.ingest.request_timeout = std::chrono::milliseconds(200);
        c.ingest.idle_timeout = std::chrono::seconds(60);
    });
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::socket silent(ioc);
    silent.connect({boost::asio::ip::make_address("127.0.0.1"), runner->ingest_port()});
    auto started = std::chrono::steady_clock::now();
    char buf[16];
    boost::system::error_code ec;
    silent.read_some(boost::asio::buffer(buf), ec);
    EXPECT_EQ(ec, boost::asio::error::eof);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

TEST_F(ingest_api, connections_over_the_cap_are_closed) {
    start([](config& c) { c.ingest.max_connections = 2; });
    auto a = client();
    auto b = client();
    EXPECT_EQ(a.get("/healthz").status, 200);
    EXPECT_EQ(b.get("/healthz").status, 200);
    EXPECT_THROW(client().get("/healthz"), boost::system::system_error);
    EXPECT_EQ(a.get("/healthz").status, 200);
}

TEST_F(ingest_api, concurrent_producers_are_all_acknowledged_and_durable) {
    start();
    test::add_endpoint(db(), "ep_1", "[]");
    constexpr int threads = 8, per_thread = 50;
    std::atomic<int> accepted{0};
    std::vector<std::thread> producers;
    for (int t = 0; t < threads; ++t) {
        producers.emplace_back([&, t] {
            auto c = client();
            for (int i = 0; i < per_thread; ++i) {
                auto id = "t" + std::to_string(t) + "-" + std::to_string(i);
                if (c.post("/v1/events", R"({"event":"a.b","data":1,"id":")" + id + "\"}").status == 202) ++accepted;
            }
        });
    }
    for (auto& p : producers) p.join();
    EXPECT_EQ(accepted, threads * per_thread);
    runner->restart();
    EXPECT_EQ(count("SELECT COUNT(*) FROM events"), threads * per_thread);
    EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries"), threads * per_thread);
}

TEST_F(ingest_api, metrics_count_ingested_events_on_both_listeners) {
    start();
    auto c = client();
    c.post("/v1/events", booking);
    c.post("/v1/events", booking);
    for (auto port : {runner->ingest_port(), runner->admin_port()}) {
        auto m = http_client(port).get("/metrics");
        ASSERT_EQ(m.status, 200);
        EXPECT_TRUE(m.headers["content-type"].starts_with("text/plain"));
        EXPECT_NE(m.body.find("\nwebhookd_events_ingested_total 2\n"), std::string::npos) << m.body;
    }
}

TEST_F(ingest_api, stop_answers_requests_in_flight_before_exiting) {
    WEBHOOKD_SQLITE_ONLY();
    start([](config& c) { c.storage.busy_timeout = std::chrono::seconds(10); });
    sqlite::connection locker(db());
    locker.exec("BEGIN IMMEDIATE");
    std::promise<int> status;
    const auto port = runner->ingest_port();  // read before the stopper may reset the daemon
    std::thread producer([&] {
        status.set_value(http_client(port).post("/v1/events", R"({"event":"a","data":1,"id":"inflight"})").status);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    std::thread stopper([&] { runner->stop(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    locker.exec("ROLLBACK");
    stopper.join();
    producer.join();
    EXPECT_EQ(status.get_future().get(), 202);
    EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE id = 'inflight'"), 1);
}

}  // namespace
}  // namespace webhookd
