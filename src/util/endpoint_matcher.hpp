#pragma once
// Which endpoints an event type goes to. Patterns are exact names ("booking.created"),
// prefix wildcards ("booking.*" matches "booking.created" and "booking.x.y", not "booking"),
// or "*" (everything). An empty pattern list matches everything. Operational event types
// ("webhookd.endpoint.failing", ...) match only patterns that start with "webhookd.":
// "*" and an empty list do not match them.

#include <span>
#include <string>
#include <string_view>

namespace webhookd {

bool pattern_matches(std::string_view pattern, std::string_view event_type);

bool any_pattern_matches(std::span<const std::string> patterns, std::string_view event_type);

// True for a well-formed pattern: "*", or an event type optionally ending in ".*".
bool is_valid_pattern(std::string_view pattern);

}  // namespace webhookd
