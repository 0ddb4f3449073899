// Receivers written by others verify what webhookd sends: the Node and Python verifiers of
// a booking platform's webhook guide (a receiver that checks a hex HMAC of the raw body,
// taken verbatim from the guide) and the `standardwebhooks` npm package. Skipped when node
// (with tests/e2e/node_modules) or python3 is not on this machine. The guide's text is
// tests/e2e/booking_platform_guide.txt, unchanged.

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "support/daemon_fixture.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"

namespace webhookd {
namespace {

using namespace std::chrono_literals;
using test::find_program;

constexpr const char* secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// The platform's webhook guide, byte for byte: its verifiers run exactly as it prints them.
std::string platform_guide() { return WEBHOOKD_SOURCE_DIR "/tests/e2e/booking_platform_guide.txt"; }

unsigned short listening_port(test::process& p) {
    if (!p.wait_for_line("listening ")) return 0;
    auto at = p.output().find("listening ");
    return static_cast<unsigned short>(std::stoi(p.output().substr(at + 10, 5)));
}

// Sends three events to the receiver and expects every one delivered (the receiver answers
// 401 to anything it cannot verify) and acknowledged by each named verifier.
void expect_receiver_accepts(test::process& receiver, const std::vector<std::string>& verifiers) {
    auto port = listening_port(receiver);
    ASSERT_NE(port, 0) << receiver.output();
    test::temp_dir dir;
    auto cfg = test::test_config(dir);
    cfg.delivery.allowed_cidrs = test::cidrs({"127.0.0.0/8"});
    cfg.retry.schedule = {0ms};
    test::daemon_runner runner(cfg);
    test::add_endpoint(dir.file("webhookd.db"), {.id = "ep_1", .url = "http://127.0.0.1:" + std::to_string(port) + "/webhooks/yapp"});
    test::http_client producer(runner.ingest_port());
    for (const char* body : {R"({"event":"booking.created","data":{"id":"bkg_987654321","customerName":"John Doe"}})",
                             R"({"event":"booking.cancelled","data":{"id":"bkg_2","note":"Zoë – ünïcode ✓","n":1.50}})",
                             R"({"event":"customer.updated","data":[1,{"deep":{"er":null}},"x"]})"}) {
        ASSERT_EQ(producer.post("/v1/events", body).status, 202);
    }
    auto db = dir.file("webhookd.db");
    EXPECT_EQ(test::wait_for_count(db, "SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 3), 3)
        << "receiver said:\n" << receiver.output();
    EXPECT_EQ(test::query_int(db, "SELECT COUNT(*) FROM attempts WHERE status_code = 401"), 0) << receiver.output();
    for (const auto& v : verifiers) {
        EXPECT_TRUE(receiver.wait_for_occurrences("\"" + v + "\":true", 3)) << v << "\n" << receiver.output();
    }
}

TEST(receivers, a_platform_guides_node_verifier_and_standardwebhooks_accept_our_requests) {
    auto node = find_program("node");
    auto modules = std::filesystem::path(WEBHOOKD_SOURCE_DIR) / "tests/e2e/node_modules/standardwebhooks";
    if (node.empty() || !std::filesystem::exists(modules)) {
        GTEST_SKIP() << "needs node and tests/e2e/node_modules (npm ci --prefix tests/e2e)";
    }
    test::process receiver({node, WEBHOOKD_SOURCE_DIR "/tests/e2e/receiver.mjs", platform_guide(), secret});
    expect_receiver_accepts(receiver, {"seed", "standardwebhooks"});
}

TEST(receivers, a_platform_guides_python_verifier_accepts_our_requests) {
    auto python = find_program("python3");
    if (python.empty()) GTEST_SKIP() << "needs python3";
    test::process receiver({python, WEBHOOKD_SOURCE_DIR "/tests/e2e/receiver.py", platform_guide(), secret});
    expect_receiver_accepts(receiver, {"seed"});
}

}  // namespace
}  // namespace webhookd
