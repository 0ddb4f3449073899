#pragma once
// The outcomes of one HTTP attempt: what the delivery client reports, the store logs, and
// webhookd_attempts_total{outcome} counts. The vocabulary every layer shares, so it sits at
// the bottom (util/), below all of them.

#include <array>
#include <cstddef>
#include <string_view>

namespace webhookd {

enum class attempt_outcome { success, http_error, timeout, connect_error, tls_error, dns_error };

inline constexpr std::size_t attempt_outcome_count = 6;

// The wire and log name of each outcome, in enumerator order.
inline constexpr std::array<std::string_view, attempt_outcome_count> attempt_outcome_names = {
    "success", "http_error", "timeout", "connect_error", "tls_error", "dns_error"};

constexpr std::string_view to_string(attempt_outcome o) noexcept {
    return attempt_outcome_names[static_cast<std::size_t>(o)];
}

}  // namespace webhookd
