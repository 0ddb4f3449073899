#pragma once
// RFC 3339 timestamps.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace webhookd {

// "YYYY-MM-DDTHH:MM:SSZ" in UTC, seconds precision.
std::string format_rfc3339(std::chrono::system_clock::time_point t);

// True for an RFC 3339 date-time: "2025-04-19T14:30:00Z", "2025-04-19T14:30:00.123+02:00".
// Checks field ranges, including the days of each month and leap years.
bool is_rfc3339(std::string_view text);

// The instant an RFC 3339 date-time names, in milliseconds since the Unix epoch (fractions
// past milliseconds are dropped); nullopt when is_rfc3339 is false.
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view text);

// "YYYY-MM-DDTHH:MM:SS.mmmZ" in UTC for milliseconds since the Unix epoch.
std::string format_rfc3339_ms(std::int64_t ms);

}  // namespace webhookd
