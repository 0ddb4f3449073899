#include "admin/admin_views.hpp"

#include "delivery/signer.hpp"
#include "util/time_format.hpp"

namespace webhookd::admin {

json time_or_null(const std::optional<std::int64_t>& ms) {
    return ms ? json(format_rfc3339_ms(*ms)) : json(nullptr);
}
json text_or_null(const std::string& s) {
    return s.empty() ? json(nullptr) : json(s);
}

std::string delivery_name(std::int64_t id) {
    return "dlv_" + std::to_string(id);
}

// "dlv_42" (or "42") to 42.
std::optional<std::int64_t> parse_delivery_id(std::string_view text) {
    if (text.starts_with("dlv_")) text.remove_prefix(4);
    if (text.empty() || text.size() > 18) return std::nullopt;
    std::int64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    return v;
}

json endpoint_json(const endpoint_view& e, const std::optional<std::string>& revealed_secret) {
    json previous = json::array();
    for (std::size_t i = 1; i < e.secrets.size(); ++i) {
        previous.push_back(
            {{"secret", mask_secret(e.secrets[i].secret)}, {"expires_at", time_or_null(e.secrets[i].expires_ms)}});
    }
    std::string current = e.secrets.empty() ? "" : e.secrets.front().secret;
    return json{
        {"id", e.id},
        {"tenant", e.tenant ? json(*e.tenant) : json(nullptr)},
        {"url", e.url},
        {"description", e.description},
        {"events", json::parse(e.patterns_json, nullptr, false)},
        {"signature", {{"format", e.signature_format}, {"header", e.signature_header}}},
        {"headers", json::parse(e.headers_json, nullptr, false)},
        {"body", e.body_mode},
        {"enabled", e.enabled},
        {"status", !e.enabled ? "disabled" : e.paused_ms ? "paused" : "active"},
        {"disabled_reason", e.disabled_reason ? json(*e.disabled_reason) : json(nullptr)},
        {"disabled_at", time_or_null(e.disabled_ms)},
        {"paused", e.paused_ms.has_value()},
        {"paused_at", time_or_null(e.paused_ms)},
        {"consecutive_failures", e.consecutive_failures},
        {"failing_since", time_or_null(e.failing_since_ms)},
        {"deliveries_pending", e.deliveries_pending},
        {"rate_limit", e.rate_limit ? json(*e.rate_limit) : json(nullptr)},
        {"ordering", e.ordering},
        {"secret", revealed_secret ? *revealed_secret : mask_secret(current)},
        {"previous_secrets", previous},
        {"created_at", format_rfc3339_ms(e.created_ms)},
        {"updated_at", format_rfc3339_ms(e.updated_ms)},
    };
}

json attempt_json(const attempt_view& a) {
    return json{
        {"attempt", a.attempt},
        {"delivery_id", a.delivery_id ? json(delivery_name(*a.delivery_id)) : json(nullptr)},
        {"test", !a.delivery_id.has_value()},
        {"started_at", format_rfc3339_ms(a.started_ms)},
        {"outcome", a.outcome},
        {"status_code", a.status_code ? json(*a.status_code) : json(nullptr)},
        {"latency_ms", static_cast<double>(a.duration_us) / 1000.0},
        {"error", text_or_null(a.error)},
        {"response", a.response_snippet},
    };
}

json delivery_json(const delivery_view& d, bool with_attempts) {
    json j{
        {"id", delivery_name(d.id)},
        {"status", d.status},
        {"event_id", d.event_id},
        {"event", d.event_type},
        {"endpoint_id", d.endpoint_id},
        {"tenant", d.tenant ? json(*d.tenant) : json(nullptr)},
        {"attempt_count", d.attempts},
        {"created_at", format_rfc3339_ms(d.created_ms)},
        {"next_attempt_at", time_or_null(d.next_attempt_ms)},
        {"last_attempt_at", time_or_null(d.last_attempt_ms)},
        {"last_status", d.last_status ? json(*d.last_status) : json(nullptr)},
        {"last_error", text_or_null(d.last_error)},
        {"delivered_at", time_or_null(d.delivered_ms)},
        {"died_at", time_or_null(d.died_ms)},
    };
    if (d.status == "dead") j["last_response"] = d.last_response;
    if (with_attempts) {
        json attempts = json::array();
        for (const auto& a : d.attempt_log) attempts.push_back(attempt_json(a));
        j["attempts"] = std::move(attempts);
    }
    return j;
}

json event_json(const event_view& e, bool with_detail) {
    json j{
        {"id", e.id},
        {"tenant", e.tenant ? json(*e.tenant) : json(nullptr)},
        {"event", e.type},
        {"timestamp", e.timestamp},
        {"created_at", format_rfc3339_ms(e.created_ms)},
    };
    if (with_detail) {
        j["data"] = json::parse(e.body.substr(e.data_offset, e.body.size() - e.data_offset - 1), nullptr, false);
        json deliveries = json::array();
        for (const auto& d : e.deliveries) deliveries.push_back(delivery_json(d, false));
        j["deliveries"] = std::move(deliveries);
    }
    return j;
}

json tenant_json(const tenant_view& t) {
    return json{
        {"id", t.id},
        {"name", t.name},
        {"metadata", json::parse(t.metadata_json, nullptr, false)},
        {"created_at", format_rfc3339_ms(t.created_ms)},
        {"updated_at", format_rfc3339_ms(t.updated_ms)},
    };
}

json token_json(const token_view& t, const std::optional<std::string>& revealed_token) {
    json j{{"id", t.id}};
    if (revealed_token) j["token"] = *revealed_token;
    j["tenant"] = t.tenant_id;
    j["description"] = t.description;
    j["created_at"] = format_rfc3339_ms(t.created_ms);
    j["expires_at"] = time_or_null(t.expires_ms);
    return j;
}

}  // namespace webhookd::admin
