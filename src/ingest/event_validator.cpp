#include "ingest/event_validator.hpp"

#include "ingest/json_check.hpp"
#include "ingest/json_scan.hpp"
#include "util/ids.hpp"
#include "util/time_format.hpp"

namespace webhookd {

namespace {

error invalid(const std::string& field, const std::string& why) {
    return error{error_code::invalid_field, "\"" + field + "\" " + why};
}

bool starts_with_char(std::string_view raw, char c) {
    auto at = raw.find_first_not_of(" \t\n\r");
    return at != std::string_view::npos && raw[at] == c;
}

const json_member* find(const std::vector<json_member>& members, std::string_view key) {
    for (const auto& m : members) {
        if (m.key == key) return &m;
    }
    return nullptr;
}

// A string member's text, escapes decoded; none when the value is not a string.
std::optional<std::string> string_value(const json_member& m) {
    if (m.value.size() < 2 || m.value.front() != '"') return std::nullopt;
    return unescape_json_string(m.value.substr(1, m.value.size() - 2));
}

// The string value of member `key` when it is a token of [A-Za-z0-9_.:-] of 1 to
// max_length characters; an empty string when absent; an error naming the field otherwise.
result<std::string> token_member(const std::vector<json_member>& members, std::string_view key,
                                 const std::string& where, std::size_t max_length) {
    const json_member* m = find(members, key);
    if (!m) return std::string();
    auto text = string_value(*m);
    if (!text || !is_valid_token(*text, max_length)) {
        return invalid(where + std::string(key),
                       "must be 1-" + std::to_string(max_length) + " characters of [A-Za-z0-9_.:-]");
    }
    return std::move(*text);
}

// `raw` is one event object's text, already checked to be JSON (check_json_body); `where`
// prefixes field names in messages ("" or "events[3].").
result<new_event> event_from_text(std::string_view raw, const std::string& where,
                                  std::optional<std::string_view> idempotency_key,
                                  std::chrono::system_clock::time_point now) {
    const std::string what = where.empty() ? std::string("the body") : where.substr(0, where.size() - 1);
    if (!starts_with_char(raw, '{')) return error{error_code::invalid_field, what + " must be a JSON object"};
    auto members = raw_members(raw);
    if (has_duplicate_keys(members)) return error{error_code::invalid_json, what + " has a duplicate key"};
    for (const auto& m : members) {
        const auto& k = m.key;
        if (k != "event" && k != "data" && k != "id" && k != "timestamp" && k != "tenant") {
            return invalid(where + k, "is not a known field (expected event, data, id, timestamp, tenant)");
        }
    }
    if (!find(members, "event")) return invalid(where + "event", "is required");
    auto type = token_member(members, "event", where, max_event_type_length);
    if (!type) return type.err();
    if (is_operational_type(*type)) {
        return invalid(where + "event",
                       "may not start with \"webhookd.\": those are webhookd's own operational events");
    }
    const json_member* data = find(members, "data");
    if (!data) return invalid(where + "data", "is required");

    auto id = token_member(members, "id", where, max_event_id_length);
    if (!id) return id.err();
    if (idempotency_key) {
        if (!is_valid_token(*idempotency_key, max_event_id_length)) {
            return invalid("Idempotency-Key", "header must be 1-255 characters of [A-Za-z0-9_.:-]");
        }
        if (!id->empty() && *id != *idempotency_key) {
            return invalid(where + "id", "differs from the Idempotency-Key header");
        }
        *id = std::string(*idempotency_key);
    }
    if (id->empty()) *id = new_id("evt", now);

    auto tenant = token_member(members, "tenant", where, max_tenant_id_length);
    if (!tenant) return tenant.err();

    std::string timestamp;
    if (const json_member* t = find(members, "timestamp")) {
        auto text = string_value(*t);
        if (!text || !is_rfc3339(*text)) {
            return invalid(where + "timestamp", "must be an RFC 3339 date-time like \"2025-04-19T14:30:00Z\"");
        }
        timestamp = std::move(*text);
    } else {
        timestamp = format_rfc3339(now);
    }
    // data travels as the producer wrote it (numbers keep their digits), minus whitespace.
    auto event = build_envelope(std::move(*id), std::move(*type), std::move(timestamp), minify_json(data->value));
    if (!tenant->empty()) event.tenant = std::move(*tenant);
    return event;
}

}  // namespace

result<new_event> parse_event(std::string_view body, std::optional<std::string_view> idempotency_key,
                              std::chrono::system_clock::time_point now) {
    if (auto checked = check_json_body(body); !checked) return checked.err();
    return event_from_text(body, "", idempotency_key, now);
}

result<std::vector<new_event>> parse_batch(std::string_view body, std::size_t max_events,
                                           std::chrono::system_clock::time_point now) {
    if (auto checked = check_json_body(body); !checked) return checked.err();
    if (!starts_with_char(body, '{')) {
        return error{error_code::invalid_field, "the body must be a JSON object with an \"events\" array"};
    }
    auto members = raw_members(body);
    for (const auto& m : members) {
        if (m.key != "events") return invalid(m.key, "is not a known field (expected events)");
    }
    const json_member* items = find(members, "events");
    if (!items || !starts_with_char(items->value, '[')) return invalid("events", "must be an array of events");
    auto raw_items = raw_elements(items->value);
    if (raw_items.empty() || raw_items.size() > max_events) {
        return invalid("events", "must hold 1 to " + std::to_string(max_events) + " events, not " +
                                     std::to_string(raw_items.size()));
    }
    if (has_duplicate_keys(members)) return error{error_code::invalid_json, "the body has a duplicate key"};
    std::vector<new_event> out;
    out.reserve(raw_items.size());
    for (std::size_t i = 0; i < raw_items.size(); ++i) {
        auto e = event_from_text(raw_items[i], "events[" + std::to_string(i) + "].", std::nullopt, now);
        if (!e) return e.err();
        out.push_back(std::move(e).value());
    }
    return out;
}

}  // namespace webhookd
