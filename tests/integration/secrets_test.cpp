// Endpoint secrets at rest and out of the logs, with the real binary (decision 44): with
// storage.secret_key_file set, no file the daemon writes (database, WAL, shared memory,
// log at debug level) holds a signing secret, an API token or a tenant token, deliveries are still signed
// with the right secrets after a restart, and a start without the key is refused. Without
// a key file, a warning says secrets are stored in clear. (The store's own view:
// tests/store/secret_storage_test.cpp.)

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "delivery/signer.hpp"
#include "support/daemon_fixture.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_server.hpp"

namespace webhookd {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr const char* admin_token = "adm-7Qe2rV9xK4pL1sZ8";
constexpr const char* ingest_token = "ing-3Hn6tB0yW5cJ2mD7";
constexpr const char* given_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

class secrets_at_rest : public ::testing::Test {
protected:
    // Writes the config (and, with `with_key`, a 0600 key file) and starts the binary.
    std::unique_ptr<test::process> start(bool with_key) {
        if (with_key && !std::filesystem::exists(key_file())) {
            std::ofstream(key_file()) << "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n";
            ::chmod(key_file().c_str(), 0600);
        }
        std::ofstream(dir.file("webhookd.json")) << R"({
  "ingest": {"listen": "127.0.0.1:0", "tokens": [")" << ingest_token << R"("]},
  "admin": {"listen": "127.0.0.1:0", "tokens": [")" << admin_token << R"("]},
  "storage": {"path": ")" << dir.file("webhookd.db") << R"(", "secret_key_file": ")" << (with_key ? key_file() : "") << R"("},
  "delivery": {"allowed_cidrs": ["127.0.0.0/8"]},
  "retry": {"schedule": ["0s"], "jitter": 0},
  "log": {"level": "debug", "file": ")" << log_file() << R"("}
})";
        return std::make_unique<test::process>(std::vector<std::string>{WEBHOOKD_BINARY, "--config", dir.file("webhookd.json")});
    }
    // Waits for the `run`-th start's listeners in the log file (a restart appends to it) and
    // connects to them.
    void connect(test::process& d, std::size_t run = 1) {
        auto starts = [&](const std::string& log) {
            std::size_t n = 0;
            for (auto at = log.find("admin listening on"); at != std::string::npos; at = log.find("admin listening on", at + 1)) ++n;
            return n;
        };
        for (int i = 0; i < 1000 && starts(test::read_file(log_file())) < run; ++i) {
            ASSERT_LT(d.wait(0), 0) << "exited: " << d.output() << test::read_file(log_file());
            std::this_thread::sleep_for(10ms);
        }
        auto log = test::read_file(log_file());
        ASSERT_EQ(starts(log), run) << log;
        auto last = [&](const std::string& name) {
            return test::port_from_log(log.substr(log.rfind(name + " listening on")), name);
        };
        admin = std::make_unique<test::http_client>(last("admin"));
        ingest = std::make_unique<test::http_client>(last("ingest"));
    }
    test::http_result call(test::http_client& c, const std::string& token, const std::string& method,
                           const std::string& target, const std::string& body = "") {
        return c.request(method, target, body,
                         {{"Content-Type", "application/json"}, {"Authorization", std::string("Bearer ") + token}});
    }
    std::string key_file() const { return dir.file("secret.key"); }
    std::string log_file() const { return dir.file("webhookd.log"); }

    test::temp_dir dir;
    std::unique_ptr<test::http_client> admin, ingest;
};

TEST_F(secrets_at_rest, with_a_key_no_file_the_daemon_writes_holds_a_secret_or_a_token) {
    test::test_server receiver(test::test_server::respond("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
    auto d = start(true);
    connect(*d);

    auto a = call(*admin, admin_token, "POST", "/v1/endpoints",
                  R"({"url": ")" + receiver.url("/a") + R"(", "events": ["*"], "secret": ")" + given_secret + R"("})");
    ASSERT_EQ(a.status, 201) << a.body;
    auto b = call(*admin, admin_token, "POST", "/v1/endpoints", R"({"url": ")" + receiver.url("/b") + R"(", "events": ["*"]})");
    ASSERT_EQ(b.status, 201) << b.body;
    const std::string ep_a = json::parse(a.body)["id"], ep_b = json::parse(b.body)["id"];
    const std::string generated = json::parse(b.body)["secret"];
    auto rotated = call(*admin, admin_token, "POST", "/v1/endpoints/" + ep_a + "/rotate-secret", "{}");
    ASSERT_EQ(rotated.status, 200) << rotated.body;
    const std::string newest = json::parse(rotated.body)["secret"];
    // A test event and a failed admin call with a wrong token: both paths that log.
    ASSERT_EQ(call(*admin, admin_token, "POST", "/v1/endpoints/" + ep_b + "/test", R"({"event": "a.b"})").status, 200);
    EXPECT_EQ(call(*admin, "wrong-token", "GET", "/v1/endpoints").status, 401);
    // A tenant token, used once: only its hash may be stored.
    ASSERT_EQ(call(*admin, admin_token, "POST", "/v1/tenants", R"({"id": "biz_1"})").status, 201);
    auto minted = call(*admin, admin_token, "POST", "/v1/tenants/biz_1/tokens", R"({"description": "portal"})");
    ASSERT_EQ(minted.status, 201) << minted.body;
    const std::string tenant_token = json::parse(minted.body)["token"];
    ASSERT_EQ(call(*admin, tenant_token, "GET", "/v1/endpoints").status, 200);
    ASSERT_EQ(call(*ingest, ingest_token, "POST", "/v1/events", R"({"event":"a.b","id":"one","data":1})").status, 202);
    ASSERT_EQ(test::wait_for_count(dir.file("webhookd.db"), "SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 2), 2);

    // Signed with the secrets in clear, though they are stored sealed.
    auto check_signatures = [&](const std::string& event_id) {
        for (const auto& r : receiver.requests()) {
            if (r.header("X-Webhook-Id") != event_id) continue;
            const std::string& secret = r.target == "/a" ? newest : generated;
            EXPECT_EQ(r.header("X-Webhook-Signature"), to_hex(hmac_sha256(secret, r.body))) << r.target;
        }
    };
    check_signatures("one");
    d->signal(SIGTERM);
    ASSERT_EQ(d->wait(), 0) << d->output();

    // Every file of the directory but the config and the key file, which the operator wrote.
    const std::vector<std::string> needles = {"whsec_", given_secret + 6, generated.substr(6), newest.substr(6),
                                              admin_token, ingest_token, tenant_token, tenant_token.substr(4)};
    int scanned = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
        const auto name = entry.path().filename().string();
        if (name == "webhookd.json" || name == "secret.key") continue;
        const std::string bytes = test::read_file(entry.path());
        ++scanned;
        for (const auto& n : needles) EXPECT_EQ(bytes.find(n), std::string::npos) << name << " holds " << n;
    }
    EXPECT_GE(scanned, 2);  // at least the database and the log
    const auto log = test::read_file(log_file());
    EXPECT_NE(log.find(ep_a), std::string::npos) << "the log says nothing at all";
    EXPECT_EQ(log.find("stored in clear"), std::string::npos);

    // Without the key the daemon refuses to start rather than sign with nothing.
    auto keyless = start(false);
    EXPECT_EQ(keyless->wait(), 1) << keyless->output();
    EXPECT_NE((keyless->output() + test::read_file(log_file())).find("storage.secret_key_file"), std::string::npos);

    // With it again, the sealed secrets sign.
    d = start(true);
    connect(*d, 2);
    ASSERT_EQ(call(*ingest, ingest_token, "POST", "/v1/events", R"({"event":"a.b","id":"two","data":2})").status, 202);
    ASSERT_EQ(test::wait_for_count(dir.file("webhookd.db"), "SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 4), 4);
    check_signatures("two");
    d->signal(SIGTERM);
    EXPECT_EQ(d->wait(), 0) << d->output();
}

TEST_F(secrets_at_rest, without_a_key_a_warning_says_secrets_are_stored_in_clear) {
    auto d = start(false);
    connect(*d);
    d->signal(SIGTERM);
    ASSERT_EQ(d->wait(), 0) << d->output();
    EXPECT_NE(test::read_file(log_file()).find("storage.secret_key_file is not set: endpoint signing secrets are stored in clear"),
              std::string::npos)
        << test::read_file(log_file());
}

// Without a key secrets are stored in clear, but one that is deleted (with its endpoint, or
// dropped by a rotation) is zeroed where it was, not left readable in a free page. And under
// a umask of 022 the database and its WAL and shared memory are readable by the owner only.
TEST_F(secrets_at_rest, without_a_key_deleted_secrets_are_erased_and_the_files_are_private) {
    auto old_mask = ::umask(022);
    auto d = start(false);
    ::umask(old_mask);
    connect(*d);
    auto a = call(*admin, admin_token, "POST", "/v1/endpoints",
                  R"({"url": "https://example.com/a", "secret": ")" + std::string(given_secret) + R"("})");
    ASSERT_EQ(a.status, 201) << a.body;
    const std::string ep_a = json::parse(a.body)["id"];
    auto b = call(*admin, admin_token, "POST", "/v1/endpoints", R"({"url": "https://example.com/b"})");
    ASSERT_EQ(b.status, 201) << b.body;
    const std::string ep_b = json::parse(b.body)["id"], first_b = json::parse(b.body)["secret"];
    // b's first secret is dropped at once by a rotation without grace, then b's next one
    // is dropped too by the next rotation.
    auto r1 = call(*admin, admin_token, "POST", "/v1/endpoints/" + ep_b + "/rotate-secret", R"({"grace_period": "0s"})");
    ASSERT_EQ(r1.status, 200) << r1.body;
    const std::string second_b = json::parse(r1.body)["secret"];
    ASSERT_EQ(call(*admin, admin_token, "POST", "/v1/endpoints/" + ep_b + "/rotate-secret", R"({"grace_period": "0s"})").status, 200);
    ASSERT_EQ(call(*admin, admin_token, "DELETE", "/v1/endpoints/" + ep_a).status, 200);
    for (const char* suffix : {"", "-wal", "-shm"}) {
        struct stat st {};
        ASSERT_EQ(::stat(dir.file(std::string("webhookd.db") + suffix).c_str(), &st), 0) << suffix;
        EXPECT_EQ(st.st_mode & 0777, 0600u) << "webhookd.db" << suffix;
    }
    // While the daemon runs (the WAL still in use), and after it stopped.
    auto scan = [&](const std::string& when) {
        int scanned = 0;
        for (const char* name : {"webhookd.db", "webhookd.db-wal"}) {
            if (!std::filesystem::exists(dir.file(name))) continue;
            const std::string bytes = test::read_file(dir.file(name));
            ++scanned;
            for (const auto& gone : {std::string(given_secret).substr(6), first_b.substr(6), second_b.substr(6)}) {
                EXPECT_EQ(bytes.find(gone), std::string::npos) << when << ": " << name << " still holds a deleted secret";
            }
        }
        EXPECT_GE(scanned, 1) << when;
    };
    scan("running");
    d->signal(SIGTERM);
    ASSERT_EQ(d->wait(), 0) << d->output();
    scan("stopped");
}

}  // namespace
}  // namespace webhookd
