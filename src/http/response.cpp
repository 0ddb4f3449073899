#include <openssl/crypto.h>

#include <nlohmann/json.hpp>

#include "http/types.hpp"
#include "webhookd/version.hpp"

namespace webhookd::http {

response json_response(const request& req, status code, std::string body) {
    response res{code, req.version()};
    res.set(beast_http::field::server, std::string("webhookd/") + version);
    res.set(beast_http::field::content_type, "application/json");
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

std::string error_body(std::string_view code, std::string_view message) {
    nlohmann::json j = {{"error", {{"code", code}, {"message", message}}}};
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

response json_error(const request& req, status code, std::string_view error_code, std::string_view message) {
    return json_response(req, code, error_body(error_code, message));
}

bool authorized(const request& req, const std::vector<std::string>& tokens) {
    if (tokens.empty()) return true;
    auto it = req.find(beast_http::field::authorization);
    if (it == req.end()) return false;
    std::string_view value = it->value();
    constexpr std::string_view scheme = "Bearer ";
    if (value.size() <= scheme.size()) return false;
    for (std::size_t i = 0; i < scheme.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(value[i])) != std::tolower(static_cast<unsigned char>(scheme[i]))) {
            return false;
        }
    }
    std::string_view given = value.substr(scheme.size());
    bool match = false;
    for (const auto& t : tokens) {
        // Length is not secret; contents are compared in constant time.
        if (t.size() == given.size() && CRYPTO_memcmp(t.data(), given.data(), t.size()) == 0) match = true;
    }
    return match;
}

}  // namespace webhookd::http
