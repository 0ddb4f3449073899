#include "delivery/delivery_client.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <ctime>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir.hpp"
#include "support/test_server.hpp"
#include "support/tls_test_ca.hpp"

namespace webhookd {
namespace {

using namespace std::chrono_literals;
using test::test_connection;
using test::test_server;

constexpr const char* ok_response = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

// "Wed, 21 Oct 2015 07:28:00 GMT" for t.
std::string imf_fixdate(std::chrono::system_clock::time_point t) {
    const std::time_t secs = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char text[64];
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return text;
}

// n bytes of "abc...zabc...", so a snippet shows where it was cut.
std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
    return s;
}

// A handler that reads one request, sends `head`, then body chunks of the pattern for as
// long as the client reads them (chunked encoding when `chunked`, raw bytes otherwise).
test_server::handler endless_body(std::string head, bool chunked) {
    return [head = std::move(head), chunked](test_connection& c) {
        if (!c.read_request() || !c.write(head)) return;
        const std::string data = pattern(26 * 160);
        const std::string piece = chunked ? "1040\r\n" + data + "\r\n" : data;  // 0x1040 = 4160
        while (c.write(piece)) {
        }
    };
}

// A port on 127.0.0.1 that nothing listens on: bound, then closed.
unsigned short free_port() {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor a(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    const unsigned short port = a.local_endpoint().port();
    a.close();
    return port;
}

class DeliveryClientTest : public ::testing::Test {
protected:
    void SetUp() override {
        for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
    }

    void TearDown() override {
        work_.reset();
        ioc_.stop();
        for (auto& t : threads_) t.join();
    }

    // Loopback allowed, so the local test servers are reachable.
    static delivery_client_options local_options() {
        delivery_client_options options;
        options.timeout = 5s;
        options.allowed_cidrs = {*parse_cidr("127.0.0.0/8")};
        options.user_agent = "webhookd/test";
        return options;
    }

    delivery_client make_client(delivery_client_options options) { return delivery_client(ioc_, std::move(options), log_); }

    // Sends and waits for the outcome.
    static delivery_response send(delivery_client& client, std::string url,
                                  std::vector<std::pair<std::string, std::string>> headers = {},
                                  std::string body = "{}") {
        auto promise = std::make_shared<std::promise<delivery_response>>();
        auto future = promise->get_future();
        client.send({std::move(url), std::move(headers), std::move(body)},
                    [promise](delivery_response r) { promise->set_value(std::move(r)); });
        if (future.wait_for(20s) != std::future_status::ready) {
            ADD_FAILURE() << "done was not called within 20 s";
            return {};
        }
        return future.get();
    }

    boost::asio::io_context ioc_;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_{
        ioc_.get_executor()};
    std::vector<std::thread> threads_;
    // Debug level into a null sink: every log line is formatted, none is printed.
    std::shared_ptr<spdlog::logger> log_ = [] {
        auto log = std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
        log->set_level(spdlog::level::debug);
        return log;
    }();
};

// --- Plain HTTP: request and classification ------------------------------------------------

TEST_F(DeliveryClientTest, PostsTheRequestAndReportsSuccess) {
    test_server server(test_server::respond(ok_response));
    auto client = make_client(local_options());

    auto res = send(client, server.url("/hooks/in?tenant=7"),
                    {{"Content-Type", "application/json"}, {"X-Webhook-Id", "evt_123"}}, R"({"a":1})");

    EXPECT_EQ(res.outcome, attempt_outcome::success) << res.error;
    EXPECT_EQ(res.status_code, 200);
    EXPECT_EQ(res.snippet, "hello");
    EXPECT_TRUE(res.error.empty());
    EXPECT_FALSE(res.retry_after);
    EXPECT_GT(res.elapsed.count(), 0);

    auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1u);
    const auto& req = requests[0];
    EXPECT_EQ(req.method, "POST");
    EXPECT_EQ(req.target, "/hooks/in?tenant=7");
    EXPECT_EQ(req.header("Host"), "127.0.0.1:" + std::to_string(server.port()));
    EXPECT_EQ(req.header("User-Agent"), "webhookd/test");
    EXPECT_EQ(req.header("Content-Type"), "application/json");
    EXPECT_EQ(req.header("X-Webhook-Id"), "evt_123");
    EXPECT_EQ(req.header("Content-Length"), "7");
    EXPECT_EQ(req.body, R"({"a":1})");
}

TEST_F(DeliveryClientTest, ServerErrorIsHttpError) {
    test_server server(test_server::respond("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops"));
    auto client = make_client(local_options());

    auto res = send(client, server.url());
    EXPECT_EQ(res.outcome, attempt_outcome::http_error);
    EXPECT_EQ(res.status_code, 500);
    EXPECT_EQ(res.snippet, "oops");
    EXPECT_NE(res.error.find("500"), std::string::npos);
}

TEST_F(DeliveryClientTest, RedirectIsNotFollowed) {
    test_server server(test_server::respond("HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"));
    auto client = make_client(local_options());

    auto res = send(client, server.url("/hook"));
    EXPECT_EQ(res.outcome, attempt_outcome::http_error);
    EXPECT_EQ(res.status_code, 302);
    std::this_thread::sleep_for(50ms);  // room for a follow-up request, which must not come
    auto requests = server.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].target, "/hook");
}

TEST_F(DeliveryClientTest, TooManyRequestsCarriesRetryAfterSeconds) {
    test_server server(
        test_server::respond("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 120\r\nContent-Length: 0\r\n\r\n"));
    auto client = make_client(local_options());

    auto res = send(client, server.url());
    EXPECT_EQ(res.outcome, attempt_outcome::http_error);
    EXPECT_EQ(res.status_code, 429);
    ASSERT_TRUE(res.retry_after);
    EXPECT_EQ(*res.retry_after, 120s);
}

TEST_F(DeliveryClientTest, ServiceUnavailableCarriesRetryAfterDate) {
    const std::string when = imf_fixdate(std::chrono::system_clock::now() + 1h);
    test_server server(test_server::respond("HTTP/1.1 503 Service Unavailable\r\nRetry-After: " + when +
                                            "\r\nContent-Length: 0\r\n\r\n"));
    auto client = make_client(local_options());

    auto res = send(client, server.url());
    EXPECT_EQ(res.outcome, attempt_outcome::http_error);
    EXPECT_EQ(res.status_code, 503);
    ASSERT_TRUE(res.retry_after);
    EXPECT_GT(*res.retry_after, 3590s);
    EXPECT_LE(*res.retry_after, 3600s);
}

TEST_F(DeliveryClientTest, RetryAfterIsIgnoredOnOtherStatuses) {
    test_server server(
        test_server::respond("HTTP/1.1 500 Internal Server Error\r\nRetry-After: 120\r\nContent-Length: 0\r\n\r\n"));
    auto client = make_client(local_options());
    EXPECT_FALSE(send(client, server.url()).retry_after);
}

// --- Transport failures ------------------------------------------------------------------

TEST_F(DeliveryClientTest, RefusedPortIsConnectError) {
    auto client = make_client(local_options());
    auto res = send(client, "http://127.0.0.1:" + std::to_string(free_port()) + "/");
    EXPECT_EQ(res.outcome, attempt_outcome::connect_error);
    EXPECT_EQ(res.status_code, 0);
    EXPECT_NE(res.error.find("cannot connect"), std::string::npos) << res.error;
    EXPECT_LT(res.elapsed, 1s);
}

TEST_F(DeliveryClientTest, SilentServerTimesOut) {
    test_server server([](test_connection& c) { c.hold(); });
    auto options = local_options();
    options.timeout = 300ms;
    auto client = make_client(options);

    auto res = send(client, server.url());
    EXPECT_EQ(res.outcome, attempt_outcome::timeout) << res.error;
    EXPECT_GE(res.elapsed, 250ms);
    EXPECT_LT(res.elapsed, 2s);
}

TEST_F(DeliveryClientTest, StalledBodyTimesOut) {
    test_server server([](test_connection& c) {
        if (c.read_request() && c.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")) c.hold();
    });
    auto options = local_options();
    options.timeout = 300ms;
    auto client = make_client(options);

    auto res = send(client, server.url());
    EXPECT_EQ(res.outcome, attempt_outcome::timeout) << res.error;
    EXPECT_EQ(res.status_code, 200);  // the header did arrive
    EXPECT_LT(res.elapsed, 2s);
}

TEST_F(DeliveryClientTest, UnresolvableHostIsDnsError) {
    auto options = local_options();
    options.timeout = 3s;
    auto client = make_client(options);

    auto res = send(client, "http://no-such-host.invalid/");  // RFC 6761: never resolves
    if (res.outcome == attempt_outcome::timeout) GTEST_SKIP() << "this machine's resolver did not answer in time";
    EXPECT_EQ(res.outcome, attempt_outcome::dns_error) << res.error;
    EXPECT_NE(res.error.find("cannot resolve no-such-host.invalid"), std::string::npos) << res.error;
}

TEST_F(DeliveryClientTest, GarbageInsteadOfHttpIsConnectError) {
    test_server server([](test_connection& c) {
        if (!c.read_request()) return;
        c.write("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
        c.hold();
    });
    auto client = make_client(local_options());

    auto res = send(client, server.url());
    EXPECT_EQ(res.outcome, attempt_outcome::connect_error);
    EXPECT_EQ(res.status_code, 0);
    EXPECT_NE(res.error.find("could not be parsed as HTTP"), std::string::npos) << res.error;
    EXPECT_LT(res.elapsed, 2s);
}

TEST_F(DeliveryClientTest, CloseMidResponseIsConnectError) {
    test_server server([](test_connection& c) {
        if (c.read_request()) c.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");
    });
    auto client = make_client(local_options());

    auto res = send(client, server.url());
    EXPECT_EQ(res.outcome, attempt_outcome::connect_error);
    EXPECT_NE(res.error.find("mid-response"), std::string::npos) << res.error;
}

TEST_F(DeliveryClientTest, CloseBeforeAnyResponseIsConnectError) {
    test_server server([](test_connection& c) { c.read_request(); });
    auto client = make_client(local_options());

    auto res = send(client, server.url());
    EXPECT_EQ(res.outcome, attempt_outcome::connect_error);
    EXPECT_NE(res.error.find("before a response"), std::string::npos) << res.error;
}

TEST_F(DeliveryClientTest, EndlessBodyIsCutAtTheLimitAndStillClassified) {
    test_server server(endless_body("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true));
    auto options = local_options();
    options.timeout = 10s;
    options.max_response_body = 64 * 1024;
    options.max_snippet = 100;
    auto client = make_client(options);

    auto res = send(client, server.url());
    EXPECT_EQ(res.outcome, attempt_outcome::success) << res.error;
    EXPECT_EQ(res.status_code, 200);
    EXPECT_EQ(res.snippet, pattern(100));
    EXPECT_LT(res.elapsed, 2s);  // bounded by the body limit, not the 10 s timeout
}

TEST_F(DeliveryClientTest, HugeDeclaredBodyIsCutAtTheLimitAndStillClassified) {
    test_server server(endless_body("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 1000000000\r\n\r\n", false));
    auto options = local_options();
    options.timeout = 10s;
    auto client = make_client(options);

    auto res = send(client, server.url());
    EXPECT_EQ(res.outcome, attempt_outcome::http_error) << res.error;
    EXPECT_EQ(res.status_code, 500);
    EXPECT_EQ(res.snippet, pattern(options.max_snippet));
    EXPECT_LT(res.elapsed, 2s);

    // The half-read connection was not pooled: the next attempt dials again.
    send(client, server.url());
    EXPECT_EQ(server.accepts(), 2u);
}

// --- Keep-alive pool ----------------------------------------------------------------------

TEST_F(DeliveryClientTest, KeepAliveReusesOneConnection) {
    test_server server(test_server::respond(ok_response));
    auto client = make_client(local_options());

    EXPECT_EQ(send(client, server.url()).outcome, attempt_outcome::success);
    EXPECT_EQ(send(client, server.url()).outcome, attempt_outcome::success);
    EXPECT_EQ(server.accepts(), 1u);
    EXPECT_EQ(server.requests().size(), 2u);
}

TEST_F(DeliveryClientTest, ConnectionCloseIsNotPooled) {
    test_server server([](test_connection& c) {
        if (c.read_request()) c.write("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok");
        c.hold();  // keep our end open: the client must close on its own
    });
    auto client = make_client(local_options());

    EXPECT_EQ(send(client, server.url()).outcome, attempt_outcome::success);
    EXPECT_EQ(send(client, server.url()).outcome, attempt_outcome::success);
    EXPECT_EQ(server.accepts(), 2u);
}

TEST_F(DeliveryClientTest, IdleConnectionsExpire) {
    test_server server(test_server::respond(ok_response));
    auto options = local_options();
    options.idle_keepalive = 50ms;
    auto client = make_client(options);

    EXPECT_EQ(send(client, server.url()).outcome, attempt_outcome::success);
    std::this_thread::sleep_for(150ms);
    EXPECT_EQ(send(client, server.url()).outcome, attempt_outcome::success);
    EXPECT_EQ(server.accepts(), 2u);
}

TEST_F(DeliveryClientTest, CloseIdleClosesPooledConnections) {
    test_server server(test_server::respond(ok_response));
    auto client = make_client(local_options());

    EXPECT_EQ(send(client, server.url()).outcome, attempt_outcome::success);
    client.close_idle();
    EXPECT_EQ(send(client, server.url()).outcome, attempt_outcome::success);
    EXPECT_EQ(server.accepts(), 2u);
}

TEST_F(DeliveryClientTest, StalePooledConnectionIsRetriedOnAFreshOne) {
    // Connection 1 answers its first request, then reads the second and closes without a
    // byte of response, as a server does whose keep-alive timer fired at that moment.
    test_server server([](test_connection& c) {
        if (c.index() == 1) {
            if (c.read_request() && c.write(ok_response)) c.read_request();
            return;
        }
        while (c.read_request() && c.write(ok_response)) {
        }
    });
    auto client = make_client(local_options());

    EXPECT_EQ(send(client, server.url()).outcome, attempt_outcome::success);
    auto res = send(client, server.url());
    EXPECT_EQ(res.outcome, attempt_outcome::success) << res.error;
    EXPECT_EQ(server.accepts(), 2u);
    EXPECT_EQ(server.requests().size(), 3u);
}

TEST_F(DeliveryClientTest, ConcurrentSendsAllComplete) {
    test_server server(test_server::respond(ok_response));
    auto options = local_options();
    options.max_idle_per_host = 4;
    auto client = make_client(options);

    constexpr int n = 16;
    std::vector<std::future<delivery_response>> results;
    for (int round = 0; round < 2; ++round) {
        results.clear();
        for (int i = 0; i < n; ++i) {
            results.push_back(std::async(std::launch::async, [&] { return send(client, server.url()); }));
        }
        for (auto& f : results) EXPECT_EQ(f.get().outcome, attempt_outcome::success);
    }
    EXPECT_EQ(server.requests().size(), 2u * n);
    EXPECT_LE(server.accepts(), 2u * n - 4);  // the second round reused the pooled ones
}

// --- SSRF guard and URL checks ------------------------------------------------------------

TEST_F(DeliveryClientTest, LoopbackSpellingsAreRefusedWithoutConnecting) {
    test_server server(test_server::respond(ok_response));
    auto options = local_options();
    options.allowed_cidrs.clear();
    auto client = make_client(options);
    const std::string port = std::to_string(server.port());

    for (const std::string host : {"127.0.0.1", "[::1]", "0x7f000001", "127.1", "2130706433", "0177.0.0.1",
                                  "[::ffff:127.0.0.1]"}) {
        auto res = send(client, "http://" + host + ":" + port + "/");
        EXPECT_EQ(res.outcome, attempt_outcome::connect_error) << host;
        EXPECT_NE(res.error.find("refused by SSRF guard"), std::string::npos) << host << ": " << res.error;
        EXPECT_NE(res.error.find("loopback"), std::string::npos) << host << ": " << res.error;
    }
    EXPECT_EQ(server.accepts(), 0u);
}

TEST_F(DeliveryClientTest, LocalhostIsResolvedAndRefused) {
    test_server server(test_server::respond(ok_response));
    auto options = local_options();
    options.allowed_cidrs.clear();
    auto client = make_client(options);

    auto res = send(client, "http://localhost:" + std::to_string(server.port()) + "/");
    EXPECT_EQ(res.outcome, attempt_outcome::connect_error);
    EXPECT_NE(res.error.find("refused by SSRF guard"), std::string::npos) << res.error;
    EXPECT_EQ(server.accepts(), 0u);
}

TEST_F(DeliveryClientTest, ResolvedHostDialsOnlyAllowedAddresses) {
    // localhost may resolve to ::1 as well; only 127.0.0.0/8 is allowed, and it answers.
    test_server server(test_server::respond(ok_response));
    auto client = make_client(local_options());

    auto res = send(client, "http://LocalHost:" + std::to_string(server.port()) + "/");
    EXPECT_EQ(res.outcome, attempt_outcome::success) << res.error;
    ASSERT_EQ(server.requests().size(), 1u);
    EXPECT_EQ(server.requests()[0].header("Host"), "LocalHost:" + std::to_string(server.port()));
}

TEST_F(DeliveryClientTest, MalformedOrForbiddenUrlsAreRefused) {
    test_server server(test_server::respond(ok_response));
    auto client = make_client(local_options());  // loopback allowed: the URL itself is the problem
    const std::string port = std::to_string(server.port());

    const std::vector<std::pair<std::string, std::string>> cases = {
        {"ftp://127.0.0.1:" + port + "/", "scheme"},
        {"http://user:secret@127.0.0.1:" + port + "/", "credentials"},
        {"http://127.0.0.1.5:" + port + "/", "malformed host or port"},
        {"http://127.0.0.1x:" + port + "/", "malformed host or port"},
        {"http://127.0.0.1:" + port + "junk/", "malformed host or port"},
        {"http://9.254.3%38.254tp64330/", "percent-encoded host"},  // found by fuzz/url_fuzz
        {"http://ex%61mple.com:" + port + "/", "percent-encoded host"},
        {"http://0x100.0.0.1:" + port + "/", "looks like an IP address"},
        {"http://256.0.0.1:" + port + "/", "looks like an IP address"},
        {"http://127.0.0.1:0/", "out of range"},
        {"http:///path", "no host"},
        {"not a url", "invalid URL"},
        {"/relative/only", "invalid URL"},
    };
    for (const auto& [url, why] : cases) {
        auto res = send(client, url);
        EXPECT_EQ(res.outcome, attempt_outcome::connect_error) << url;
        EXPECT_NE(res.error.find(why), std::string::npos) << url << ": " << res.error;
    }
    EXPECT_EQ(server.accepts(), 0u);
}

TEST_F(DeliveryClientTest, HeaderWithLineBreakIsRefused) {
    test_server server(test_server::respond(ok_response));
    auto client = make_client(local_options());

    auto res = send(client, server.url(), {{"X-Note", "a\r\nX-Injected: 1"}});
    EXPECT_EQ(res.outcome, attempt_outcome::connect_error);
    EXPECT_NE(res.error.find("invalid request header"), std::string::npos) << res.error;
    EXPECT_EQ(server.accepts(), 0u);
}

// --- HTTPS --------------------------------------------------------------------------------

class DeliveryClientTlsTest : public DeliveryClientTest {
protected:
    static void SetUpTestSuite() {
        dir_ = new test::temp_dir();
        files_ = test::make_tls_test_files(dir_->path());
    }
    static void TearDownTestSuite() {
        delete dir_;
        dir_ = nullptr;
    }

    static delivery_client_options tls_options() {
        auto options = local_options();
        options.extra_ca_file = files_.ca_cert;
        return options;
    }

    static std::string https_url(const test_server& server, const std::string& host) {
        return "https://" + host + ":" + std::to_string(server.port()) + "/";
    }

    static inline test::temp_dir* dir_ = nullptr;
    static inline test::tls_test_files files_;
};

TEST_F(DeliveryClientTlsTest, TrustedCertificateSucceedsByNameAndByAddress) {
    test_server server(test_server::respond(ok_response), files_.valid.cert, files_.valid.key);
    auto client = make_client(tls_options());

    auto by_name = send(client, https_url(server, "localhost"));
    EXPECT_EQ(by_name.outcome, attempt_outcome::success) << by_name.error;
    EXPECT_EQ(by_name.snippet, "hello");
    auto by_address = send(client, https_url(server, "127.0.0.1"));
    EXPECT_EQ(by_address.outcome, attempt_outcome::success) << by_address.error;

    auto requests = server.requests();
    ASSERT_EQ(requests.size(), 2u);
    EXPECT_EQ(requests[0].tls_server_name, "localhost");  // SNI for a name
    EXPECT_EQ(requests[1].tls_server_name, "");           // never for an IP literal
}

TEST_F(DeliveryClientTlsTest, KeepAliveReusesOneTlsConnection) {
    test_server server(test_server::respond(ok_response), files_.valid.cert, files_.valid.key);
    auto client = make_client(tls_options());

    EXPECT_EQ(send(client, https_url(server, "localhost")).outcome, attempt_outcome::success);
    EXPECT_EQ(send(client, https_url(server, "localhost")).outcome, attempt_outcome::success);
    EXPECT_EQ(server.accepts(), 1u);
}

TEST_F(DeliveryClientTlsTest, UntrustedCaIsTlsError) {
    test_server server(test_server::respond(ok_response), files_.valid.cert, files_.valid.key);
    auto client = make_client(local_options());  // system trust store only

    auto res = send(client, https_url(server, "localhost"));
    EXPECT_EQ(res.outcome, attempt_outcome::tls_error);
    EXPECT_NE(res.error.find("certificate verification failed"), std::string::npos) << res.error;
    EXPECT_TRUE(server.requests().empty());
}

TEST_F(DeliveryClientTlsTest, SelfSignedCertificateIsTlsError) {
    test_server server(test_server::respond(ok_response), files_.self_signed.cert, files_.self_signed.key);
    auto client = make_client(tls_options());

    auto res = send(client, https_url(server, "localhost"));
    EXPECT_EQ(res.outcome, attempt_outcome::tls_error);
    EXPECT_NE(res.error.find("self"), std::string::npos) << res.error;
    EXPECT_TRUE(server.requests().empty());
}

TEST_F(DeliveryClientTlsTest, ExpiredCertificateIsTlsError) {
    test_server server(test_server::respond(ok_response), files_.expired.cert, files_.expired.key);
    auto client = make_client(tls_options());

    auto res = send(client, https_url(server, "localhost"));
    EXPECT_EQ(res.outcome, attempt_outcome::tls_error);
    EXPECT_NE(res.error.find("expired"), std::string::npos) << res.error;
    EXPECT_TRUE(server.requests().empty());
}

TEST_F(DeliveryClientTlsTest, CertificateForAnotherHostIsTlsError) {
    test_server server(test_server::respond(ok_response), files_.wrong_host.cert, files_.wrong_host.key);
    auto client = make_client(tls_options());

    auto by_name = send(client, https_url(server, "localhost"));
    EXPECT_EQ(by_name.outcome, attempt_outcome::tls_error);
    EXPECT_NE(by_name.error.find("mismatch"), std::string::npos) << by_name.error;
    auto by_address = send(client, https_url(server, "127.0.0.1"));
    EXPECT_EQ(by_address.outcome, attempt_outcome::tls_error);
    EXPECT_NE(by_address.error.find("mismatch"), std::string::npos) << by_address.error;
    EXPECT_TRUE(server.requests().empty());
}

TEST_F(DeliveryClientTlsTest, SkipVerifyAcceptsSelfSigned) {
    test_server server(test_server::respond(ok_response), files_.self_signed.cert, files_.self_signed.key);
    auto options = local_options();  // and no CA at all
    options.dangerous_skip_tls_verify = true;
    auto client = make_client(options);

    auto res = send(client, https_url(server, "localhost"));
    EXPECT_EQ(res.outcome, attempt_outcome::success) << res.error;
}

TEST_F(DeliveryClientTlsTest, PlainHttpServerOnHttpsUrlIsTlsError) {
    test_server server(test_server::respond(ok_response));
    auto client = make_client(tls_options());

    auto res = send(client, https_url(server, "localhost"));
    EXPECT_EQ(res.outcome, attempt_outcome::tls_error) << res.error;
}

TEST_F(DeliveryClientTlsTest, SilentTlsServerTimesOutInTheHandshake) {
    test_server server([](test_connection& c) { c.hold(); });  // plain TCP: reads the ClientHello, never answers
    auto options = tls_options();
    options.timeout = 300ms;
    auto client = make_client(options);

    auto res = send(client, https_url(server, "localhost"));
    EXPECT_EQ(res.outcome, attempt_outcome::timeout) << res.error;
    EXPECT_NE(res.error.find("TLS handshake"), std::string::npos) << res.error;
    EXPECT_LT(res.elapsed, 2s);
}

TEST_F(DeliveryClientTlsTest, UnreadableExtraCaFileThrowsAtConstruction) {
    auto options = local_options();
    options.extra_ca_file = dir_->file("missing.pem");
    EXPECT_THROW(make_client(options), std::runtime_error);
}

}  // namespace
}  // namespace webhookd
