#include "util/endpoint_matcher.hpp"

#include "util/ids.hpp"

namespace webhookd {

namespace {
constexpr std::size_t max_event_type = 128;
constexpr std::string_view operational_prefix = "webhookd.";
}

bool pattern_matches(std::string_view pattern, std::string_view event_type) {
    // webhookd's own events go only where a pattern names them: a receiver subscribed to
    // "*" wants the platform's events, not reports about its own health.
    if (event_type.starts_with(operational_prefix) && !pattern.starts_with(operational_prefix)) return false;
    if (pattern == "*") return true;
    if (pattern.size() >= 2 && pattern.ends_with(".*")) {
        auto prefix = pattern.substr(0, pattern.size() - 1);  // keeps the dot
        return event_type.size() > prefix.size() && event_type.starts_with(prefix);
    }
    return pattern == event_type;
}

bool any_pattern_matches(std::span<const std::string> patterns, std::string_view event_type) {
    if (patterns.empty()) return !event_type.starts_with(operational_prefix);
    for (const auto& p : patterns) {
        if (pattern_matches(p, event_type)) return true;
    }
    return false;
}

bool is_valid_pattern(std::string_view pattern) {
    if (pattern == "*") return true;
    if (pattern.ends_with(".*")) pattern.remove_suffix(2);
    return is_valid_token(pattern, max_event_type);
}

}  // namespace webhookd
