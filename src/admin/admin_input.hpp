#pragma once
// Admin API input: request bodies and query parameters checked and turned into store
// types. Pure (no I/O, no clock); every error is error{error_code::invalid_field or "invalid_json",
// a message that names the field}.

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "store/admin_types.hpp"
#include "webhookd/config.hpp"
#include "webhookd/result.hpp"

namespace webhookd::admin {

inline constexpr std::size_t default_page_limit = 50;
inline constexpr std::size_t max_page_limit = 1000;
inline constexpr std::size_t max_description = 1024;
inline constexpr std::size_t max_patterns = 256;
inline constexpr std::size_t max_custom_headers = 32;
inline constexpr std::size_t max_header_value = 4096;
inline constexpr std::size_t max_previous_secrets = 10;
inline constexpr std::int64_t max_rate_limit = 10'000;  // attempts per second
inline constexpr duration default_grace_period = std::chrono::hours(24);
inline constexpr duration max_grace_period = std::chrono::hours(24 * 7);
inline constexpr std::size_t max_tenant_id = 255;
inline constexpr std::size_t max_tenant_name = 255;
inline constexpr std::size_t max_metadata_keys = 50;  // Stripe's metadata bounds
inline constexpr std::size_t max_metadata_key = 40;
inline constexpr std::size_t max_metadata_value = 500;
inline constexpr duration default_token_lifetime = std::chrono::hours(24);
inline constexpr duration max_token_lifetime = std::chrono::hours(24 * 366);

// Parses a request body that must be a JSON object (an empty body is {} when
// empty_is_object). "invalid_json" otherwise.
result<nlohmann::json> parse_object(std::string_view body, bool empty_is_object);

// Rejects any member of `object` not in `allowed`, by name: "unknown field \"x\"".
status only_fields(const nlohmann::json& object, std::initializer_list<std::string_view> allowed,
                   std::string_view prefix = "");

// An endpoint body of POST /v1/endpoints (create: url required, defaults filled in) or
// PATCH /v1/endpoints/{id} (only what is given). The URL is checked for form only (the
// address check needs DNS: see admin_service). `secret`, when the create body gives one,
// is validated and returned through secret_out.
result<endpoint_settings> parse_endpoint_settings(const nlohmann::json& body, bool create,
                                                  std::optional<std::string>* secret_out);

// A tenant id: 1-255 characters of [A-Za-z0-9_.:-] (the platform's own customer id).
bool is_tenant_id(std::string_view text);

// A tenant body of POST /v1/tenants (create: defaults filled in, a given id returned
// through id_out) or PATCH /v1/tenants/{id} (only what is given).
result<tenant_settings> parse_tenant_settings(const nlohmann::json& body, bool create, std::optional<std::string>* id_out);

// The body of POST /v1/tenants/{id}/tokens.
struct token_request {
    std::string description;
    std::optional<duration> expires_in = default_token_lifetime;  // none: never expires
};
result<token_request> parse_token_request(const nlohmann::json& body);

// Newest-first keyset cursors: opaque to clients, "c1" + base64url of "primary.id".
std::string encode_cursor(const page_key& key);
std::optional<page_key> decode_cursor(std::string_view cursor);

// ?limit= (1..1000, default 50) and ?cursor=.
result<page_request> parse_page(const std::optional<std::string>& limit, const std::optional<std::string>& cursor);

// A time filter (?since=, ?until=, bulk retry bodies): RFC 3339, or Unix seconds.
result<std::int64_t> parse_time(std::string_view field, std::string_view text);

// "24h" etc.; at most max_grace_period. "0s" ends the previous secrets at once.
result<duration> parse_grace_period(std::string_view text);

}  // namespace webhookd::admin
