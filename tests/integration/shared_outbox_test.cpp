// Several webhookd instances over one PostgreSQL outbox (docs/operations.md, "Running
// several instances"): the real binary, three processes, one database on a throwaway
// server, real receivers. Each delivery is attempted by one instance at a time, a killed
// instance's leases are taken over when they end, an admin change through one instance
// reaches the others within a second, and an endpoint's limits (FIFO order, rate) hold
// across all of them together. Skipped where PostgreSQL is not installed.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <signal.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/daemon_fixture.hpp"
#include "support/http_client.hpp"
#include "support/pg_server.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_server.hpp"

namespace webhookd {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using test::test_server;

constexpr const char* ok_answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
constexpr const char* error_answer = "HTTP/1.1 500 Error\r\nContent-Length: 0\r\n\r\n";

// One webhookd process over the shared database, with its own config directory.
class instance {
public:
    instance(const std::string& url, const std::string& extra) {
        config_ = test::write_config(dir_, extra, R"(, "backend": "postgres", "url": ")" + url + "\"");
        start();
    }
    void start() {
        proc_ = std::make_unique<test::process>(std::vector<std::string>{WEBHOOKD_BINARY, "--config", config_});
        if (!proc_->wait_for_line("started: database", 30000)) throw std::runtime_error("no start: " + proc_->output());
        ingest_ = test::port_from_log(proc_->output(), "ingest");
        admin_ = test::port_from_log(proc_->output(), "admin");
        proc_->discard_output();  // while the database is down, every request logs an error
    }
    void kill() {
        proc_->signal(SIGKILL);
        proc_->wait();
    }
    test::http_client ingest() const { return test::http_client(ingest_); }
    test::http_client admin() const { return test::http_client(admin_); }

private:
    test::temp_dir dir_;
    std::string config_;
    std::unique_ptr<test::process> proc_;
    unsigned short ingest_ = 0, admin_ = 0;
};

class shared_outbox : public ::testing::Test {
protected:
    void SetUp() override {
        server = test::pg_server::shared();
        if (!server) GTEST_SKIP() << "PostgreSQL is not installed (apt-get install postgresql)";
        url = server->create_database();
    }
    // Starts n instances; `delivery` is spliced into each one's "delivery" object.
    void start(int n, const std::string& delivery = "") {
        // Short timeouts, so that a killed instance's leases end within seconds; a quick ladder.
        auto config = R"(, "delivery": {"timeout": "2s", "allowed_cidrs": ["127.0.0.0/8"])" + delivery + R"(},
           "retry": {"schedule": ["0s", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms", "50ms"], "jitter": 0})";
        for (int i = 0; i < n; ++i) instances.push_back(std::make_unique<instance>(url, config));
    }
    json admin(int i, const std::string& method, const std::string& target, const json& body = nullptr) {
        auto r = instances[i]->admin().request(method, target, body.is_null() ? "" : body.dump());
        EXPECT_LT(r.status, 300) << method << " " << target << ": " << r.body;
        return r.body.empty() ? json() : json::parse(r.body);
    }
    std::string create_endpoint(const json& body) { return admin(0, "POST", "/v1/endpoints", body)["id"]; }
    // Ingests `events` events numbered from `first`, in batches, round the instances.
    void ingest(int first, int events) {
        for (int b = 0; b * 100 < events; ++b) {
            json batch{{"events", json::array()}};
            for (int i = b * 100; i < std::min(events, (b + 1) * 100); ++i) {
                batch["events"].push_back({{"id", "evt-" + std::to_string(first + i)},
                                           {"event", "booking.created"},
                                           {"data", {{"n", first + i}}}});
            }
            auto r = instances[b % instances.size()]->ingest().post("/v1/events/batch", batch.dump());
            ASSERT_EQ(r.status, 202) << r.body;
        }
    }
    std::int64_t count(const std::string& sql) { return test::query_int(url, sql); }
    std::int64_t wait_for(const std::string& sql, std::int64_t expected, std::chrono::milliseconds timeout = 60s) {
        return test::wait_for_count(url, sql, expected, timeout);
    }

    test::pg_server* server = nullptr;
    std::string url;
    std::vector<std::unique_ptr<instance>> instances;
};

TEST_F(shared_outbox, three_instances_deliver_every_event_and_a_killed_ones_leases_are_taken_over) {
    // The receiver checks that no delivery is ever attempted twice at once (one endpoint,
    // so an event id is a delivery), and counts every request.
    std::mutex m;
    std::map<std::string, int> in_flight;
    std::map<std::string, int> seen;
    int overlaps = 0, now_in_flight = 0, most_in_flight = 0;
    std::atomic<int> requests{0};
    test_server receiver([&](test::test_connection& c) {
        while (auto req = c.read_request()) {
            auto id = req->header("X-Webhook-Id");
            {
                std::lock_guard lock(m);
                if (in_flight[id]++ > 0) ++overlaps;
                ++seen[id];
                most_in_flight = std::max(most_in_flight, ++now_in_flight);
            }
            ++requests;
            std::this_thread::sleep_for(1ms);
            {
                std::lock_guard lock(m);
                --in_flight[id];
                --now_in_flight;
            }
            if (!c.write(ok_answer)) return;
        }
    });
    // The endpoint's cap holds for the three together, not for each.
    start(3, R"(, "max_in_flight_per_endpoint": 16)");
    create_endpoint({{"url", receiver.url("/hooks")}, {"events", {"booking.*"}}});
    constexpr int events = 20000;
    ingest(0, events);

    // Kill one instance mid-delivery, twice, restarting it each time.
    for (int threshold : {events / 4, events / 2}) {
        auto deadline = std::chrono::steady_clock::now() + 120s;
        while (requests < threshold && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
        ASSERT_GE(requests.load(), threshold) << "deliveries stalled";
        instances[1]->kill();
        std::this_thread::sleep_for(200ms);
        instances[1]->start();
    }
    EXPECT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", events, 180s), events);
    EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'"), 0);
    EXPECT_EQ(count("SELECT COUNT(*) FROM dead_letters"), 0);

    std::lock_guard lock(m);
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(events));  // every acknowledged event, none lost
    EXPECT_EQ(overlaps, 0);
    // A request is open at the receiver only while its lease holds, and every instance's
    // leases count against the one cap.
    EXPECT_LE(most_in_flight, 16);
    EXPECT_GE(most_in_flight, 8);
    int duplicates = 0;
    for (const auto& [id, n] : seen) duplicates += n - 1;
    // At least once: what the killed instance had sent and not recorded is sent again.
    std::printf("[ shared   ] %d events, %d requests, %d duplicates (attempts of a killed instance)\n", events,
                requests.load(), duplicates);
    RecordProperty("duplicates", duplicates);
    EXPECT_LT(duplicates, 2000);
}

TEST_F(shared_outbox, a_pause_through_one_instance_stops_the_others_within_a_second) {
    std::atomic<std::int64_t> last_request_ms{0};
    std::atomic<int> requests{0};
    test_server receiver([&](test::test_connection& c) {
        while (c.read_request()) {
            ++requests;
            last_request_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now().time_since_epoch())
                                  .count();
            std::this_thread::sleep_for(20ms);
            if (!c.write(ok_answer)) return;
        }
    });
    // 4 at a time, 20 ms each: 200 a second for the three together, so that most of the
    // backlog still waits when the pause comes, however slow the build (sanitizers).
    start(3, R"(, "max_in_flight_per_endpoint": 4)");
    auto ep = create_endpoint({{"url", receiver.url()}, {"events", {"*"}}});
    ingest(0, 1000);
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (requests < 100 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
    ASSERT_GE(requests.load(), 100);

    admin(0, "POST", "/v1/endpoints/" + ep + "/pause");
    auto paused_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count();
    std::this_thread::sleep_for(2500ms);
    // Attempts already out when an instance saw the pause still arrive; none starts later.
    EXPECT_LT(last_request_ms.load(), paused_ms + 1000 + 100) << "an instance still sent after the pause";
    auto pending = count("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'");
    EXPECT_GT(pending, 0);
    // The gauges come from the shared database: every instance shows the same.
    for (auto& i : instances) {
        auto page = i->admin().get("/metrics").body;
        EXPECT_EQ(test::metric(page, "webhookd_deliveries_pending"), static_cast<double>(pending));
    }

    admin(1, "POST", "/v1/endpoints/" + ep + "/resume");
    EXPECT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 1000), 1000);
}

TEST_F(shared_outbox, a_fifo_endpoint_stays_in_order_across_three_instances) {
    // Fails a random 30% of requests; each request is recorded with its event number.
    std::mutex m;
    std::vector<std::pair<int, bool>> seen;
    int in_flight = 0, most = 0;
    std::mt19937 coin(20261206);
    test_server receiver([&](test::test_connection& c) {
        while (auto req = c.read_request()) {
            bool ok;
            {
                std::lock_guard lock(m);
                most = std::max(most, ++in_flight);
                ok = std::uniform_int_distribution<int>(1, 10)(coin) > 3;
                seen.emplace_back(json::parse(req->body)["data"]["n"].get<int>(), ok);
            }
            std::this_thread::sleep_for(1ms);
            {
                std::lock_guard lock(m);
                --in_flight;
            }
            if (!c.write(ok ? ok_answer : error_answer)) return;
        }
    });
    start(3);
    create_endpoint({{"url", receiver.url("/ordered")}, {"events", {"*"}}, {"ordering", "fifo"}});
    ingest(0, 300);
    EXPECT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 300), 300);

    std::lock_guard lock(m);
    EXPECT_EQ(most, 1);
    // The event after the last success, or the same again after a failure, whichever
    // instance sent it.
    int expected = 0;
    for (std::size_t k = 0; k < seen.size(); ++k) {
        ASSERT_EQ(seen[k].first, expected) << "request " << k;
        if (seen[k].second) ++expected;
    }
    EXPECT_EQ(expected, 300);
}

TEST_F(shared_outbox, a_rate_limit_holds_across_three_instances) {
    std::mutex m;
    std::vector<std::int64_t> at_ms;
    test_server receiver([&](test::test_connection& c) {
        while (c.read_request()) {
            {
                std::lock_guard lock(m);
                at_ms.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now().time_since_epoch())
                                    .count());
            }
            if (!c.write(ok_answer)) return;
        }
    });
    start(3);
    create_endpoint({{"url", receiver.url()}, {"events", {"*"}}, {"rate_limit", 20}});
    constexpr int events = 120;
    ingest(0, events);
    EXPECT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", events, 30s), events);

    std::lock_guard lock(m);
    ASSERT_EQ(at_ms.size(), static_cast<std::size_t>(events));
    std::sort(at_ms.begin(), at_ms.end());
    // 20 a second in all, not 20 per instance: 120 take 5 s at least (a first burst of 20,
    // then 20 a second), where three instances each at 20/s would take 2.
    EXPECT_GE(at_ms.back() - at_ms.front(), 4000);
    // And no second holds more than a window's 20 plus the next window's 20.
    for (std::size_t i = 0; i + 40 < at_ms.size(); ++i) EXPECT_GE(at_ms[i + 40] - at_ms[i], 1000) << "at " << i;
}

// PostgreSQL itself goes away under load and comes back: ingest answers 503 meanwhile,
// nothing it acknowledged is lost, and everything resumes without restarting webhookd.
TEST(shared_outbox_restart, postgresql_restarted_under_load_loses_nothing_acknowledged) {
    if (test::pg_server::bindir().empty()) GTEST_SKIP() << "PostgreSQL is not installed";
    test::pg_server server;  // its own: this test stops it
    auto url = server.create_database();
    std::atomic<int> requests{0};
    test_server receiver([&](test::test_connection& c) {
        while (c.read_request()) {
            ++requests;
            if (!c.write(ok_answer)) return;
        }
    });
    instance d(url, R"(, "delivery": {"timeout": "2s", "allowed_cidrs": ["127.0.0.0/8"]})");
    {
        auto r = d.admin().post("/v1/endpoints", json{{"url", receiver.url()}, {"events", {"*"}}}.dump());
        ASSERT_EQ(r.status, 201) << r.body;
    }
    // A producer sending one event at a time, recording what was acknowledged.
    std::atomic<bool> stop{false};
    std::mutex m;
    std::set<int> acknowledged;
    std::atomic<int> unavailable{0};
    std::thread producer([&] {
        for (int n = 0; !stop; ++n) {
            try {
                auto r = d.ingest().post("/v1/events", json{{"id", "e" + std::to_string(n)}, {"event", "a.b"}, {"data", n}}.dump());
                if (r.status == 202) {
                    std::lock_guard lock(m);
                    acknowledged.insert(n);
                } else if (r.status == 503 && json::parse(r.body)["error"]["code"] == "storage_unavailable") {
                    ++unavailable;
                }
            } catch (const std::exception&) {
            }
            std::this_thread::sleep_for(2ms);
        }
    });
    std::this_thread::sleep_for(500ms);
    server.stop();
    std::this_thread::sleep_for(1000ms);
    std::size_t before_restart;
    {
        std::lock_guard lock(m);
        before_restart = acknowledged.size();
    }
    server.start();
    std::this_thread::sleep_for(1500ms);
    stop = true;
    producer.join();
    EXPECT_GT(unavailable.load(), 0) << "ingest never saw the database down";
    std::lock_guard lock(m);
    ASSERT_GT(before_restart, 50u);
    EXPECT_GT(acknowledged.size(), before_restart + 50) << "ingest did not come back by itself";
    // Every acknowledged event is stored and delivered (an event stored whose answer was
    // lost on the way may be there too: never the reverse).
    std::string ids;
    for (int n : acknowledged) ids += (ids.empty() ? "" : ",") + ("e" + std::to_string(n));
    EXPECT_EQ(test::query_int(url, "SELECT COUNT(*) FROM events WHERE id = ANY('{" + ids + "}')"),
              static_cast<std::int64_t>(acknowledged.size()));
    EXPECT_EQ(test::wait_for_count(url, "SELECT COUNT(*) FROM deliveries WHERE state = 'pending'", 0, 30s), 0);
    EXPECT_EQ(test::query_int(url, "SELECT COUNT(*) FROM deliveries d JOIN events e ON e.seq = d.event_seq "
                                   "WHERE d.state = 'delivered' AND e.id = ANY('{" + ids + "}')"),
              static_cast<std::int64_t>(acknowledged.size()));
    EXPECT_GE(requests.load(), static_cast<int>(acknowledged.size()));
}

}  // namespace
}  // namespace webhookd
