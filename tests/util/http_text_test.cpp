// The server's responses and the delivery client's requests are sent as a head written by
// util/http_text.hpp and the body after it: the bytes must be those Beast's serializer
// writes for the same message.

#include <gtest/gtest.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "http/types.hpp"
#include "util/http_text.hpp"

namespace webhookd::http {
namespace {

template <class Message>
std::string beast_bytes(const Message& m) {
    std::ostringstream out;
    out << m;
    return out.str();
}

request request_of(unsigned version, bool keep_alive) {
    request req{beast_http::verb::post, "/v1/events", version};
    req.keep_alive(keep_alive);
    return req;
}

TEST(write_response_head, head_and_body_are_what_beast_writes) {
    std::vector<response> responses{
        json_response(request_of(11, true), status::accepted, R"({"id":"evt_1","deliveries":0})"),
        json_response(request_of(11, false), status::ok, "{}"),
        json_response(request_of(10, true), status::created, "{\"x\":1}\n"),
        json_error(request_of(11, true), status::too_many_requests, error_code::overloaded, "slow down"),
        body_response(request_of(11, true), status::ok, "text/plain; version=0.0.4", std::string(70'000, 'm')),
        body_response(request_of(11, true), status::no_content, "application/json", ""),
    };
    response custom{status::service_unavailable, 11};
    custom.reason("Busy Here");
    custom.set("Retry-After", "5");
    custom.insert("X-Repeated", "a");
    custom.insert("X-Repeated", "b");
    custom.body() = "later";
    custom.prepare_payload();
    responses.push_back(custom);

    for (const auto& res : responses) {
        std::string head;
        write_response_head(res, head);
        EXPECT_EQ(head + res.body(), beast_bytes(res)) << res.result_int();
        EXPECT_TRUE(head.ends_with("\r\n\r\n"));
    }
}

TEST(write_post_head, head_and_body_are_what_beast_writes) {
    // As the delivery client sends them: a signed POST, keep-alive, Content-Length.
    const std::vector<std::pair<std::string, std::string>> fields{
        {"X-Env", "prod"},
        {"Content-Type", "application/json"},
        {"webhook-id", "msg_01"},
        {"webhook-signature", "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="}};
    const std::string body = R"({"id":"evt_1","event":"booking.created","data":{}})";
    beast_http::request<beast_http::string_body> req{beast_http::verb::post, "/hooks/booking?x=1&y=%20", 11};
    req.set(beast_http::field::host, "receiver.example:8443");
    req.set(beast_http::field::user_agent, "webhookd/0.1");
    for (const auto& [name, value] : fields) req.set(name, value);
    req.body() = body;
    req.keep_alive(true);
    req.prepare_payload();
    std::string head = "left over";
    write_post_head(head, "/hooks/booking?x=1&y=%20", "receiver.example:8443", "webhookd/0.1", fields, body.size());
    EXPECT_EQ(head + body, beast_bytes(req));
    EXPECT_TRUE(head.starts_with("POST /hooks/booking?x=1&y=%20 HTTP/1.1\r\nHost: receiver.example:8443\r\n")) << head;
    write_post_head(head, "/", "h", "ua", std::vector<std::pair<std::string, std::string>>{}, 0);
    EXPECT_EQ(head, "POST / HTTP/1.1\r\nHost: h\r\nUser-Agent: ua\r\nContent-Length: 0\r\n\r\n");
}

TEST(write_response_head, replaces_what_the_buffer_held) {
    std::string head = "left over from the last response";
    write_response_head(json_response(request_of(11, true), status::ok, "{}"), head);
    EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n")) << head;
}

}  // namespace
}  // namespace webhookd::http
