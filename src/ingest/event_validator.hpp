#pragma once
// Ingest request validation: producer JSON in, envelopes out. Pure: no I/O, time passed in.
//
// Errors use the stable codes of docs/api.md: "invalid_json" (not parseable, nesting deeper
// than max_json_depth) and "invalid_field" (message names the field).

#include <chrono>
#include <optional>
#include <string_view>
#include <vector>

#include "store/envelope.hpp"
#include "store/outbox_store.hpp"
#include "util/json_parse.hpp"
#include "webhookd/result.hpp"

namespace webhookd {

inline constexpr std::size_t max_event_type_length = 128;
inline constexpr std::size_t max_event_id_length = 255;
inline constexpr std::size_t max_tenant_id_length = 255;

// POST /v1/events. idempotency_key is the Idempotency-Key header, if any: it gives the id
// when the body has none, and must equal it when both are present.
result<new_event> parse_event(std::string_view body, std::optional<std::string_view> idempotency_key,
                              std::chrono::system_clock::time_point now);

// POST /v1/events/batch: {"events": [...]} with 1..max_events items, each as in
// parse_event (errors name the item: "events[3].event").
result<std::vector<new_event>> parse_batch(std::string_view body, std::size_t max_events,
                                           std::chrono::system_clock::time_point now);

}  // namespace webhookd
