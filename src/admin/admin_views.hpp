#pragma once
// How the admin API shows what it reads: the JSON of endpoints, deliveries, dead letters,
// attempts, events, tenants and tenant tokens, and the dlv_<id> form of delivery ids. Pure functions.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "store/admin_types.hpp"

namespace webhookd::admin {

using json = nlohmann::ordered_json;

json time_or_null(const std::optional<std::int64_t>& ms);  // RFC 3339 with milliseconds, or null
json text_or_null(const std::string& s);                   // null for ""

// "dlv_42" for 42; the inverse takes "dlv_42" or "42", nullopt for anything else.
std::string delivery_name(std::int64_t id);
std::optional<std::int64_t> parse_delivery_id(std::string_view text);

// An endpoint, its secret masked unless revealed_secret (the create answer shows it once).
json endpoint_json(const endpoint_view& e, const std::optional<std::string>& revealed_secret = std::nullopt);
json attempt_json(const attempt_view& a);
json delivery_json(const delivery_view& d, bool with_attempts);
// An event; with its data and deliveries for a detail answer (get_event's, not a list's).
json event_json(const event_view& e, bool with_detail);
json tenant_json(const tenant_view& t);
// A tenant token, never its hash; the token itself only in the create answer.
json token_json(const token_view& t, const std::optional<std::string>& revealed_token = std::nullopt);

}  // namespace webhookd::admin
