#include <openssl/crypto.h>

#include <nlohmann/json.hpp>

#include "http/types.hpp"
#include "webhookd/version.hpp"

namespace webhookd::http {

response body_response(const request& req, status code, std::string_view content_type, std::string body) {
    response res{code, req.version()};
    res.set(beast_http::field::server, std::string("webhookd/") + version);
    res.set(beast_http::field::content_type, content_type);
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

response json_response(const request& req, status code, std::string body) {
    return body_response(req, code, "application/json", std::move(body));
}

status status_of(error_code code) noexcept {
    switch (code) {
    case error_code::bad_request:
    case error_code::invalid_json:
    case error_code::invalid_field: return status::bad_request;
    case error_code::unauthorized: return status::unauthorized;
    case error_code::forbidden: return status::forbidden;
    case error_code::not_found:
    case error_code::tenant_not_found: return status::not_found;
    case error_code::method_not_allowed: return status::method_not_allowed;
    case error_code::conflict:
    case error_code::id_conflict: return status::conflict;
    case error_code::payload_too_large: return status::payload_too_large;
    case error_code::unsupported_media_type: return status::unsupported_media_type;
    case error_code::headers_too_large: return status::request_header_fields_too_large;
    case error_code::overloaded:
    case error_code::shutting_down:
    case error_code::not_ready:
    case error_code::storage_unavailable: return status::service_unavailable;
    default: return status::internal_server_error;
    }
}

std::string error_body(error_code code, std::string_view message) {
    nlohmann::json j = {{"error", {{"code", to_string(code)}, {"message", message}}}};
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

response json_error(const request& req, const error& e) { return json_error(req, status_of(e.code), e.code, e.message); }

response json_error(const request& req, status code, error_code error, std::string_view message) {
    return json_response(req, code, error_body(error, message));
}

std::optional<std::string_view> bearer_token(const request& req) {
    auto it = req.find(beast_http::field::authorization);
    if (it == req.end()) return std::nullopt;
    std::string_view value = it->value();
    constexpr std::string_view scheme = "Bearer ";
    if (value.size() <= scheme.size()) return std::nullopt;
    for (std::size_t i = 0; i < scheme.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(value[i])) != std::tolower(static_cast<unsigned char>(scheme[i]))) {
            return std::nullopt;
        }
    }
    return value.substr(scheme.size());
}

bool is_listener_token(std::string_view given, const std::vector<std::string>& tokens) {
    bool match = false;
    for (const auto& t : tokens) {
        // Length is not secret; contents are compared in constant time.
        if (t.size() == given.size() && CRYPTO_memcmp(t.data(), given.data(), t.size()) == 0) match = true;
    }
    return match;
}

}  // namespace webhookd::http
