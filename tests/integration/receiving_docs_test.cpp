// The receivers of docs/receiving.md (docs/receiving/receiver.{mjs,py,go}) work as printed:
// the page holds each file verbatim, and each file, run as its own process, verifies what a
// real daemon sends in every signature format, rejects another secret, a stale or future
// timestamp and a changed body, and accepts any one of several rotated signatures.
// A language is skipped when its program (node, python3, go) is not on PATH.

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>

#include "delivery/signer.hpp"
#include "support/daemon_fixture.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"

namespace webhookd {
namespace {

using namespace std::chrono_literals;
using test::find_program;

constexpr const char* secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr const char* other_secret = "whsec_0CwGm4v2jAJm4rH1rCLBm5pXoZsnEtT0";
constexpr const char* event_id = "evt_docs_1";

// One language's receiver: the program that runs it, its file under docs/receiving/, and
// the info string of its code block in docs/receiving.md.
struct language {
    std::string program;
    std::string file;
    std::string fence;
};

const language node{"node", "receiver.mjs", "js"};
const language python{"python3", "receiver.py", "python"};
const language go{"go", "receiver.go", "go"};

std::string source(const std::string& relative) {
    return WEBHOOKD_SOURCE_DIR "/" + relative;
}


// The interpreter that `python3` on PATH runs. A pyenv shim is a shell script that takes
// about half a second to start it, several times over in each test.
std::string python_interpreter(const std::string& python3) {
    static const std::string resolved = [&] {
        auto [code, output] = test::process::run({python3, "-c", "import sys; print(sys.executable, end='')"});
        return code == 0 && access(output.c_str(), X_OK) == 0 ? output : python3;
    }();
    return resolved;
}

// Starts receivers of one language, each with its own FORMAT and SECRET arguments.
class receivers {
public:
    // Skips the test (GTEST_SKIP) when lang's program is not on PATH; fails it when Go's
    // snippet does not build. Check ::testing::Test::IsSkipped() / HasFatalFailure() after.
    void prepare(const language& lang) {
        auto program = find_program(lang.program);
        if (program.empty()) GTEST_SKIP() << "needs " << lang.program << " on PATH";
        if (lang.program == "python3") program = python_interpreter(program);
        if (lang.program != "go") {
            command_ = {program, source("docs/receiving/" + lang.file)};
            return;
        }
        // Built once and run directly: the child of a `go run` would outlive the SIGKILL
        // that ends the receivers.
        auto binary = dir_.file("receiver");
        auto [code, output] =
            test::process::run({program, "build", "-o", binary, source("docs/receiving/receiver.go")}, 120000);
        ASSERT_EQ(code, 0) << "go build docs/receiving/receiver.go:\n" << output;
        command_ = {binary};
    }

    // Starts one receiver per (format, secret), all at once, without waiting for them.
    void start(const std::vector<std::pair<std::string, std::string>>& configs) {
        for (const auto& [format, key] : configs) {
            auto argv = command_;
            argv.push_back(format);
            argv.push_back(key);
            procs_.push_back(std::make_unique<test::process>(argv));
        }
    }

    // The receivers' ports in the order started, once each has printed "listening <port>"
    // (0 for one that did not within 10 s).
    std::vector<unsigned short> ports() {
        std::vector<unsigned short> ports;
        for (auto& p : procs_) {
            unsigned short port = 0;
            if (p->wait_for_line("listening ")) {
                // The line may come in pieces (PYTHONUNBUFFERED writes each print argument): wait for its end.
                const auto& out = p->output();
                auto at = out.find("listening ");
                auto lines_before = static_cast<std::size_t>(std::count(out.begin(), out.begin() + at, '\n'));
                if (p->wait_for_occurrences("\n", lines_before + 1)) {
                    port = static_cast<unsigned short>(std::atoi(p->output().c_str() + at + 10));
                }
            }
            ports.push_back(port);
        }
        return ports;
    }

    test::process& operator[](std::size_t i) { return *procs_.at(i); }

private:
    test::temp_dir dir_;
    std::vector<std::string> command_;
    std::vector<std::unique_ptr<test::process>> procs_;
};

const std::vector<std::string> formats = {"hex", "sha256", "stripe", "standard"};

// Runs lang's receiver once per format, started with receiver_secret, behind endpoints
// ep_<format> signed with `secret` (a `standard` receiver sits behind a default `hex`
// endpoint: webhook-signature is on every request), delivers one event to all of them with
// a single attempt each, and checks each with expect(db, endpoint id, its receiver).
void deliver_to_every_format(
    const language& lang, const std::string& receiver_secret,
    const std::function<void(const std::string&, const std::string&, test::process&)>& expect) {
    receivers rx;
    rx.prepare(lang);
    if (::testing::Test::IsSkipped() || ::testing::Test::HasFatalFailure()) return;
    std::vector<std::pair<std::string, std::string>> configs;
    for (const auto& f : formats) configs.emplace_back(f, receiver_secret);
    rx.start(configs);

    test::temp_dir dir;
    auto cfg = test::test_config(dir);
    cfg.delivery.allowed_cidrs = test::cidrs({"127.0.0.0/8"});
    cfg.retry.schedule = {0ms};
    test::daemon_runner runner(cfg);  // while the receivers start up
    auto db = dir.file("webhookd.db");
    auto ports = rx.ports();
    for (std::size_t i = 0; i < formats.size(); ++i) {
        ASSERT_NE(ports[i], 0) << formats[i] << " receiver:\n" << rx[i].output();
        test::add_endpoint(db, {.id = "ep_" + formats[i],
                                .url = "http://127.0.0.1:" + std::to_string(ports[i]) + "/webhooks",
                                .secret = secret,
                                .format = formats[i] == "standard" ? "hex" : formats[i]});
    }
    test::http_client producer(runner.ingest_port());
    auto ingest = producer.post(
        "/v1/events",
        R"({"id":"evt_docs_1","event":"booking.created","data":{"id":"bkg_1","guest":"Zoë – ünïcode ✓","n":1.50}})");
    ASSERT_EQ(ingest.status, 202) << ingest.body;
    // One attempt per delivery: it ends delivered or dead, and is logged either way.
    ASSERT_EQ(test::wait_for_count(db, "SELECT COUNT(*) FROM attempts", 4, 10s), 4);
    for (std::size_t i = 0; i < formats.size(); ++i) {
        SCOPED_TRACE("format " + formats[i]);
        expect(db, "ep_" + formats[i], rx[i]);
    }
}

void expect_every_format_verified(const language& lang) {
    deliver_to_every_format(lang, secret, [](const std::string& db, const std::string& ep, test::process& receiver) {
        EXPECT_EQ(
            test::wait_for_count(
                db, "SELECT COUNT(*) FROM deliveries WHERE state = 'delivered' AND endpoint_id = '" + ep + "'", 1, 5s),
            1);
        EXPECT_EQ(test::query_int(db, "SELECT status_code FROM attempts WHERE endpoint_id = '" + ep + "'"), 200);
        EXPECT_TRUE(receiver.wait_for_line(std::string("verified ") + event_id)) << receiver.output();
        EXPECT_EQ(receiver.output().find("rejected"), std::string::npos) << receiver.output();
    });
}

void expect_other_secret_rejected(const language& lang) {
    deliver_to_every_format(
        lang, other_secret, [](const std::string& db, const std::string& ep, test::process& receiver) {
            EXPECT_EQ(test::query_int(db, "SELECT status_code FROM attempts WHERE endpoint_id = '" + ep + "'"), 401);
            EXPECT_EQ(
                test::wait_for_count(db, "SELECT COUNT(*) FROM dead_letters WHERE endpoint_id = '" + ep + "'", 1, 5s),
                1);
            EXPECT_TRUE(receiver.wait_for_line(std::string("rejected ") + event_id)) << receiver.output();
            EXPECT_EQ(receiver.output().find("verified"), std::string::npos) << receiver.output();
        });
}

// Requests signed here (with webhookd's own signer), for what a daemon never sends: old and
// future timestamps, a changed body, and several signatures of which only the last matches.
void expect_timestamps_and_rotation_checked(const language& lang) {
    receivers rx;
    rx.prepare(lang);
    if (::testing::Test::IsSkipped() || ::testing::Test::HasFatalFailure()) return;
    rx.start({{"stripe", secret}, {"standard", secret}});
    auto ports = rx.ports();
    ASSERT_NE(ports[0], 0) << rx[0].output();
    ASSERT_NE(ports[1], 0) << rx[1].output();

    const std::string body = R"({"id":"evt_docs_2","timestamp":"2025-04-19T14:30:00Z","event":"a.b","data":{}})";
    const std::int64_t now = std::time(nullptr);
    const std::vector<std::string> only_ours{secret};
    const std::vector<std::string> rotated{other_secret, secret};  // newest first; the receiver knows the older
    auto stripe = [&](std::int64_t ts, const std::string& sent_body,
                      const std::vector<std::string>& secrets = {std::string(secret)}) {
        test::http_client client(ports[0]);
        return client
            .request("POST", "/", sent_body,
                     {{"Content-Type", "application/json"},
                      {"X-Webhook-Id", "evt_docs_2"},
                      {"X-Webhook-Signature", signature_header_value(signature_format::stripe, secrets, body, ts)}})
            .status;
    };
    auto standard = [&](std::int64_t ts, const std::string& sent_body, const std::vector<std::string>& secrets) {
        test::http_client client(ports[1]);
        return client
            .request("POST", "/", sent_body,
                     {{"Content-Type", "application/json"},
                      {"webhook-id", "evt_docs_2"},
                      {"webhook-timestamp", std::to_string(ts)},
                      {"webhook-signature", standard_webhooks_header(secrets, "evt_docs_2", ts, body)}})
            .status;
    };

    EXPECT_EQ(stripe(now, body), 200);
    EXPECT_EQ(stripe(now, body, rotated), 200);  // one v1 per secret during a rotation, as Stripe sends
    EXPECT_EQ(stripe(now, body, {other_secret}), 401);
    EXPECT_EQ(stripe(now - 250, body), 200);  // within 5 minutes
    EXPECT_EQ(stripe(now - 600, body), 401);  // a replay
    EXPECT_EQ(stripe(now + 600, body), 401);
    EXPECT_EQ(stripe(now, body + " "), 401);  // one byte more than was signed
    EXPECT_EQ(standard(now, body, only_ours), 200);
    EXPECT_EQ(standard(now, body, rotated), 200);
    EXPECT_EQ(standard(now - 600, body, rotated), 401);
    EXPECT_EQ(standard(now + 600, body, only_ours), 401);
    EXPECT_EQ(standard(now, body + " ", only_ours), 401);
    EXPECT_EQ(standard(now, body, {other_secret}), 401);
    EXPECT_TRUE(rx[0].wait_for_occurrences("rejected evt_docs_2", 4)) << rx[0].output();
    EXPECT_TRUE(rx[1].wait_for_occurrences("verified", 2)) << rx[1].output();
}

TEST(receiving_docs, receiving_md_holds_every_snippet_verbatim) {
    auto page = test::read_file(source("docs/receiving.md"));
    ASSERT_FALSE(page.empty()) << "docs/receiving.md is missing";
    for (const auto* lang : {&node, &python, &go}) {
        auto code = test::read_file(source("docs/receiving/" + lang->file));
        ASSERT_FALSE(code.empty()) << lang->file;
        ASSERT_EQ(code.back(), '\n') << lang->file;
        EXPECT_TRUE(page.find("```" + lang->fence + "\n" + code + "```\n") != std::string::npos)
            << "docs/receiving.md must hold docs/receiving/" << lang->file << " verbatim in a ```" << lang->fence
            << " block";
    }
}

TEST(receiving_docs, node_receiver_verifies_every_format) {
    expect_every_format_verified(node);
}
TEST(receiving_docs, node_receiver_rejects_another_secret) {
    expect_other_secret_rejected(node);
}
TEST(receiving_docs, node_receiver_checks_timestamps_and_rotated_signatures) {
    expect_timestamps_and_rotation_checked(node);
}

TEST(receiving_docs, python_receiver_verifies_every_format) {
    expect_every_format_verified(python);
}
TEST(receiving_docs, python_receiver_rejects_another_secret) {
    expect_other_secret_rejected(python);
}
TEST(receiving_docs, python_receiver_checks_timestamps_and_rotated_signatures) {
    expect_timestamps_and_rotation_checked(python);
}

TEST(receiving_docs, go_receiver_verifies_every_format) {
    expect_every_format_verified(go);
}
TEST(receiving_docs, go_receiver_rejects_another_secret) {
    expect_other_secret_rejected(go);
}
TEST(receiving_docs, go_receiver_checks_timestamps_and_rotated_signatures) {
    expect_timestamps_and_rotation_checked(go);
}

}  // namespace
}  // namespace webhookd
