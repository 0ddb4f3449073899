#include "ingest/event_validator.hpp"

#include <nlohmann/json.hpp>

#include "ingest/json_scan.hpp"
#include "util/json_parse.hpp"
#include "util/ids.hpp"
#include "util/time_format.hpp"

namespace webhookd {

namespace {

// Keeps the producer's key order in `data`, so the envelope reads as they wrote it.
using json = nlohmann::ordered_json;

// Parses with the bounds every route shares (util/json_parse.hpp), building the tree down
// to the events' members only: `data` is taken from the text as written.
result<json> parse_json(std::string_view body, std::size_t events_depth) {
    return parse_json_body<json>(body, events_depth);
}

error invalid(const std::string& field, const std::string& why) {
    return error{error_code::invalid_field, "\"" + field + "\" " + why};
}

// `where` prefixes field names in messages ("" or "events[3]."); `raw` is obj's text.
result<new_event> event_from_json(json& obj, std::string_view raw, const std::string& where,
                                  std::optional<std::string_view> idempotency_key,
                                  std::chrono::system_clock::time_point now) {
    if (!obj.is_object()) {
        return error{error_code::invalid_field, (where.empty() ? std::string("the body") : where.substr(0, where.size() - 1)) +
                                          " must be a JSON object"};
    }
    if (has_duplicate_keys(raw)) {
        return error{error_code::invalid_json, (where.empty() ? std::string("the body") : where.substr(0, where.size() - 1)) +
                                         " has a duplicate key"};
    }
    for (auto it = obj.begin(); it != obj.end(); ++it) {
        const auto& k = it.key();
        if (k != "event" && k != "data" && k != "id" && k != "timestamp" && k != "tenant") {
            return invalid(where + k, "is not a known field (expected event, data, id, timestamp, tenant)");
        }
    }
    auto ev = obj.find("event");
    if (ev == obj.end()) return invalid(where + "event", "is required");
    if (!ev->is_string() || !is_valid_token(ev->get_ref<const std::string&>(), max_event_type_length)) {
        return invalid(where + "event", "must be 1-128 characters of [A-Za-z0-9_.:-]");
    }
    if (is_operational_type(ev->get_ref<const std::string&>())) {
        return invalid(where + "event",
                       "may not start with \"webhookd.\": those are webhookd's own operational events");
    }
    if (!obj.contains("data")) return invalid(where + "data", "is required");

    std::string id;
    if (auto it = obj.find("id"); it != obj.end()) {
        if (!it->is_string() || !is_valid_token(it->get_ref<const std::string&>(), max_event_id_length)) {
            return invalid(where + "id", "must be 1-255 characters of [A-Za-z0-9_.:-]");
        }
        id = it->get<std::string>();
    }
    if (idempotency_key) {
        if (!is_valid_token(*idempotency_key, max_event_id_length)) {
            return invalid("Idempotency-Key", "header must be 1-255 characters of [A-Za-z0-9_.:-]");
        }
        if (!id.empty() && id != *idempotency_key) {
            return invalid(where + "id", "differs from the Idempotency-Key header");
        }
        id = std::string(*idempotency_key);
    }
    if (id.empty()) id = new_id("evt", now);

    std::optional<std::string> tenant;
    if (auto it = obj.find("tenant"); it != obj.end()) {
        if (!it->is_string() || !is_valid_token(it->get_ref<const std::string&>(), max_tenant_id_length)) {
            return invalid(where + "tenant", "must be 1-255 characters of [A-Za-z0-9_.:-]");
        }
        tenant = it->get<std::string>();
    }

    std::string timestamp;
    if (auto it = obj.find("timestamp"); it != obj.end()) {
        if (!it->is_string() || !is_rfc3339(it->get_ref<const std::string&>())) {
            return invalid(where + "timestamp", "must be an RFC 3339 date-time like \"2025-04-19T14:30:00Z\"");
        }
        timestamp = it->get<std::string>();
    } else {
        timestamp = format_rfc3339(now);
    }
    // data travels as the producer wrote it (numbers keep their digits), minus whitespace;
    // the parser did not build it.
    auto raw_data = raw_member(raw, "data");
    if (!raw_data) return error{error_code::invalid_json, "cannot delimit " + where + "data"};
    auto event = build_envelope(std::move(id), ev->get<std::string>(), std::move(timestamp), minify_json(*raw_data));
    event.tenant = std::move(tenant);
    return event;
}

}  // namespace

result<new_event> parse_event(std::string_view body, std::optional<std::string_view> idempotency_key,
                              std::chrono::system_clock::time_point now) {
    auto doc = parse_json(body, 1);
    if (!doc) return doc.err();
    return event_from_json(*doc, body, "", idempotency_key, now);
}

result<std::vector<new_event>> parse_batch(std::string_view body, std::size_t max_events,
                                           std::chrono::system_clock::time_point now) {
    auto doc = parse_json(body, 3);  // the body, its "events" array, each event, its members
    if (!doc) return doc.err();
    if (!doc->is_object()) return error{error_code::invalid_field, "the body must be a JSON object with an \"events\" array"};
    for (auto it = doc->begin(); it != doc->end(); ++it) {
        if (it.key() != "events") return invalid(it.key(), "is not a known field (expected events)");
    }
    auto items = doc->find("events");
    if (items == doc->end() || !items->is_array()) return invalid("events", "must be an array of events");
    if (items->empty() || items->size() > max_events) {
        return invalid("events", "must hold 1 to " + std::to_string(max_events) + " events, not " +
                                     std::to_string(items->size()));
    }
    if (has_duplicate_keys(body)) return error{error_code::invalid_json, "the body has a duplicate key"};
    auto raw_items = raw_elements(raw_member(body, "events").value_or(""));
    if (raw_items.size() != items->size()) return error{error_code::invalid_json, "cannot delimit the events array"};
    std::vector<new_event> out;
    out.reserve(items->size());
    for (std::size_t i = 0; i < items->size(); ++i) {
        auto e = event_from_json((*items)[i], raw_items[i], "events[" + std::to_string(i) + "].", std::nullopt, now);
        if (!e) return e.err();
        out.push_back(std::move(e).value());
    }
    return out;
}

}  // namespace webhookd
