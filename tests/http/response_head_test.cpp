// The session writes a response's status line and fields itself and sends the body after
// them: the bytes must be those Beast's serializer writes for the same response.

#include <gtest/gtest.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <sstream>
#include <string>

#include "http/types.hpp"

namespace webhookd::http {
namespace {

std::string beast_bytes(const response& res) {
    std::ostringstream out;
    out << res;
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

TEST(write_response_head, replaces_what_the_buffer_held) {
    std::string head = "left over from the last response";
    write_response_head(json_response(request_of(11, true), status::ok, "{}"), head);
    EXPECT_TRUE(head.starts_with("HTTP/1.1 200 OK\r\n")) << head;
}

}  // namespace
}  // namespace webhookd::http
