// Receivers that misbehave on purpose, met by the real dispatcher: an endless or huge body,
// a response dripped a byte at a time, garbage instead of HTTP, a close mid-response, bad
// certificates, redirects towards loopback and the cloud metadata address, and a host name
// that resolves to a forbidden address on its second lookup (DNS rebinding). For each, the
// attempt must end within the delivery timeout, be classified, and be recorded in
// `attempts`; nothing may reach an address the SSRF guard forbids; and the daemon keeps
// delivering to a healthy endpoint meanwhile. (The client's own view of each of these is in
// tests/delivery/delivery_client_test.cpp.)

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/daemon_fixture.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/test_server.hpp"
#include "support/tls_test_ca.hpp"

namespace webhookd {
namespace {

using namespace std::chrono_literals;
using test::test_connection;
using test::test_server;

constexpr const char* ok_response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
constexpr auto attempt_timeout = 1s;
// An attempt may run past the timeout by the time it takes to notice and record it.
constexpr std::int64_t bound_us = std::chrono::microseconds(attempt_timeout + 500ms).count();

// Answers one request with `head`, then body bytes for as long as the client reads.
test_server::handler endless(std::string head, std::string piece) {
    return [head = std::move(head), piece = std::move(piece)](test_connection& c) {
        if (!c.read_request() || !c.write(head)) return;
        while (c.write(piece)) {
        }
    };
}

// Answers one request with `response`, one byte per `every`.
test_server::handler drip(std::string response, std::chrono::milliseconds every) {
    return [response = std::move(response), every](test_connection& c) {
        if (!c.read_request()) return;
        for (char ch : response) {
            if (!c.write(std::string_view(&ch, 1))) return;
            std::this_thread::sleep_for(every);
        }
    };
}

test_server::handler redirect_to(const std::string& location) {
    return test_server::respond("HTTP/1.1 307 Temporary Redirect\r\nLocation: " + location +
                                "\r\nContent-Length: 0\r\n\r\n");
}

// What one hostile receiver does, and how its one attempt must be recorded.
struct hostile_case {
    std::string name;
    std::function<std::unique_ptr<test_server>(const test::tls_test_files&)> serve;
    bool https;
    std::string outcome;
    int status_code;       // 0: no status was read
    std::string error;     // a part of attempts.error ("" for an HTTP answer)
};

void PrintTo(const hostile_case& c, std::ostream* os) { *os << c.name; }

std::unique_ptr<test_server> plain(test_server::handler h) { return std::make_unique<test_server>(std::move(h)); }

std::vector<hostile_case> hostile_cases() {
    const std::string kib(1024, 'x');
    const std::string chunk = "400\r\n" + kib + "\r\n";  // 0x400 = 1024 bytes
    return {
        {"endless_chunked_body", [=](auto&) { return plain(endless("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", chunk)); },
         false, "success", 200, ""},
        {"huge_declared_body", [=](auto&) { return plain(endless("HTTP/1.1 503 Busy\r\nContent-Length: 100000000000\r\n\r\n", kib)); },
         false, "http_error", 503, ""},
        {"response_header_dripped_a_byte_a_second", [](auto&) { return plain(drip(ok_response, 1000ms)); },
         false, "timeout", 0, "in time"},
        {"response_body_dripped_a_byte_every_100ms",
         [](auto&) {
             return plain([](test_connection& c) {
                 if (!c.read_request() || !c.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")) return;
                 while (c.write("x")) std::this_thread::sleep_for(100ms);
             });
         },
         false, "timeout", 200, "in time"},
        {"garbage_instead_of_http",
         [](auto&) {
             return plain([](test_connection& c) {
                 if (c.read_request() && c.write("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\x01\x02\x03\r\n\r\n")) c.hold();
             });
         },
         false, "connect_error", 0, "could not be parsed as HTTP"},
        {"close_mid_response",
         [](auto&) {
             return plain([](test_connection& c) {
                 if (c.read_request()) c.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
             });
         },
         false, "connect_error", 200, "mid-response"},
        {"self_signed_certificate",
         [](const test::tls_test_files& f) {
             return std::make_unique<test_server>(test_server::respond(ok_response), f.self_signed.cert, f.self_signed.key);
         },
         true, "tls_error", 0, "self"},
        {"expired_certificate",
         [](const test::tls_test_files& f) {
             return std::make_unique<test_server>(test_server::respond(ok_response), f.expired.cert, f.expired.key);
         },
         true, "tls_error", 0, "expired"},
        {"certificate_for_another_host",
         [](const test::tls_test_files& f) {
             return std::make_unique<test_server>(test_server::respond(ok_response), f.wrong_host.cert, f.wrong_host.key);
         },
         true, "tls_error", 0, "mismatch"},
        {"redirect_to_the_metadata_address",
         [](auto&) { return plain(redirect_to("http://169.254.169.254/latest/meta-data/iam/security-credentials/")); },
         false, "http_error", 307, ""},
    };
}

class hostile_receiver : public test::daemon_test, public ::testing::WithParamInterface<hostile_case> {
protected:
    static void SetUpTestSuite() {
        ca_dir_ = new test::temp_dir();
        files_ = test::make_tls_test_files(ca_dir_->path());
    }
    static void TearDownTestSuite() {
        delete ca_dir_;
        ca_dir_ = nullptr;
    }
    void configure(config& cfg) override {
        cfg.delivery.allowed_cidrs = test::cidrs({"127.0.0.1/32"});  // and nothing else: not 169.254.169.254
        cfg.delivery.ca_file = files_.ca_cert;
        cfg.delivery.timeout = attempt_timeout;
        cfg.retry.schedule = {0ms};  // one attempt, then a dead letter
        cfg.retry.jitter = 0;
    }
    std::string ingest(const std::string& body) {
        auto r = test::http_client(runner->ingest_port()).post("/v1/events", body);
        EXPECT_EQ(r.status, 202) << r.body;
        return r.body;
    }

    static inline test::temp_dir* ca_dir_ = nullptr;
    static inline test::tls_test_files files_;
};

TEST_P(hostile_receiver, the_attempt_is_bounded_classified_and_recorded_and_others_are_served) {
    const auto& c = GetParam();
    auto hostile = c.serve(files_);
    test_server healthy(test_server::respond(ok_response));
    start();
    const std::string url = (c.https ? "https://localhost:" : "http://127.0.0.1:") + std::to_string(hostile->port()) + "/hook";
    test::add_endpoint(db(), {.id = "ep_hostile", .url = url, .patterns = R"(["hostile.*"])"});
    test::add_endpoint(db(), {.id = "ep_healthy", .url = healthy.url(), .patterns = R"(["healthy.*"])"});

    ingest(R"({"event":"hostile.test","data":{"n":1}})");
    for (int i = 0; i < 5; ++i) ingest(R"({"event":"healthy.test","data":{"n":)" + std::to_string(i) + "}}");

    // The healthy endpoint is served whatever the hostile one does.
    EXPECT_EQ(wait_for("SELECT COUNT(*) FROM deliveries WHERE endpoint_id = 'ep_healthy' AND state = 'delivered'", 5), 5);
    const bool delivered = c.outcome == "success";
    ASSERT_EQ(wait_for(delivered ? "SELECT COUNT(*) FROM deliveries WHERE endpoint_id = 'ep_hostile' AND state = 'delivered'"
                                 : "SELECT COUNT(*) FROM dead_letters WHERE endpoint_id = 'ep_hostile'",
                       1),
              1);

    sqlite::connection db_conn(db());
    auto& q = db_conn.prepare(
        "SELECT outcome, COALESCE(status_code, 0), COALESCE(error, ''), duration_us, LENGTH(response_snippet) "
        "FROM attempts WHERE endpoint_id = 'ep_hostile'");
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.text(0), c.outcome);
    EXPECT_EQ(q.int64(1), c.status_code);
    EXPECT_NE(q.text(2).find(c.error), std::string::npos) << q.text(2);
    EXPECT_LE(q.int64(3), bound_us);
    EXPECT_LE(q.int64(4), 4096);  // at most the snippet, however much was sent
    EXPECT_FALSE(q.step()) << "one attempt only";
}

INSTANTIATE_TEST_SUITE_P(receivers, hostile_receiver, ::testing::ValuesIn(hostile_cases()),
                         [](const ::testing::TestParamInfo<hostile_case>& info) { return info.param.name; });

// 3xx answers are failures, never followed, whatever they point at: loopback spelled in
// several ways, and a loopback port where a receiver waits.
TEST_F(hostile_receiver, redirects_to_loopback_are_recorded_and_never_followed) {
    test_server target(test_server::respond(ok_response));
    const std::string port = std::to_string(target.port());
    const std::vector<std::string> locations = {"http://127.0.0.1:" + port + "/", "http://localhost:" + port + "/",
                                                "http://[::1]:" + port + "/", "http://2130706433:" + port + "/",
                                                "/relative-to-the-same-origin"};
    std::vector<std::unique_ptr<test_server>> redirectors;
    for (const auto& l : locations) redirectors.push_back(plain(redirect_to(l)));
    start();
    for (std::size_t i = 0; i < redirectors.size(); ++i) {
        test::add_endpoint(db(), {.id = "ep_" + std::to_string(i), .url = redirectors[i]->url("/hook")});
    }
    ingest(R"({"event":"a.b","data":1})");
    ASSERT_EQ(wait_for("SELECT COUNT(*) FROM dead_letters", 5), 5);
    EXPECT_EQ(count("SELECT COUNT(*) FROM attempts WHERE outcome = 'http_error' AND status_code = 307"), 5);
    EXPECT_EQ(target.accepts(), 0u);
    for (const auto& r : redirectors) EXPECT_EQ(r->requests().size(), 1u);  // not even the relative one is followed
}

// DNS rebinding. The real binary runs in a mount namespace of its own (unshare -m), where
// /etc/hosts is a file of the test's: the host name resolves to an allowed address when the
// endpoint is registered and at the first delivery, and to the cloud metadata address on the
// next lookup. That lookup's address must be refused without being dialled.
TEST(hostile_receiver_dns, a_name_that_resolves_to_a_forbidden_address_on_a_later_lookup_is_never_dialled) {
    // Each answer closes the connection, so every delivery resolves the name again.
    test_server receiver(test_server::respond("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"));
    test::temp_dir dir;
    const std::string hosts = dir.file("hosts");
    auto point_at = [&](const std::string& address) {
        std::ofstream(hosts, std::ios::trunc) << "127.0.0.1 localhost\n" << address << " rebind.test\n";  // in place: the bind mount follows the inode
    };
    point_at("127.0.0.1");
    const std::string unshare = test::find_program("unshare");
    const std::string mount_hosts = "mount --bind \"$0\" /etc/hosts";
    if (unshare.empty() || test::process::run({unshare, "-m", "sh", "-c", mount_hosts, hosts}).first != 0) {
        GTEST_SKIP() << "a private mount namespace (unshare -m, mount --bind) is not permitted here";
    }
    auto cfg = test::write_config(dir, R"(, "delivery": {"allowed_cidrs": ["127.0.0.1/32"], "timeout": "1s"},
        "retry": {"schedule": ["0s"], "jitter": 0})");
    test::process d({unshare, "-m", "sh", "-c", mount_hosts + " && exec \"$@\"", hosts,
                     WEBHOOKD_BINARY, "--config", cfg});
    ASSERT_TRUE(d.wait_for_line("admin listening on")) << d.output();
    test::http_client admin(test::port_from_log(d.output(), "admin"));
    test::http_client ingest(test::port_from_log(d.output(), "ingest"));

    // Registration resolves the name and finds it allowed.
    auto created = admin.post("/v1/endpoints", R"({"url": "http://rebind.test:)" + std::to_string(receiver.port()) +
                                                   R"(/hook", "events": ["*"]})");
    ASSERT_EQ(created.status, 201) << created.body;
    const std::string ep = nlohmann::json::parse(created.body)["id"];
    ASSERT_EQ(ingest.post("/v1/events", R"({"event":"a.b","id":"first","data":1})").status, 202);
    const std::string db = dir.file("webhookd.db");
    ASSERT_EQ(test::wait_for_count(db, "SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 1), 1);
    ASSERT_EQ(receiver.accepts(), 1u);

    point_at("169.254.169.254");
    ASSERT_EQ(ingest.post("/v1/events", R"({"event":"a.b","id":"second","data":2})").status, 202);
    ASSERT_EQ(test::wait_for_count(db, "SELECT COUNT(*) FROM dead_letters", 1), 1);
    EXPECT_EQ(test::query_text(db, "SELECT outcome || ': ' || error FROM attempts WHERE delivery_id = "
                                   "(SELECT id FROM dead_letters)"),
              "connect_error: refused by SSRF guard: 169.254.169.254 is in a blocked range (link-local); "
              "allow it with delivery.allowed_cidrs");
    EXPECT_EQ(receiver.accepts(), 1u);

    // And registering the name while it points there is refused outright.
    auto refused = admin.post("/v1/endpoints", R"({"url": "http://rebind.test/other", "events": ["*"]})");
    EXPECT_EQ(refused.status, 400) << refused.body;
    EXPECT_NE(refused.body.find("169.254.169.254"), std::string::npos) << refused.body;
    d.signal(SIGTERM);
    EXPECT_EQ(d.wait(), 0) << d.output();
}

}  // namespace
}  // namespace webhookd
