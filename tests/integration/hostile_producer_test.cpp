// The ingest listener against hostile producers (issue 7): a corpus of malformed JSON,
// nesting 100,000 deep, header floods, oversized and endless bodies, slowloris, the
// connection cap, pipelining and chunked bodies. Every test runs a real daemon on loopback
// (in-process, or the real binary where its memory is measured), and checks the status and
// stable error code, that nothing was written, and that the daemon still serves afterwards.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/daemon_fixture.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace webhookd {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using steady = std::chrono::steady_clock;
using test::http_result;
namespace beast_http = boost::beast::http;

constexpr std::string_view valid_event = R"({"event":"booking.created","data":{"id":"bkg_1"}})";

// ---------------------------------------------------------------------------------------
// Helpers

// One corpus file: its name and exact bytes.
struct corpus_case {
    std::string name;
    std::string body;
};

// Every *.json file of tests/data/<dir>, sorted by name.
std::vector<corpus_case> load_corpus(const std::string& dir) {
    std::vector<corpus_case> out;
    for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(WEBHOOKD_SOURCE_DIR) / "tests" / "data" / dir)) {
        if (entry.path().extension() != ".json") continue;
        out.push_back({entry.path().filename().string(), test::read_file(entry.path())});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    return out;
}

// A POST with Content-Type: application/json and Content-Length; `extra` is inserted as
// header lines (each ending in \r\n).
std::string post_request(std::string_view target, std::string_view body, std::string_view extra = "") {
    std::string r = "POST " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n";
    r += extra;
    r += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    r += body;
    return r;
}

// The header of a chunked POST; the chunks follow.
std::string chunked_head(std::string_view target, std::string_view extra = "") {
    return "POST " + std::string(target) + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
           std::string(extra) + "Transfer-Encoding: chunked\r\n\r\n";
}

std::string chunk(std::string_view data, std::string_view extension = "") {
    char size[32];
    std::snprintf(size, sizeof size, "%zx", data.size());
    return std::string(size) + std::string(extension) + "\r\n" + std::string(data) + "\r\n";
}

// A blocking loopback TCP connection for byte-level tests: exactly the given bytes are
// sent, responses are parsed from what arrives (pipelined ones in order), and how the
// server ended the connection is observable. Never raises SIGPIPE.
class raw_connection {
public:
    explicit raw_connection(unsigned short port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        if (fd_ < 0) throw std::runtime_error("socket failed");
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            ::close(fd_);
            throw std::runtime_error("connect failed");
        }
        int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    ~raw_connection() {
        if (fd_ >= 0) ::close(fd_);
    }
    raw_connection(const raw_connection&) = delete;
    raw_connection& operator=(const raw_connection&) = delete;

    // Sends every byte. False once the server has closed or reset the connection.
    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    // True when bytes (or EOF) from the server can be read right now.
    bool readable() const {
        pollfd p{fd_, POLLIN, 0};
        return ::poll(&p, 1, 0) > 0;
    }

    // The next response, or nullopt when the connection ends or `timeout` passes first.
    std::optional<http_result> read_response(std::chrono::milliseconds timeout = 5s) {
        auto deadline = steady::now() + timeout;
        beast_http::response_parser<beast_http::string_body> parser;
        parser.eager(true);
        std::size_t used = 0;
        for (;;) {
            boost::system::error_code ec;
            if (used < buffer_.size()) {
                used += parser.put(boost::asio::buffer(buffer_.data() + used, buffer_.size() - used), ec);
            }
            if (parser.is_done()) break;
            if (ec && ec != beast_http::error::need_more) return std::nullopt;
            if (fill(deadline) <= 0) return std::nullopt;
        }
        buffer_.erase(0, used);
        return test::to_result(parser.get());
    }

    // Reads (and keeps) whatever arrives until the server closes: true on EOF or reset
    // within `timeout`.
    bool wait_closed(std::chrono::milliseconds timeout = 5s) {
        auto deadline = steady::now() + timeout;
        for (;;) {
            auto n = fill(deadline);
            if (n == 0 || n == -1) return true;
            if (n == -2) return false;
        }
    }

    // Bytes received and not yet parsed as a response.
    const std::string& unread() const { return buffer_; }

private:
    // Appends what arrives before `deadline`: the byte count, 0 on EOF, -1 on reset, -2 on timeout.
    long fill(steady::time_point deadline) {
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
            if (left <= 0) return -2;
            pollfd p{fd_, POLLIN, 0};
            int ready = ::poll(&p, 1, static_cast<int>(left));
            if (ready < 0 && errno == EINTR) continue;
            if (ready <= 0) return -2;
            char buf[65536];
            auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return -1;
            buffer_.append(buf, static_cast<std::size_t>(n));
            return n;
        }
    }

    int fd_ = -1;
    std::string buffer_;
};

std::string code_of(const http_result& r) {
    auto j = json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.contains("error") || !j["error"].contains("code")) return "<no JSON error: " + r.body + ">";
    return j["error"]["code"].get<std::string>();
}

std::string message_of(const http_result& r) {
    auto j = json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.contains("error") || !j["error"]["message"].is_string()) return "";
    return j["error"]["message"].get<std::string>();
}

// The error shape of docs/api.md (Errors), with this status and code and some message.
void expect_error(const http_result& r, int status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(code_of(r), code);
    EXPECT_TRUE(r.headers.contains("content-type") && r.headers.at("content-type") == "application/json");
    EXPECT_FALSE(message_of(r).empty()) << r.body;
}

// The suite: a daemon with one paused endpoint subscribed to every event, so an accepted
// event also writes a delivery row (and nothing is ever sent).
class hostile_producer : public test::daemon_test {
protected:
    void start_daemon(const std::function<void(config&)>& tweak = {}) {
        start(tweak);
        test::add_endpoint(db(), {.id = "ep_all", .url = "http://127.0.0.1:9/hook", .paused_at = 1});
    }
    unsigned short port() const { return runner->ingest_port(); }
    std::int64_t events() const { return count("SELECT COUNT(*) FROM events"); }
    std::int64_t deliveries() const { return count("SELECT COUNT(*) FROM deliveries"); }
    // A new connection gets a valid event accepted, with its delivery.
    void expect_serves_a_valid_event() {
        auto before = events();
        auto r = test::http_client(port()).post("/v1/events", std::string(valid_event));
        EXPECT_EQ(r.status, 202) << r.body;
        EXPECT_EQ(events(), before + 1);
        EXPECT_EQ(deliveries(), before + 1);
    }
};

// ---------------------------------------------------------------------------------------
// 1. Malformed JSON

TEST_F(hostile_producer, every_malformed_json_case_gets_400_invalid_json_and_writes_nothing) {
    start_daemon();
    auto corpus = load_corpus("malformed_json");
    ASSERT_GE(corpus.size(), 100u) << "the corpus is the test's point; do not shrink it";
    auto c = std::make_unique<test::http_client>(port());
    for (const auto& k : corpus) {
        SCOPED_TRACE(k.name);
        try {
            auto r = c->post("/v1/events", k.body);
            expect_error(r, 400, "invalid_json");
            EXPECT_FALSE(r.closed);  // a body error keeps the connection
            // The batch route reads the same body as its own shape: never accepted.
            r = c->post("/v1/events/batch", k.body);
            EXPECT_EQ(r.status, 400) << r.body;
            EXPECT_TRUE(code_of(r) == "invalid_json" || code_of(r) == "invalid_field") << r.body;
            // As the second item of a batch whose first item is valid: the whole batch is refused.
            r = c->post("/v1/events/batch", R"({"events":[{"event":"a.b","data":1},)" + k.body + "]}");
            expect_error(r, 400, "invalid_json");
        } catch (const std::exception& e) {
            ADD_FAILURE() << "the connection failed: " << e.what();
            c = std::make_unique<test::http_client>(port());
        }
        ASSERT_EQ(events(), 0);
    }
    EXPECT_EQ(deliveries(), 0);
    expect_serves_a_valid_event();
}

TEST_F(hostile_producer, valid_json_that_is_no_valid_event_gets_400_invalid_field_and_writes_nothing) {
    start_daemon();
    auto corpus = load_corpus("invalid_events");
    ASSERT_GE(corpus.size(), 20u);
    test::http_client c(port());
    for (const auto& k : corpus) {
        SCOPED_TRACE(k.name);
        auto r = c.post("/v1/events", k.body);
        expect_error(r, 400, "invalid_field");
        r = c.post("/v1/events/batch", R"({"events":[{"event":"a.b","data":1},)" + k.body + "]}");
        expect_error(r, 400, "invalid_field");
        EXPECT_NE(message_of(r).find("events[1]"), std::string::npos) << r.body;  // names the bad item
    }
    EXPECT_EQ(events(), 0);
    EXPECT_EQ(deliveries(), 0);
    expect_serves_a_valid_event();
}

TEST_F(hostile_producer, duplicate_keys_are_refused_also_when_spelled_with_escapes) {
    start_daemon();
    test::http_client c(port());
    // The JSON parser keeps the last of two equal keys; webhookd must not pick one silently.
    for (const std::string body : {R"({"event":"a.b","ev\u0065nt":"c.d","data":1})",
                                   R"({"event":"a.b","data":"first","d\u0061ta":"second"})",
                                   R"({"\u0069d":"x","event":"a.b","data":1,"id":"y"})"}) {
        SCOPED_TRACE(body);
        auto r = c.post("/v1/events", body);
        expect_error(r, 400, "invalid_json");
        EXPECT_NE(message_of(r).find("duplicate key"), std::string::npos) << r.body;
    }
    // The batch body's own key, repeated plainly or with escapes: which list would be stored?
    for (const std::string body : {R"({"events":[{"event":"a.b","data":1}],"events":[{"event":"c.d","data":2}]})",
                                   R"({"events":[{"event":"a.b","data":"x"}],"\u0065vents":[{"event":"a.b","data":1}]})",
                                   R"({"events":[{"event":"a.b","data":1,"d\u0061ta":2}]})"}) {
        SCOPED_TRACE(body);
        auto r = c.post("/v1/events/batch", body);
        expect_error(r, 400, "invalid_json");
        EXPECT_NE(message_of(r).find("duplicate key"), std::string::npos) << r.body;
    }
    EXPECT_EQ(events(), 0);
    // Inside data, keys are the producer's business and travel as written.
    auto r = c.post("/v1/events", R"({"event":"a.b","data":{"k":1,"k":2}})");
    EXPECT_EQ(r.status, 202) << r.body;
    EXPECT_NE(test::query_text(db(), "SELECT body FROM events").find(R"("data":{"k":1,"k":2})"), std::string::npos);
}

TEST_F(hostile_producer, numbers_json_allows_are_kept_as_written_and_the_rest_refused) {
    start_daemon();
    test::http_client c(port());
    // -0, an underflow to 0 and integers beyond 64 bits are valid JSON and within a double's range.
    const std::string data = R"([-0,0e0,1e-400,123456789012345678901234567890,1.7976931348623157e308,-1E+2])";
    auto r = c.post("/v1/events", R"({"event":"a.b","id":"nums","data":)" + data + "}");
    ASSERT_EQ(r.status, 202) << r.body;
    EXPECT_NE(test::query_text(db(), "SELECT body FROM events WHERE id = 'nums'").find(data), std::string::npos);
    // Beyond a double's range: refused rather than stored as a different number.
    for (const std::string& n : std::vector<std::string>{"1e309", std::string(400, '7'), "-1e999999"}) {
        expect_error(c.post("/v1/events", R"({"event":"a.b","data":)" + n + "}"), 400, "invalid_json");
    }
    EXPECT_EQ(events(), 1);
}

TEST_F(hostile_producer, a_huge_invalid_string_is_not_echoed_back_in_the_error) {
    start_daemon();
    test::http_client c(port());
    auto r = c.post("/v1/events", R"({"event":"a.b","data":")" + std::string(900'000, 'x') + "\xff\"}");
    expect_error(r, 400, "invalid_json");
    EXPECT_LT(r.body.size(), 1024u) << "an error message repeats the body: " << r.body.substr(0, 300);
    EXPECT_EQ(events(), 0);
}

// ---------------------------------------------------------------------------------------
// Nesting far beyond max_json_depth: nothing on the way (parser, depth check, raw scans,
// batch items) may recurse per level, or 100,000 levels would overflow the I/O thread's stack.

TEST_F(hostile_producer, nesting_100000_and_1000000_deep_gets_400_and_the_daemon_survives) {
    start_daemon([](config& c) { c.ingest.max_body = 8 * 1024 * 1024; });
    auto repeat = [](std::string_view s, std::size_t n) {
        std::string out;
        out.reserve(s.size() * n);
        for (std::size_t i = 0; i < n; ++i) out += s;
        return out;
    };
    auto arrays = [&](std::size_t n, bool closed) { return repeat("[", n) + (closed ? repeat("]", n) : ""); };
    auto objects = [&](std::size_t n, bool closed) { return repeat(R"({"a":)", n) + (closed ? "1" + repeat("}", n) : ""); };
    auto event_with = [](const std::string& data) { return R"({"event":"a.b","data":)" + data + "}"; };
    auto batch_with = [](const std::string& item) { return R"({"events":[{"event":"a.b","data":1},)" + item + "]}"; };

    struct deep_case {
        std::string name, target, body;
    };
    std::vector<deep_case> cases;
    for (std::size_t depth : {100'000u, 1'000'000u}) {
        auto d = std::to_string(depth);
        for (bool closed : {false, true}) {
            auto kind = std::string(closed ? "closed" : "open");
            cases.push_back({d + " arrays as the body, " + kind, "/v1/events", arrays(depth, closed)});
            cases.push_back({d + " objects as the body, " + kind, "/v1/events", objects(depth, closed)});
            cases.push_back({d + " arrays in data, " + kind, "/v1/events", event_with(arrays(depth, closed))});
            cases.push_back({d + " objects in data, " + kind, "/v1/events", event_with(objects(depth, closed))});
            cases.push_back({d + " arrays as a batch item's data, " + kind, "/v1/events/batch",
                             batch_with(event_with(arrays(depth, closed)))});
            cases.push_back({d + " objects as a batch item, " + kind, "/v1/events/batch", batch_with(objects(depth, closed))});
            cases.push_back({d + " arrays as the batch body, " + kind, "/v1/events/batch", arrays(depth, closed)});
        }
    }
    test::http_client c(port());
    for (const auto& k : cases) {
        SCOPED_TRACE(k.name);
        ASSERT_LE(k.body.size(), 8u * 1024 * 1024);
        auto r = c.post(k.target, k.body);
        expect_error(r, 400, "invalid_json");
        EXPECT_NE(message_of(r).find("deeper than 64"), std::string::npos) << message_of(r);
    }
    EXPECT_EQ(events(), 0);
    // Brackets inside a string are no nesting: the raw scans that keep data as written must
    // skip them without counting.
    auto r = c.post("/v1/events", event_with("\"" + arrays(100'000, false) + "\""));
    EXPECT_EQ(r.status, 202) << r.body;
    EXPECT_EQ(deliveries(), 1);
    expect_serves_a_valid_event();
}

// Every admin route of the real binary, each given a body nested 100,000 levels deep (a
// test send with deep `data` once killed the daemon with SIGSEGV): the routes that read a
// body answer 400 invalid_json, the others ignore it, none answers 5xx, and the process
// serves on after each.
TEST(hostile_admin_binary, every_admin_route_bounds_nesting_and_the_daemon_survives) {
    std::vector<std::string> routes;
    {
        test::temp_dir probe_dir;
        test::daemon_runner probe(test::test_config(probe_dir));
        routes = probe.routes();  // "METHOD /pattern", from the same code as the binary's
    }
    test::temp_dir dir;
    test::process d({WEBHOOKD_BINARY, "--config", test::write_config(dir)});
    ASSERT_TRUE(d.wait_for_line("started")) << d.output();
    auto admin = test::port_from_log(d.output(), "admin");
    ASSERT_NE(admin, 0) << d.output();
    auto created = test::http_client(admin).post("/v1/endpoints", R"({"url":"https://example.com/hook"})");
    ASSERT_EQ(created.status, 201) << created.body;
    std::string endpoint_id = json::parse(created.body)["id"];

    std::string deep_arrays = std::string(100'000, '[') + std::string(100'000, ']');
    std::string deep_objects;
    for (int i = 0; i < 100'000; ++i) deep_objects += R"({"a":)";
    deep_objects += "1" + std::string(100'000, '}');
    std::size_t checked = 0;
    for (const auto& route : routes) {
        auto space = route.find(' ');
        auto method = route.substr(0, space);
        auto path = route.substr(space + 1);
        if (!path.starts_with("/v1/")) continue;  // /healthz, /readyz, /metrics take no body
        for (auto [param, value] : {std::pair<std::string, std::string>{"{id}", endpoint_id}}) {
            if (auto at = path.find(param); at != std::string::npos) {
                path.replace(at, param.size(), path.starts_with("/v1/endpoints") ? value : "dlv_1");
            }
        }
        for (const auto& [name, body] : {std::pair<std::string, std::string>{"arrays", deep_arrays},
                                          {"objects", deep_objects},
                                          {"in data", R"({"event":"a.b","data":)" + deep_arrays + "}"}}) {
            SCOPED_TRACE(route + " with " + name);
            auto r = test::http_client(admin).request(method, path, body);
            EXPECT_LT(r.status, 500) << r.body;
            bool reads_body = method == "POST" || method == "PATCH";
            if (reads_body && r.status == 400) {
                EXPECT_EQ(code_of(r), "invalid_json") << r.body;
                EXPECT_NE(message_of(r).find("deeper than 64"), std::string::npos) << r.body;
            }
            ASSERT_EQ(test::http_client(admin).get("/healthz").status, 200) << d.output();
            ++checked;
        }
    }
    EXPECT_GE(checked, 3u * 15);
    // The bodies the crash came from, by name: the test send and endpoint creation.
    auto test_send = test::http_client(admin).post("/v1/endpoints/" + endpoint_id + "/test",
                                                   R"({"event":"a.b","data":)" + deep_arrays + "}");
    expect_error(test_send, 400, "invalid_json");
    expect_error(test::http_client(admin).post("/v1/endpoints", deep_objects), 400, "invalid_json");
    expect_error(test::http_client(admin).request("PATCH", "/v1/endpoints/" + endpoint_id, deep_objects), 400,
                 "invalid_json");
}

// RFC 9112 section 3.2: an HTTP/1.1 request without Host, or any with two, is 400.
TEST_F(hostile_producer, a_request_without_a_host_or_with_two_gets_400) {
    start_daemon();
    for (const auto& [name, head] :
         {std::pair<std::string, std::string>{"no Host", "GET /healthz HTTP/1.1\r\n\r\n"},
          {"two Hosts", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
          {"two Hosts, HTTP/1.0", "GET /healthz HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"}}) {
        SCOPED_TRACE(name);
        raw_connection c(port());
        ASSERT_TRUE(c.send(head));
        auto r = c.read_response();
        ASSERT_TRUE(r);
        expect_error(*r, 400, "bad_request");
        EXPECT_TRUE(c.wait_closed());
    }
    // HTTP/1.0 needs no Host.
    raw_connection old(port());
    ASSERT_TRUE(old.send("GET /healthz HTTP/1.0\r\n\r\n"));
    auto r = old.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    expect_serves_a_valid_event();
}

// A HEAD answer has headers and no body, so the next response on the connection is read
// from its first byte (a 405 with its JSON body once broke the framing).
TEST_F(hostile_producer, head_answers_carry_no_body_and_keep_alive_framing_holds) {
    start_daemon();
    raw_connection c(port());
    ASSERT_TRUE(c.send("HEAD /v1/events HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    // A HEAD response must be parsed as one: read it by hand, header only.
    auto deadline = steady::now() + 5s;
    while (c.unread().find("\r\n\r\n") == std::string::npos && steady::now() < deadline) {
        c.wait_closed(50ms);
    }
    auto head_end = c.unread().find("\r\n\r\n");
    ASSERT_NE(head_end, std::string::npos) << c.unread();
    auto head = c.unread().substr(0, head_end + 4);
    EXPECT_TRUE(head.starts_with("HTTP/1.1 405")) << head;
    // What follows the HEAD answer's header is the next response, from its first byte.
    while (c.unread().size() < head_end + 4 + 12 && steady::now() < deadline) c.wait_closed(50ms);
    EXPECT_EQ(c.unread().substr(head_end + 4, 12), "HTTP/1.1 200") << c.unread();
}

// ---------------------------------------------------------------------------------------
// 2. Header floods

TEST_F(hostile_producer, header_floods_get_431_and_the_connection_closes) {
    start_daemon();  // max_header 16 KiB, the default
    std::string small_headers;
    for (int i = 0; i < 10'000; ++i) small_headers += "X-H" + std::to_string(i) + ": v\r\n";
    struct flood {
        std::string name, request;
    };
    const std::vector<flood> floods = {
        {"one 64 KiB header", post_request("/v1/events", valid_event, "X-Big: " + std::string(64 * 1024, 'a') + "\r\n")},
        {"10,000 small headers", post_request("/v1/events", valid_event, small_headers)},
        {"a 64 KiB request target", post_request("/v1/events?q=" + std::string(64 * 1024, 'q'), valid_event)},
        {"a header block that never ends", "POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Never: " + std::string(100'000, 'n')},
    };
    for (const auto& f : floods) {
        SCOPED_TRACE(f.name);
        raw_connection conn(port());
        conn.send(f.request);  // the server reads and discards the rest after answering
        auto r = conn.read_response();
        ASSERT_TRUE(r) << "no response; received: " << conn.unread().substr(0, 200);
        expect_error(*r, 431, "headers_too_large");
        EXPECT_TRUE(r->closed);
        EXPECT_TRUE(conn.wait_closed(1s)) << "the server did not close after 431";
    }
    EXPECT_EQ(events(), 0);
    expect_serves_a_valid_event();
}

// ---------------------------------------------------------------------------------------
// 3. Oversized bodies (memory is measured on the real binary further down)

TEST_F(hostile_producer, oversized_bodies_get_413_before_they_are_read) {
    constexpr std::size_t limit = 64 * 1024;
    start_daemon([](config& c) {
        c.ingest.max_body = limit;
        c.ingest.request_timeout = 5s;  // an answer well before this was not waiting for the body
    });
    auto expect_413_at_once = [&](const std::string& request) {
        raw_connection conn(port());
        auto sent = steady::now();
        ASSERT_TRUE(conn.send(request));
        auto r = conn.read_response(4s);
        ASSERT_TRUE(r) << "no response before the request timeout";
        EXPECT_LT(steady::now() - sent, 1s);
        expect_error(*r, 413, "payload_too_large");
        EXPECT_TRUE(r->closed);
        EXPECT_TRUE(conn.wait_closed(1s));
    };
    // Content-Length of 100 MiB and not one body byte: answered from the header alone.
    const std::string head_100mib = "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                    "Content-Length: 104857600\r\n";
    expect_413_at_once(head_100mib + "\r\n");
    // With Expect: 100-continue the answer is 413, never 100 Continue.
    expect_413_at_once(head_100mib + "Expect: 100-continue\r\n\r\n");
    // One chunk that declares more than the limit: answered from the chunk header alone.
    expect_413_at_once(chunked_head("/v1/events") + "100000\r\n");

    // A chunked body that keeps growing (8 KiB chunks, never terminated) is cut at the limit.
    {
        raw_connection conn(port());
        ASSERT_TRUE(conn.send(chunked_head("/v1/events")));
        std::size_t sent = 0;
        while (sent < 4 * limit && !conn.readable() && conn.send(chunk(std::string(8192, 'x')))) sent += 8192;
        auto r = conn.read_response();
        ASSERT_TRUE(r);
        expect_error(*r, 413, "payload_too_large");
        EXPECT_GT(sent, limit - 8192);  // the answer came from the limit, not from anything before it
        EXPECT_TRUE(conn.wait_closed(1s));
    }

    // Exactly at the limit is accepted, by Content-Length and chunked; one byte more is not.
    auto event_of_size = [](std::size_t size, const std::string& id) {
        std::string head = R"({"event":"a.b","id":")" + id + R"(","data":")";
        return head + std::string(size - head.size() - 2, 'x') + "\"}";
    };
    test::http_client c(port());
    EXPECT_EQ(c.post("/v1/events", event_of_size(limit, "at-limit")).status, 202);
    {
        raw_connection conn(port());
        auto body = event_of_size(limit, "chunked-at-limit");
        ASSERT_TRUE(conn.send(chunked_head("/v1/events") + chunk(body.substr(0, 40000)) + chunk(body.substr(40000)) +
                              "0\r\n\r\n"));
        auto r = conn.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 202) << r->body;
    }
    auto over = test::http_client(port()).post("/v1/events", event_of_size(limit + 1, "over-limit"));
    expect_error(over, 413, "payload_too_large");
    EXPECT_EQ(events(), 2);
    EXPECT_EQ(deliveries(), 2);
    EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE id = 'over-limit'"), 0);
    expect_serves_a_valid_event();
}

// A chunk-size line or a trailer section that never ends is no body byte, so max_body does
// not bound it; without a bound of its own the read buffer would grow until request_timeout.
TEST_F(hostile_producer, an_endless_chunk_line_or_trailer_gets_400_at_once) {
    start_daemon([](config& c) { c.ingest.request_timeout = 5s; });
    std::string trailers;
    for (int i = 0; trailers.size() < 2 * 1024 * 1024; ++i) trailers += "X-T" + std::to_string(i) + ": v\r\n";
    struct endless {
        std::string name, request;
    };
    const std::vector<endless> cases = {
        {"a chunk size of 2 MiB of zeros", chunked_head("/v1/events") + std::string(2 * 1024 * 1024, '0')},
        {"a 2 MiB chunk extension", chunked_head("/v1/events") + chunk(valid_event) + "1;x=" + std::string(2 * 1024 * 1024, 'e')},
        {"2 MiB of trailers", chunked_head("/v1/events") + chunk(valid_event) + "0\r\n" + trailers},
    };
    for (const auto& k : cases) {
        SCOPED_TRACE(k.name);
        raw_connection conn(port());
        auto sent = steady::now();
        conn.send(k.request);
        auto r = conn.read_response(4s);
        ASSERT_TRUE(r) << "no response before the request timeout";
        EXPECT_LT(steady::now() - sent, 2s);
        expect_error(*r, 400, "bad_request");
        EXPECT_TRUE(conn.wait_closed(1s));
    }
    EXPECT_EQ(events(), 0);
    expect_serves_a_valid_event();
}

// ---------------------------------------------------------------------------------------
// 4. Slowloris

// Raises the soft RLIMIT_NOFILE to at least `needed`; false when the hard limit forbids it.
bool ensure_fd_limit(rlim_t needed) {
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return false;
    if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < needed) {
        if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < needed) return false;
        lim.rlim_cur = needed;
        if (::setrlimit(RLIMIT_NOFILE, &lim) != 0) return false;
    }
    return true;
}

TEST_F(hostile_producer, slowloris_connections_are_cut_at_the_request_timeout_while_a_producer_is_served) {
    constexpr int slow_count = 1000;
    constexpr auto request_timeout = 1s;
    constexpr auto slack = 1s;  // scheduling on a loaded machine; the server's timer has no reason to be late
    // Both ends of every connection live in this process.
    if (!ensure_fd_limit(2 * slow_count + 256)) GTEST_SKIP() << "RLIMIT_NOFILE cannot be raised to " << 2 * slow_count + 256;
    start_daemon([&](config& c) {
        c.ingest.request_timeout = request_timeout;
        c.ingest.max_connections = slow_count + 100;
    });

    // Three kinds of slow client, a third each: silent (connects, sends nothing), header
    // dribbler (one header byte every 100 ms), body dribbler (whole header with
    // Content-Length: 1000 at once, then one body byte every 100 ms).
    enum class kind { silent, header, body };
    struct slow_client {
        int fd = -1;
        kind k = kind::silent;
        steady::time_point connected;
        std::optional<steady::duration> closed_after;
        std::size_t sent = 0;
        bool got_bytes = false;
    };
    const std::string dribble_header = "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                       "X-Slow: " + std::string(1000, 's');
    const std::string full_body_header = "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                         "Content-Length: 1000\r\n\r\n";

    // The well-behaved producer: one keep-alive connection, posting as fast as it is answered.
    test::http_client warm(port());
    ASSERT_EQ(warm.post("/v1/events", std::string(valid_event)).status, 202);
    std::atomic<bool> stop{false};
    std::vector<double> latencies_ms;
    int refused = 0;
    std::thread producer([&] {
        test::http_client c(port());
        for (int i = 0; !stop; ++i) {
            auto t0 = steady::now();
            auto r = c.post("/v1/events", R"({"event":"a.b","data":)" + std::to_string(i) + "}");
            latencies_ms.push_back(std::chrono::duration<double, std::milli>(steady::now() - t0).count());
            if (r.status != 202) ++refused;
        }
    });

    std::vector<slow_client> slow(slow_count);
    for (int i = 0; i < slow_count; ++i) {
        auto& s = slow[i];
        s.k = static_cast<kind>(i % 3);
        s.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        ASSERT_GE(s.fd, 0) << "socket " << i << ": " << std::strerror(errno);
        int one = 1;
        ::setsockopt(s.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port());
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int rc = ::connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
        ASSERT_TRUE(rc == 0 || errno == EINPROGRESS) << "connect " << i << ": " << std::strerror(errno);
        s.connected = steady::now();
    }

    // Dribble and watch until every slow connection is closed or the deadline passes.
    auto began = steady::now();
    auto last_drip = steady::time_point{};
    int open = slow_count;
    std::vector<pollfd> fds;
    while (open > 0 && steady::now() - began < request_timeout + slack + 2s) {
        auto now = steady::now();
        if (now - last_drip >= 100ms) {
            last_drip = now;
            for (auto& s : slow) {
                if (s.closed_after || s.k == kind::silent) continue;
                std::string_view bytes;
                if (s.k == kind::header) {
                    bytes = std::string_view(dribble_header).substr(s.sent, 1);
                } else if (s.sent == 0) {
                    bytes = full_body_header;
                } else {
                    bytes = "{";
                }
                auto n = ::send(s.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n > 0) s.sent += static_cast<std::size_t>(n);
            }
        }
        fds.clear();
        for (auto& s : slow) {
            if (!s.closed_after) fds.push_back({s.fd, POLLIN, 0});
        }
        ::poll(fds.data(), fds.size(), 20);
        for (auto& s : slow) {
            if (s.closed_after) continue;
            char buf[256];
            auto n = ::recv(s.fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) s.got_bytes = true;
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                s.closed_after = steady::now() - s.connected;
                --open;
            }
        }
    }
    stop = true;
    producer.join();

    int late = 0, early = 0, answered = 0;
    steady::duration slowest{};
    for (auto& s : slow) {
        if (s.closed_after) {
            slowest = std::max(slowest, *s.closed_after);
            if (*s.closed_after > request_timeout + slack) ++late;
            // The server's deadline starts at accept or at the first byte, both after connect.
            if (*s.closed_after < request_timeout - 10ms) ++early;
        }
        if (s.got_bytes) ++answered;
        ::close(s.fd);
    }
    EXPECT_EQ(open, 0) << open << " slow connections are still open";
    EXPECT_EQ(late, 0) << "closed later than request_timeout + " << slack.count() << " s";
    EXPECT_EQ(early, 0) << "closed before the request timeout";
    EXPECT_EQ(answered, 0) << "a timed-out request gets no response";

    ASSERT_GE(latencies_ms.size(), 20u);
    std::sort(latencies_ms.begin(), latencies_ms.end());
    auto p99 = latencies_ms[latencies_ms.size() * 99 / 100];
    EXPECT_EQ(refused, 0);
    EXPECT_LT(p99, 200.0) << latencies_ms.size() << " requests";
    std::printf("[ slowloris ] %d slow connections closed after at most %.0f ms; producer: %zu requests, "
                "p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
                slow_count, std::chrono::duration<double, std::milli>(slowest).count(), latencies_ms.size(),
                latencies_ms[latencies_ms.size() / 2], p99, latencies_ms.back());
    expect_serves_a_valid_event();
}

// ---------------------------------------------------------------------------------------
// 5. Connection cap

TEST_F(hostile_producer, the_connection_beyond_the_cap_is_closed_at_once_and_freed_slots_serve_again) {
    constexpr std::size_t cap = 20;
    start_daemon([](config& c) { c.ingest.max_connections = cap; });
    std::vector<std::unique_ptr<test::http_client>> held;
    for (std::size_t i = 0; i < cap; ++i) {
        held.push_back(std::make_unique<test::http_client>(port()));
        ASSERT_EQ(held.back()->get("/healthz").status, 200);  // accepted and counted
    }
    auto expect_closed_at_once = [&] {
        raw_connection extra(port());
        auto t0 = steady::now();
        extra.send(post_request("/v1/events", valid_event));
        EXPECT_TRUE(extra.wait_closed(2s)) << "the connection beyond the cap was not closed";
        EXPECT_LT(steady::now() - t0, 1s);
        EXPECT_TRUE(extra.unread().empty()) << "closed without a response";
    };
    expect_closed_at_once();
    EXPECT_EQ(events(), 0);

    // Five clients leave; five new ones are served once the server has seen them go.
    held.resize(cap - 5);
    for (int i = 0; i < 5; ++i) {
        auto deadline = steady::now() + 2s;
        bool served = false;
        while (!served && steady::now() < deadline) {
            try {
                auto c = std::make_unique<test::http_client>(port());
                served = c->post("/v1/events", std::string(valid_event)).status == 202;
                if (served) held.push_back(std::move(c));
            } catch (const boost::system::system_error&) {
                std::this_thread::sleep_for(10ms);  // the slot is not free yet
            }
        }
        ASSERT_TRUE(served) << "a freed slot was not served again";
    }
    EXPECT_EQ(events(), 5);
    // Full again: the next one is refused, the held ones still work.
    expect_closed_at_once();
    EXPECT_EQ(held.front()->get("/healthz").status, 200);
    EXPECT_EQ(events(), 5);
}

// ---------------------------------------------------------------------------------------
// 6. Pipelining

TEST_F(hostile_producer, pipelined_requests_are_answered_in_order_and_all_stored) {
    start_daemon();
    raw_connection conn(port());
    std::string burst;
    for (int i = 0; i < 8; ++i) {
        burst += post_request("/v1/events", R"({"event":"a.b","data":)" + std::to_string(i) + R"(,"id":"p)" + std::to_string(i) + "\"}");
    }
    burst += post_request("/v1/events/batch", R"({"events":[{"event":"a.b","data":1,"id":"pb1"},{"event":"a.b","data":2,"id":"pb2"}]})");
    ASSERT_TRUE(conn.send(burst));  // one send()
    for (int i = 0; i < 8; ++i) {
        auto r = conn.read_response();
        ASSERT_TRUE(r) << "response " << i;
        ASSERT_EQ(r->status, 202) << r->body;
        EXPECT_EQ(json::parse(r->body)["id"], "p" + std::to_string(i));
        EXPECT_FALSE(r->closed);
    }
    auto b = conn.read_response();
    ASSERT_TRUE(b);
    ASSERT_EQ(b->status, 202) << b->body;
    EXPECT_EQ(json::parse(b->body)["events"][1]["id"], "pb2");
    EXPECT_EQ(events(), 10);
    EXPECT_EQ(deliveries(), 10);
}

TEST_F(hostile_producer, a_bad_request_in_a_pipeline_is_answered_in_its_place) {
    start_daemon();
    // A request with a bad body is answered 400 in its place; the connection stays open, so
    // the requests behind it are served.
    {
        raw_connection conn(port());
        ASSERT_TRUE(conn.send(post_request("/v1/events", R"({"event":"a.b","data":1,"id":"q1"})") +
                              post_request("/v1/events", R"({"event":"a.b","data":)") +
                              post_request("/v1/events", R"({"event":"a b","data":1})") +
                              post_request("/v1/events", R"({"event":"a.b","data":3,"id":"q3"})")));
        std::vector<int> statuses;
        std::vector<std::string> codes;
        for (int i = 0; i < 4; ++i) {
            auto r = conn.read_response();
            ASSERT_TRUE(r) << "response " << i;
            statuses.push_back(r->status);
            codes.push_back(r->status == 202 ? json::parse(r->body)["id"].get<std::string>() : code_of(*r));
        }
        EXPECT_EQ(statuses, (std::vector<int>{202, 400, 400, 202}));
        EXPECT_EQ(codes, (std::vector<std::string>{"q1", "invalid_json", "invalid_field", "q3"}));
    }
    EXPECT_EQ(events(), 2);
    // Malformed HTTP ends the pipeline: 400 bad_request, the connection closes, and the
    // requests behind it are never read as requests, so nothing of them is stored.
    {
        raw_connection conn(port());
        ASSERT_TRUE(conn.send(post_request("/v1/events", R"({"event":"a.b","data":1,"id":"r1"})") +
                              "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              "Content-Length: 12abc\r\n\r\n{}" +
                              post_request("/v1/events", R"({"event":"a.b","data":3,"id":"r3"})")));
        auto first = conn.read_response();
        ASSERT_TRUE(first);
        EXPECT_EQ(first->status, 202) << first->body;
        auto second = conn.read_response();
        ASSERT_TRUE(second);
        expect_error(*second, 400, "bad_request");
        EXPECT_TRUE(second->closed);
        EXPECT_TRUE(conn.wait_closed(1s));
        EXPECT_TRUE(conn.unread().empty()) << "a third response: " << conn.unread();
    }
    EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE id = 'r1'"), 1);
    EXPECT_EQ(count("SELECT COUNT(*) FROM events WHERE id = 'r3'"), 0);
    EXPECT_EQ(events(), 3);
    EXPECT_EQ(deliveries(), 3);
}

// ---------------------------------------------------------------------------------------
// 7. Chunked request bodies

TEST_F(hostile_producer, chunked_bodies_are_accepted) {
    start_daemon();
    const std::string body = R"({"event":"a.b","id":"chunked-1","data":{"k":[1,2,3],"s":"x y"}})";
    raw_connection conn(port());
    // Small chunks, one with an extension, sent one by one; then a trailer.
    ASSERT_TRUE(conn.send(chunked_head("/v1/events")));
    for (std::size_t at = 0; at < body.size(); at += 7) {
        ASSERT_TRUE(conn.send(chunk(body.substr(at, 7), at == 0 ? ";name=value" : "")));
    }
    ASSERT_TRUE(conn.send("0\r\nX-Trailer: t\r\n\r\n"));
    auto r = conn.read_response();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << r->body;
    EXPECT_FALSE(r->closed);
    // The same connection goes on, with a chunked batch.
    ASSERT_TRUE(conn.send(chunked_head("/v1/events/batch") + chunk(R"({"events":[{"event":"a.b","data":1,)") +
                          chunk(R"("id":"chunked-2"}]})") + "0\r\n\r\n"));
    r = conn.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 202) << r->body;
    EXPECT_NE(test::query_text(db(), "SELECT body FROM events WHERE id = 'chunked-1'").find(R"("data":{"k":[1,2,3],"s":"x y"})"),
              std::string::npos);
    EXPECT_EQ(events(), 2);
    EXPECT_EQ(deliveries(), 2);
}

TEST_F(hostile_producer, malformed_chunked_encoding_gets_400_and_writes_nothing) {
    start_daemon();
    // Each carries a complete valid event before (or instead of) the fault, so a server that
    // tolerated the fault would store it.
    const std::string whole = chunk(valid_event);
    struct bad_chunking {
        std::string name, request;
    };
    const std::vector<bad_chunking> cases = {
        {"chunk size not hex", chunked_head("/v1/events") + whole + "zz\r\n"},
        {"negative chunk size", chunked_head("/v1/events") + "-5\r\n" + std::string(valid_event) + "\r\n0\r\n\r\n"},
        {"chunk size overflowing 64 bits", chunked_head("/v1/events") + "10000000000000000" + std::string(64, '0') + "\r\n"},
        {"no CRLF after the chunk data", chunked_head("/v1/events") + "31\r\n" + std::string(valid_event) + "0\r\n\r\n"},
        {"chunk data longer than its size", chunked_head("/v1/events") + "3\r\n" + std::string(valid_event) + "\r\n0\r\n\r\n"},
        {"bad chunk extension", chunked_head("/v1/events") + "31;=x\r\n" + std::string(valid_event) + "\r\n0\r\n\r\n"},
        {"chunked and Content-Length together", chunked_head("/v1/events", "Content-Length: 49\r\n") + whole + "0\r\n\r\n"},
        {"chunked not last", "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             "Transfer-Encoding: chunked, gzip\r\n\r\n" + whole + "0\r\n\r\n"},
        {"bad trailer", chunked_head("/v1/events") + whole + "0\r\nno colon here\r\n\r\n"},
        // A transfer coding other than chunked leaves the body length unknown (RFC 9112 6.1):
        // read as a request without a body, its body would be taken for the next request.
        {"unknown transfer coding", "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                    "Transfer-Encoding: identity\r\n\r\n" +
                                        post_request("/v1/events", R"({"event":"a.b","data":1,"id":"smuggled"})")},
    };
    ASSERT_EQ(valid_event.size(), 0x31u);  // the hand-written sizes above
    for (const auto& k : cases) {
        SCOPED_TRACE(k.name);
        raw_connection conn(port());
        conn.send(k.request);
        auto r = conn.read_response(3s);
        ASSERT_TRUE(r) << "no response; received: " << conn.unread();
        expect_error(*r, 400, "bad_request");
        EXPECT_TRUE(r->closed);
        EXPECT_TRUE(conn.wait_closed(1s));
    }
    // A chunked body cut short by the client: nothing is stored either.
    {
        raw_connection conn(port());
        conn.send(chunked_head("/v1/events") + whole);
    }
    EXPECT_EQ(events(), 0);
    EXPECT_EQ(deliveries(), 0);
    expect_serves_a_valid_event();
}

// ---------------------------------------------------------------------------------------
// 3 (continued). Memory of the real binary while it refuses oversized bodies.

// The webhookd child of this process (test::process does not expose its pid).
pid_t webhookd_child() {
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
        auto name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream stat(entry.path() / "stat");
        std::string line;
        std::getline(stat, line);
        auto close = line.rfind(')');
        auto open = line.find('(');
        if (close == std::string::npos || open == std::string::npos) continue;
        if (line.substr(open + 1, close - open - 1) != "webhookd") continue;
        std::istringstream rest(line.substr(close + 2));
        char state = 0;
        pid_t ppid = 0;
        rest >> state >> ppid;
        if (ppid == ::getpid()) return static_cast<pid_t>(std::stol(name));
    }
    return -1;
}

// A "Vm..." line of /proc/<pid>/status in KiB; -1 when absent.
long vm_kib(pid_t pid, const std::string& key) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);) {
        if (line.starts_with(key + ":")) return std::stol(line.substr(key.size() + 1));
    }
    return -1;
}

// Resets the peak RSS (VmHWM) to the current RSS; false when the kernel refuses.
bool reset_peak(pid_t pid) {
    std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
    out << "5";
    out.flush();
    return static_cast<bool>(out);
}

// Streams a body of up to `total` bytes in 64 KiB pieces (chunks when `chunked`) after
// `head`, stopping as soon as the server answers; returns the answer.
std::optional<http_result> stream_body(raw_connection& conn, const std::string& head, std::size_t total, bool chunked) {
    static const std::string piece(64 * 1024, 'x');
    if (!conn.send(head)) return conn.read_response();
    for (std::size_t sent = 0; sent < total && !conn.readable(); sent += piece.size()) {
        if (!conn.send(chunked ? chunk(piece) : piece)) break;
    }
    return conn.read_response();
}

TEST(hostile_producer_binary, oversized_bodies_raise_peak_memory_by_less_than_twice_max_body_per_request) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "AddressSanitizer's allocator holds freed memory in quarantine: the peak RSS of this build "
                    "says nothing about webhookd's";
#endif
    constexpr long limit_kib = 1024;  // ingest.max_body
    constexpr std::size_t limit = limit_kib * 1024;
    constexpr std::size_t attempted = 10 * 1024 * 1024;  // what each hostile producer tries to send
    constexpr int concurrent = 20;
    test::temp_dir dir;
    auto config = dir.file("webhookd.json");
    std::ofstream(config) << R"({"ingest": {"listen": "127.0.0.1:0", "max_body": "1MiB", "request_timeout": "3s"},
                                 "admin": {"listen": "127.0.0.1:0"}, "storage": {"path": ")"
                          << dir.file("webhookd.db") << "\"}}\n";
    test::process d({WEBHOOKD_BINARY, "--config", config});
    ASSERT_TRUE(d.wait_for_line("admin listening on")) << d.output();
    auto port = test::port_from_log(d.output(), "ingest");
    ASSERT_NE(port, 0) << d.output();
    auto pid = webhookd_child();
    ASSERT_GT(pid, 0);
    if (!reset_peak(pid)) GTEST_SKIP() << "/proc/<pid>/clear_refs is not writable here";
    test::http_client warm(port);
    for (int i = 0; i < 5; ++i) ASSERT_EQ(warm.post("/v1/events", std::string(valid_event)).status, 202);

    // Runs `attack` and returns by how much it raised the daemon's peak RSS, in KiB.
    auto peak_growth = [&](const std::function<void()>& attack) {
        reset_peak(pid);
        long before = vm_kib(pid, "VmRSS");
        attack();
        return vm_kib(pid, "VmHWM") - before;
    };
    auto oversized = [&](bool chunked) {
        raw_connection conn(port);
        auto head = chunked ? chunked_head("/v1/events")
                            : "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
                                  std::to_string(attempted) + "\r\n\r\n";
        auto r = stream_body(conn, head, attempted, chunked);
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 413) << r->body;
    };

    long one_chunked = peak_growth([&] { oversized(true); });
    long one_sized = peak_growth([&] { oversized(false); });
    long stream = peak_growth([&] {
        for (int i = 0; i < concurrent; ++i) oversized(i % 2 == 0);
    });
    // 20 at once, each holding nearly max_body when they all cross the limit together.
    long together = peak_growth([&] {
        std::barrier all_near_the_limit(concurrent);
        std::vector<std::thread> producers;
        std::atomic<int> refused{0};
        for (int i = 0; i < concurrent; ++i) {
            producers.emplace_back([&] {
                raw_connection conn(port);
                auto near = chunked_head("/v1/events");
                for (std::size_t sent = 0; sent + 64 * 1024 < limit; sent += 64 * 1024) near += chunk(std::string(64 * 1024, 'x'));
                conn.send(near);
                all_near_the_limit.arrive_and_wait();
                std::this_thread::sleep_for(200ms);  // the daemon reads what is in its socket buffers
                auto r = stream_body(conn, "", attempted, true);
                if (r && r->status == 413) ++refused;
            });
        }
        for (auto& t : producers) t.join();
        EXPECT_EQ(refused, concurrent);
    });
    // A chunk line that never ends: no body bytes, yet without a bound it would all be buffered.
    long endless_line = peak_growth([&] {
        raw_connection conn(port);
        conn.send(chunked_head("/v1/events"));
        static const std::string zeros(64 * 1024, '0');
        for (std::size_t sent = 0; sent < attempted && !conn.readable(); sent += zeros.size()) {
            if (!conn.send(zeros)) break;
        }
        auto r = conn.read_response();
        ASSERT_TRUE(r) << "no answer to a 10 MiB chunk-size line";
        EXPECT_EQ(r->status, 400) << r->body;
    });

    std::printf("[ memory ] peak RSS growth, KiB (max_body = %ld KiB): one chunked %ld, one Content-Length %ld, "
                "%d in sequence %ld, %d at once %ld (%ld each), endless chunk line %ld\n",
                limit_kib, one_chunked, one_sized, concurrent, stream, concurrent, together, together / concurrent,
                endless_line);
    EXPECT_LT(one_chunked, 2 * limit_kib);
    EXPECT_LT(one_sized, 2 * limit_kib);
    EXPECT_LT(stream, 2 * limit_kib) << "memory of refused requests accumulates";
    EXPECT_LT(together, concurrent * 2 * limit_kib);
    EXPECT_LT(endless_line, 2 * limit_kib);

    EXPECT_EQ(warm.post("/v1/events", std::string(valid_event)).status, 202);
    EXPECT_EQ(test::query_int(dir.file("webhookd.db"), "SELECT COUNT(*) FROM events"), 6);
    d.signal(SIGTERM);
    EXPECT_EQ(d.wait(), 0) << d.output();
}

}  // namespace
}  // namespace webhookd
