#pragma once
// Envelopes: the body an event is sent with, built once, for producer events at ingest and
// for the operational events webhookd emits itself.

#include <string>
#include <string_view>

#include "store/outbox_store.hpp"

namespace webhookd {

// The envelope {"id","timestamp","event","data"} as compact JSON; data_json is already
// serialized. Sets data_offset to where data starts in the returned body.
new_event build_envelope(std::string id, std::string type, std::string timestamp, std::string_view data_json);

// Types webhookd emits about itself (webhookd.endpoint.*, webhookd.delivery.dead).
// Producers may not send them, and only patterns that name them match them.
inline bool is_operational_type(std::string_view type) {
    return type.starts_with("webhookd.");
}

}  // namespace webhookd
