#pragma once
// The HTTP vocabulary shared by the server and the request handlers. Includes Beast: keep
// it out of headers that most files include.

#include <boost/beast/http.hpp>

#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "webhookd/result.hpp"

namespace webhookd::http {

namespace beast_http = boost::beast::http;
using request = beast_http::request<beast_http::string_body>;
using response = beast_http::response<beast_http::string_body>;
using status = beast_http::status;
using verb = beast_http::verb;

// Delivers a handler's response to its connection. Call exactly once, from any thread.
using responder = std::function<void(response)>;

// Serves requests. handle() may answer before it returns or later, from another thread.
class request_handler {
public:
    virtual ~request_handler() = default;
    virtual void handle(request&& req, responder respond) = 0;
};

// A response with the request's version and keep-alive, the Server header, and `body` as
// `content_type` (a page, an asset, the metrics text).
response body_response(const request& req, status code, std::string_view content_type, std::string body);

// The same as application/json.
response json_response(const request& req, status code, std::string body);

// The HTTP status that answers a failure with this code.
status status_of(error_code code) noexcept;

// The error shape of docs/api.md: {"error": {"code": ..., "message": ...}}.
std::string error_body(error_code code, std::string_view message);
// An error response with the status of its code, or with an explicit status.
response json_error(const request& req, const error& e);
response json_error(const request& req, status code, error_code error, std::string_view message);

// The token of an "Authorization: Bearer <token>" header (scheme in any case), if any.
std::optional<std::string_view> bearer_token(const request& req);

// Whether `given` is one of tokens, compared in constant time (false for none).
bool is_listener_token(std::string_view given, const std::vector<std::string>& tokens);

}  // namespace webhookd::http
