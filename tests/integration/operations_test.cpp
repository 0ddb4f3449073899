// Running under a service manager: sd_notify readiness, watchdog and stopping; /readyz when
// the database does not take writes; drain under load; log reopening; metrics after a
// scripted scenario. The real binary where signals and the environment matter.

#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "store/sqlite.hpp"
#include "support/daemon_fixture.hpp"
#include "support/http_client.hpp"
#include "support/notify_socket.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_server.hpp"

namespace webhookd {
namespace {

using namespace std::chrono_literals;
using test::process;
using test::port_from_log;
using test::write_config;

std::string abstract_name(const char* what) { return "@webhookd-test-" + std::to_string(::getpid()) + "-" + what; }

TEST(operations, notifies_ready_when_serving_pings_the_watchdog_and_says_stopping) {
    test::temp_dir dir;
    test::notify_socket manager(abstract_name("ready"));
    process d({WEBHOOKD_BINARY, "--config", write_config(dir)}, {"NOTIFY_SOCKET=" + manager.name(), "WATCHDOG_USEC=600000"});
    ASSERT_TRUE(manager.wait_for("READY=1", 10000)) << manager.transcript() << d.output();
    // READY means serving: /readyz answers at once, without a retry.
    ASSERT_TRUE(d.wait_for_line("admin listening on")) << d.output();
    test::http_client admin(port_from_log(d.output(), "admin"));
    auto ready = admin.get("/readyz");
    EXPECT_EQ(ready.status, 200) << ready.body;

    // WATCHDOG_USEC 600 ms: a ping every 300 ms, each with a STATUS line.
    EXPECT_GE(manager.count_for("WATCHDOG=1", 1600), 3) << manager.transcript();
    EXPECT_NE(manager.transcript().find("STATUS=serving: writer queue 0"), std::string::npos) << manager.transcript();

    d.signal(SIGTERM);
    EXPECT_TRUE(manager.wait_for("STOPPING=1", 5000)) << manager.transcript();
    EXPECT_EQ(d.wait(), 0) << d.output();
    EXPECT_NE(manager.transcript().find("STATUS=draining"), std::string::npos) << manager.transcript();
}

TEST(operations, a_wedged_writer_stops_the_watchdog_pings_and_readyz_until_it_moves_again) {
    test::temp_dir dir;
    test::notify_socket manager(abstract_name("wedged"));
    // A long busy_timeout: the writer waits on a held lock instead of failing.
    process d({WEBHOOKD_BINARY, "--config", write_config(dir, "", R"(, "busy_timeout": "60s")")},
              {"NOTIFY_SOCKET=" + manager.name(), "WATCHDOG_USEC=400000"});
    ASSERT_TRUE(manager.wait_for("READY=1", 10000)) << manager.transcript() << d.output();
    ASSERT_GE(manager.count_for("WATCHDOG=1", 700), 2) << manager.transcript();
    ASSERT_TRUE(d.wait_for_line("admin listening on")) << d.output();
    test::http_client admin(port_from_log(d.output(), "admin"));

    {
        // Another process holds the write lock: the writer's next transaction waits.
        sqlite::connection holder(dir.file("webhookd.db"));
        holder.exec("BEGIN IMMEDIATE");
        manager.count_for("WATCHDOG=1", 500);  // a ping already decided may still arrive
        EXPECT_EQ(manager.count_for("WATCHDOG=1", 1200), 0) << manager.transcript();
        EXPECT_TRUE(d.wait_for_line("database writer has not answered a probe")) << d.output();
        auto r = admin.get("/readyz");
        EXPECT_EQ(r.status, 503);
        EXPECT_NE(r.body.find("not_ready"), std::string::npos) << r.body;
        EXPECT_NE(r.body.find("did not answer"), std::string::npos) << r.body;
        holder.exec("ROLLBACK");
    }
    EXPECT_TRUE(manager.wait_for("WATCHDOG=1", 3000)) << manager.transcript();
    EXPECT_EQ(admin.get("/readyz").status, 200);
    d.signal(SIGTERM);
    EXPECT_EQ(d.wait(), 0) << d.output();
}

TEST(operations, readyz_fails_while_the_database_refuses_writes) {
    test::temp_dir dir;
    auto cfg = test::test_config(dir);
    cfg.storage.busy_timeout = 100ms;  // the writer gives up on a held lock quickly
    test::daemon_runner runner(cfg);
    test::http_client admin(runner.admin_port());
    ASSERT_EQ(admin.get("/readyz").status, 200);
    {
        sqlite::connection holder(dir.file("webhookd.db"));
        holder.exec("BEGIN IMMEDIATE");
        auto r = admin.get("/readyz");
        EXPECT_EQ(r.status, 503);
        EXPECT_NE(r.body.find("does not take writes"), std::string::npos) << r.body;
        EXPECT_NE(r.body.find("locked"), std::string::npos) << r.body;
        holder.exec("ROLLBACK");
    }
    EXPECT_EQ(admin.get("/readyz").status, 200);
    EXPECT_GT(test::query_int(dir.file("webhookd.db"), "SELECT value FROM daemon_state WHERE key = 'heartbeat'"), 0);
}

// Producers keep posting while SIGTERM arrives: every event answered 2xx is on disk after
// the exit, the others were refused with 503 shutting_down or a closed connection; the
// attempts in flight at the signal finish and are recorded.
TEST(operations, drain_under_load_loses_no_acknowledged_event) {
    test::test_server receiver([](test::test_connection& c) {
        while (auto req = c.read_request()) {
            std::this_thread::sleep_for(50ms);
            if (!c.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")) return;
        }
    });
    test::temp_dir dir;
    auto db = dir.file("webhookd.db");
    process d({WEBHOOKD_BINARY, "--config",
               write_config(dir, R"(, "delivery": {"allowed_cidrs": ["127.0.0.0/8"]}, "shutdown_timeout": "10s")")});
    ASSERT_TRUE(d.wait_for_line("started")) << d.output();
    test::add_endpoint(db, {.id = "ep_1", .url = receiver.url()});
    auto port = port_from_log(d.output(), "ingest");

    std::mutex mu;
    std::set<std::string> acknowledged;
    std::atomic<int> shutting_down{0}, other{0};
    std::atomic<bool> signalled{false};
    std::vector<std::thread> producers;
    for (int t = 0; t < 4; ++t) {
        producers.emplace_back([&, t] {
            for (int i = 0;; ++i) {
                auto id = "evt_p" + std::to_string(t) + "_" + std::to_string(i);
                try {
                    test::http_client c(port);
                    auto r = c.post("/v1/events", R"({"id":")" + id + R"(","event":"a.b","data":{}})");
                    if (r.status == 202) {
                        std::lock_guard lock(mu);
                        acknowledged.insert(id);
                    } else if (r.status == 503 && r.body.find("shutting_down") != std::string::npos) {
                        ++shutting_down;
                    } else {
                        ++other;
                    }
                } catch (const std::exception&) {
                    if (signalled) return;  // the listener is closed
                    ++other;
                }
                if (signalled && i % 10 == 0) std::this_thread::yield();
            }
        });
    }
    // Let load and deliveries build up, then stop.
    while (test::query_int(db, "SELECT COUNT(*) FROM attempts") < 10) std::this_thread::sleep_for(10ms);
    signalled = true;
    d.signal(SIGTERM);
    for (auto& p : producers) p.join();
    EXPECT_EQ(d.wait(15000), 0) << d.output();

    EXPECT_EQ(other.load(), 0);
    ASSERT_GT(acknowledged.size(), 20u);
    sqlite::connection check(db);
    auto& q = check.prepare("SELECT 1 FROM events WHERE id = ?");
    std::size_t missing = 0;
    for (const auto& id : acknowledged) {
        q.bind(1, id);
        if (!q.step()) ++missing;
        q.reset();
    }
    EXPECT_EQ(missing, 0u) << "of " << acknowledged.size() << " acknowledged events";
    // Attempts in flight at the signal were finished and recorded: no lease is left.
    EXPECT_EQ(test::query_int(db, "SELECT COUNT(*) FROM deliveries WHERE lease_owner IS NOT NULL"), 0);
    EXPECT_EQ(test::query_int(db, "SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'"),
              test::query_int(db, "SELECT COUNT(*) FROM attempts WHERE outcome = 'success'"));
}

// With drain_delay, SIGTERM first turns /readyz to 503 while both listeners keep serving
// (new connections accepted, events acknowledged); only after the delay are they refused.
TEST(operations, drain_delay_fails_readyz_before_the_listeners_close) {
    test::temp_dir dir;
    process d({WEBHOOKD_BINARY, "--config", write_config(dir, R"(, "drain_delay": "1500ms")")});
    ASSERT_TRUE(d.wait_for_line("started")) << d.output();
    auto ingest = port_from_log(d.output(), "ingest");
    auto admin = port_from_log(d.output(), "admin");
    ASSERT_EQ(test::http_client(ingest).get("/readyz").status, 200);
    d.signal(SIGTERM);
    ASSERT_TRUE(d.wait_for_line("drain_delay")) << d.output();
    // Fresh connections, well inside the delay.
    auto ready = test::http_client(ingest).get("/readyz");
    EXPECT_EQ(ready.status, 503);
    EXPECT_NE(ready.body.find("shutting_down"), std::string::npos) << ready.body;
    EXPECT_EQ(test::http_client(ingest).post("/v1/events", R"({"event":"a.b","data":{}})").status, 202);
    EXPECT_EQ(test::http_client(admin).get("/v1/endpoints").status, 200);
    EXPECT_EQ(d.wait(10000), 0) << d.output();
    EXPECT_THROW(test::http_client(ingest).get("/readyz"), std::exception);
    EXPECT_EQ(test::query_int(dir.file("webhookd.db"), "SELECT COUNT(*) FROM events"), 1);
}

// An attempt that outlives the drain deadline is not waited for: the daemon exits 0 on
// time and the delivery is made at the next start.
TEST(operations, the_drain_deadline_leaves_hung_attempts_for_the_next_start) {
    std::atomic<bool> healthy{false};
    test::test_server receiver([&](test::test_connection& c) {
        while (auto req = c.read_request()) {
            if (!healthy) return c.hold();
            if (!c.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")) return;
        }
    });
    test::temp_dir dir;
    auto db = dir.file("webhookd.db");
    auto config = write_config(dir, R"(, "delivery": {"allowed_cidrs": ["127.0.0.0/8"]}, "shutdown_timeout": "300ms")");
    {
        process d({WEBHOOKD_BINARY, "--config", config});
        ASSERT_TRUE(d.wait_for_line("started")) << d.output();
        test::add_endpoint(db, {.id = "ep_1", .url = receiver.url()});
        test::http_client c(port_from_log(d.output(), "ingest"));
        ASSERT_EQ(c.post("/v1/events", R"({"event":"a.b","data":{}})").status, 202);
        ASSERT_EQ(test::wait_for_count(db, "SELECT COUNT(*) FROM deliveries WHERE lease_owner IS NOT NULL", 1), 1);
        auto t0 = std::chrono::steady_clock::now();
        d.signal(SIGTERM);
        EXPECT_EQ(d.wait(), 0) << d.output();
        EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
        EXPECT_NE(d.output().find("retried at the next start"), std::string::npos) << d.output();
    }
    EXPECT_EQ(test::query_int(db, "SELECT COUNT(*) FROM deliveries WHERE state = 'pending'"), 1);
    healthy = true;
    process again({WEBHOOKD_BINARY, "--config", config});
    EXPECT_EQ(test::wait_for_count(db, "SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 1), 1) << again.output();
    again.signal(SIGTERM);
    EXPECT_EQ(again.wait(), 0);
}

TEST(operations, sighup_reopens_the_log_file_after_rotation) {
    test::temp_dir dir;
    auto log = dir.file("webhookd.log");
    process d({WEBHOOKD_BINARY, "--config", write_config(dir, R"(, "log": {"file": ")" + log + R"("})")});
    auto contains = [](const std::string& path, const std::string& needle) {
        return test::read_file(path).find(needle) != std::string::npos;
    };
    auto wait_for_text = [&](const std::string& path, const std::string& needle) {
        for (int i = 0; i < 500 && !contains(path, needle); ++i) std::this_thread::sleep_for(10ms);
        return contains(path, needle);
    };
    ASSERT_TRUE(wait_for_text(log, "started")) << d.output();
    EXPECT_EQ(d.output(), "");  // nothing on stderr: it all went to the file

    std::filesystem::rename(log, log + ".1");  // what logrotate does
    d.signal(SIGHUP);
    EXPECT_TRUE(wait_for_text(log, "log file reopened"));
    d.signal(SIGTERM);
    EXPECT_EQ(d.wait(), 0);
    EXPECT_TRUE(contains(log, "stopped"));
    EXPECT_FALSE(contains(log + ".1", "stopped"));
    EXPECT_FALSE(contains(log, "started"));
}

TEST(operations, a_log_file_that_cannot_be_opened_refuses_to_start) {
    test::temp_dir dir;
    auto [code, out] = process::run(
        {WEBHOOKD_BINARY, "--config", write_config(dir, R"(, "log": {"file": "/nonexistent/dir/webhookd.log"})")});
    EXPECT_EQ(code, 2);
    EXPECT_NE(out.find("/nonexistent/dir/webhookd.log"), std::string::npos) << out;
}

// The value of one metric line ("name{labels} value"); -1 when absent.
using test::metric;

// A scripted scenario with known answers: one healthy and one failing endpoint, producers
// posting concurrently, a dead letter requeued to a paused endpoint.
TEST(operations, metrics_match_a_scripted_scenario) {
    test::test_server good([](test::test_connection& c) {
        while (c.read_request()) {
            if (!c.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")) return;
        }
    });
    test::test_server bad([](test::test_connection& c) {
        while (c.read_request()) {
            if (!c.write("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n")) return;
        }
    });
    test::temp_dir dir;
    auto db = dir.file("webhookd.db");
    auto cfg = test::test_config(dir);
    cfg.delivery.allowed_cidrs = test::cidrs({"127.0.0.0/8"});
    cfg.retry.schedule = {0ms, 20ms};  // two attempts, then dead
    cfg.retry.jitter = 0;
    test::daemon_runner runner(cfg);
    test::add_endpoint(db, {.id = "ep_good", .url = good.url()});
    test::add_endpoint(db, {.id = "ep_bad", .url = bad.url(), .patterns = R"(["booking.*"])"});

    // 4 producers x 5 events, one per request, and one batch of 3: 23 events.
    std::vector<std::thread> producers;
    std::atomic<int> accepted{0};
    for (int t = 0; t < 4; ++t) {
        producers.emplace_back([&] {
            test::http_client c(runner.ingest_port());
            for (int i = 0; i < 5; ++i) accepted += c.post("/v1/events", R"({"event":"other.x","data":{}})").status == 202;
        });
    }
    for (auto& p : producers) p.join();
    test::http_client producer(runner.ingest_port());
    ASSERT_EQ(producer
                  .post("/v1/events/batch", R"({"events":[{"event":"booking.a","data":{}},{"event":"booking.b","data":{}},)"
                                            R"({"event":"booking.c","data":{}}]})")
                  .status,
              202);
    ASSERT_EQ(accepted.load(), 20);
    // ep_good gets all 23; ep_bad the 3 booking events, which die after two attempts each.
    ASSERT_EQ(test::wait_for_count(db, "SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 23), 23);
    ASSERT_EQ(test::wait_for_count(db, "SELECT COUNT(*) FROM dead_letters", 3), 3);

    test::http_client admin(runner.admin_port());
    test::wait_for_metric(runner.admin_port(), R"(webhookd_deliveries_total{result="delivered"})", 23);
    auto m = test::wait_for_metric(runner.admin_port(), R"(webhookd_deliveries_total{result="dead"})", 3);
    EXPECT_EQ(metric(m, "webhookd_events_ingested_total"), 23);
    EXPECT_EQ(metric(m, R"(webhookd_attempts_total{outcome="success"})"), 23);
    EXPECT_EQ(metric(m, R"(webhookd_attempts_total{outcome="http_error"})"), 6);
    EXPECT_EQ(metric(m, R"(webhookd_attempts_total{outcome="timeout"})"), 0);
    EXPECT_EQ(metric(m, R"(webhookd_deliveries_total{result="delivered"})"), 23);
    EXPECT_EQ(metric(m, R"(webhookd_deliveries_total{result="dead"})"), 3);
    EXPECT_EQ(metric(m, "webhookd_deliveries_pending"), 0);
    EXPECT_EQ(metric(m, "webhookd_dead_letters"), 3);
    EXPECT_EQ(metric(m, "webhookd_delivery_latency_seconds_count"), 23);
    // Every attempt counter counts the same attempts.
    EXPECT_EQ(metric(m, "webhookd_attempt_duration_seconds_count"), 29);
    // The slowest delivery the default ladder makes (31 h 21 min plus jitter) has a finite bucket.
    EXPECT_EQ(metric(m, R"(webhookd_delivery_latency_seconds_bucket{le="172800"})"), 23);
    EXPECT_EQ(metric(m, "webhookd_ingest_batch_size_count"), 21);  // requests
    EXPECT_EQ(metric(m, "webhookd_ingest_batch_size_sum"), 23);    // events
    EXPECT_EQ(metric(m, "webhookd_attempts_in_flight"), 0);
    EXPECT_EQ(metric(m, "webhookd_writer_queue_depth"), 0);
    EXPECT_EQ(metric(m, R"(webhookd_endpoint_consecutive_failures{endpoint="ep_bad"})"), 6);
    EXPECT_EQ(metric(m, R"(webhookd_endpoint_consecutive_failures{endpoint="ep_good"})"), 0);
    EXPECT_EQ(metric(m, R"(webhookd_endpoint_deliveries_pending{endpoint="ep_bad"})"), 0);
    EXPECT_NE(m.find("webhookd_build_info{version=\""), std::string::npos);

    // Pause ep_bad and requeue its dead letters: the gauges follow the rows at once.
    ASSERT_EQ(admin.post("/v1/endpoints/ep_bad/pause", "").status, 200);
    auto retried = admin.post("/v1/dead-letters/retry", R"({"endpoint_id":"ep_bad"})");
    ASSERT_EQ(retried.status, 200) << retried.body;
    m = admin.get("/metrics").body;
    EXPECT_EQ(metric(m, "webhookd_dead_letters"), 0);
    EXPECT_EQ(metric(m, "webhookd_deliveries_pending"), 3);
    EXPECT_EQ(metric(m, R"(webhookd_endpoint_deliveries_pending{endpoint="ep_bad"})"), 3);
    EXPECT_EQ(metric(m, R"(webhookd_endpoint_deliveries_pending{endpoint="ep_good"})"), 0);
    auto ep = admin.get("/v1/endpoints/ep_bad").body;
    EXPECT_NE(ep.find(R"("consecutive_failures":6)"), std::string::npos) << ep;
    EXPECT_EQ(ep.find(R"("failing_since":null)"), std::string::npos) << ep;
}

}  // namespace
}  // namespace webhookd
