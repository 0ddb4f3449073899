#include "delivery/request_builder.hpp"

#include <algorithm>

#include <boost/beast/core/string.hpp>
#include <nlohmann/json.hpp>

#include "delivery/signer.hpp"

namespace webhookd {

using boost::beast::iequals;

// Headers an endpoint's custom headers may not set: ours, and those of HTTP framing.
bool is_reserved_header(std::string_view name, std::string_view signature_header) {
    static constexpr std::string_view reserved[] = {
        "host", "user-agent", "content-type", "content-length", "transfer-encoding", "connection", "keep-alive",
        "te", "trailer", "upgrade", "proxy-authorization", "proxy-connection", "expect", "x-webhook-id",
        "x-webhook-event", "x-webhook-timestamp", "x-webhook-attempt", "x-webhook-signature", "webhook-id",
        "webhook-timestamp", "webhook-signature"};
    if (iequals(name, signature_header)) return true;
    return std::any_of(std::begin(reserved), std::end(reserved), [&](std::string_view r) { return iequals(name, r); });
}

// The request an endpoint receives for one attempt (docs/api.md).
delivery_request build_request(const endpoint_record& ep, const claimed_delivery& d, std::int64_t unix_seconds) {
    delivery_request req;
    req.url = ep.url;
    req.body = ep.body_mode == "data"
                   ? d.envelope.substr(d.data_offset, d.envelope.size() - d.data_offset - 1)
                   : d.envelope;
    auto ts = std::to_string(unix_seconds);
    auto& h = req.headers;
    // Operator headers never replace a header webhookd sets or HTTP framing depends on.
    // Most endpoints have none ("{}"): nothing to parse.
    auto custom = ep.headers_json == "{}" ? nlohmann::json() : nlohmann::json::parse(ep.headers_json, nullptr, false);
    if (custom.is_object()) {
        for (auto it = custom.begin(); it != custom.end(); ++it) {
            if (!it.value().is_string() || is_reserved_header(it.key(), ep.signature_header)) continue;
            // Names differing in case only are one field: the last value counts.
            auto same = std::find_if(h.begin(), h.end(), [&](const auto& f) { return iequals(f.first, it.key()); });
            if (same != h.end()) {
                same->second = it.value().get<std::string>();
            } else {
                h.emplace_back(it.key(), it.value().get<std::string>());
            }
        }
    }
    h.emplace_back("Content-Type", "application/json");
    h.emplace_back("X-Webhook-Id", d.event_id);
    h.emplace_back("X-Webhook-Event", d.event_type);
    h.emplace_back("X-Webhook-Timestamp", ts);
    h.emplace_back("X-Webhook-Attempt", std::to_string(d.attempt));
    auto format = parse_signature_format(ep.signature_format).value_or(signature_format::hex);
    h.emplace_back(ep.signature_header, signature_header_value(format, ep.secrets, req.body, unix_seconds));
    h.emplace_back("webhook-id", d.event_id);
    h.emplace_back("webhook-timestamp", ts);
    h.emplace_back("webhook-signature", standard_webhooks_header(ep.secrets, d.event_id, unix_seconds, req.body));
    return req;
}

}  // namespace webhookd
