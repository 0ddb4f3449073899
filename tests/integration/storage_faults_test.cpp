// Storage that fails: a full disk and I/O errors, injected under the real daemon by the
// faultfs VFS (tests/support/faultfs.hpp). Ingest must refuse with 503 storage_unavailable
// and store nothing, the rest of the daemon must keep going, and everything must come back
// by itself once writes succeed again. (Crashes and power cuts: tests/crash/.)

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/daemon_fixture.hpp"
#include "support/faultfs.hpp"
#include "support/http_client.hpp"
#include "support/test_server.hpp"

namespace webhookd {
namespace {

using namespace std::chrono_literals;
using test::test_server;

constexpr const char* ok_response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

class storage_faults : public test::daemon_test, public ::testing::WithParamInterface<int> {
protected:
    void SetUp() override {
        test::faultfs::install();
        test::faultfs::fail_writes(0);
    }
    void TearDown() override { test::faultfs::fail_writes(0); }
    void configure(config& cfg) override {
        cfg.delivery.allowed_cidrs = test::cidrs({"127.0.0.0/8"});
        cfg.delivery.timeout = 2s;  // leases last timeout + 30 s: far longer than these tests
        cfg.retry.schedule = {0ms, 20ms, 20ms};
        cfg.retry.jitter = 0;
    }
    test::http_result post(const std::string& target, const std::string& body) {
        return test::http_client(runner->ingest_port()).post(target, body);
    }
    static std::string event(const std::string& id) {
        return R"({"event":"order.created","id":")" + id + R"(","data":{"n":1}})";
    }
};

TEST_P(storage_faults, ingest_answers_503_stores_nothing_and_recovers_when_writes_succeed_again) {
    test_server receiver(test_server::respond(ok_response));
    start();
    test::add_endpoint(db(), {.id = "ep_1", .url = receiver.url("/hook")});
    ASSERT_EQ(post("/v1/events", event("before")).status, 202);
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 1), 1);

    test::faultfs::fail_writes(GetParam());
    auto before = test::faultfs::failed_writes();
    for (int i = 0; i < 3; ++i) {
        auto r = post("/v1/events", event("refused-" + std::to_string(i)));
        ASSERT_EQ(r.status, 503) << r.body;
        EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["code"], "storage_unavailable") << r.body;
        EXPECT_EQ(r.headers["retry-after"], "1");
    }
    auto batch = post("/v1/events/batch", "{\"events\": [" + event("refused-b1") + "," + event("refused-b2") + "]}");
    EXPECT_EQ(batch.status, 503) << batch.body;
    EXPECT_GT(test::faultfs::failed_writes(), before);  // the faults were hit, not avoided
    test::http_client health(runner->ingest_port());
    EXPECT_EQ(health.get("/healthz").status, 200);  // alive
    EXPECT_EQ(health.get("/readyz").status, 503);   // but cannot write
    EXPECT_EQ(test::http_client(runner->admin_port()).get("/v1/endpoints").status, 200);  // reads still work

    test::faultfs::fail_writes(0);
    EXPECT_EQ(health.get("/readyz").status, 200);
    auto r = post("/v1/events", event("after"));
    ASSERT_EQ(r.status, 202) << r.body;
    EXPECT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 2), 2);
    EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE id LIKE 'refused-%'"), 0);
    EXPECT_EQ(count("SELECT COUNT(*) FROM events"), 2);
    EXPECT_EQ(receiver.requests().size(), 2u);
}

TEST_P(storage_faults, an_attempt_that_ends_while_writes_fail_is_recorded_once_they_succeed) {
    std::atomic<bool> release{false}, answered{false};
    test_server receiver([&](test::test_connection& c) {
        while (c.read_request()) {
            while (!release) std::this_thread::sleep_for(2ms);
            if (!c.write(ok_response)) return;
            answered = true;
        }
    });
    start();
    test::add_endpoint(db(), {.id = "ep_1", .url = receiver.url("/hook")});
    ASSERT_EQ(post("/v1/events", event("in-flight")).status, 202);
    for (int i = 0; i < 500 && receiver.requests().empty(); ++i) std::this_thread::sleep_for(10ms);
    ASSERT_EQ(receiver.requests().size(), 1u);

    test::faultfs::fail_writes(GetParam());
    release = true;
    for (int i = 0; i < 500 && !answered; ++i) std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(answered);
    std::this_thread::sleep_for(300ms);  // the outcome's write has been tried and has failed
    EXPECT_EQ(count("SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'"), 0);

    test::faultfs::fail_writes(0);
    // Written again by the dispatcher within seconds; the lease (32 s) has not run out, so
    // the delivery is not sent a second time.
    EXPECT_EQ(test::wait_for_count(db(), "SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 1, 10s), 1);
    EXPECT_EQ(receiver.requests().size(), 1u);
    EXPECT_EQ(count("SELECT COUNT(*) FROM attempts WHERE outcome = 'success'"), 1);
}

INSTANTIATE_TEST_SUITE_P(faults, storage_faults, ::testing::Values(SQLITE_FULL, SQLITE_IOERR_WRITE),
                         [](const ::testing::TestParamInfo<int>& info) {
                             return info.param == SQLITE_FULL ? std::string("disk_full") : std::string("io_error");
                         });

}  // namespace
}  // namespace webhookd
