#pragma once
// When the next attempt of a failed delivery is due (docs/api.md, Retries). Pure: the
// caller passes the time and the random draw, so tests drive every branch.
//
// schedule[0] is the delay of attempt 1 after ingest; attempt k+1 is due schedule[k]
// after attempt k failed; schedule.size() attempts in all. Jitter is only ever added:
// up to `jitter` x the step. A Retry-After (on 429 or 503) pushes the next attempt to no
// earlier than it asks, capped at max_retry_after.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "webhookd/config.hpp"

namespace webhookd {

inline constexpr duration max_retry_after = std::chrono::hours(24);

struct retry_decision {
    bool exhausted = false;           // no attempt left: the delivery is dead
    std::int64_t next_attempt_ms = 0; // when !exhausted
};

class retry_policy {
public:
    // Precondition: schedule is not empty; jitter in [0, 1].
    retry_policy(std::vector<duration> schedule, double jitter);

    // attempt: the 1-based number of the attempt that just failed, at failed_at_ms.
    // random01: a uniform draw from [0, 1). retry_after: the server's Retry-After, if
    // the status was 429 or 503.
    retry_decision after_failure(int attempt, std::int64_t failed_at_ms, std::optional<duration> retry_after,
                                 double random01) const;

    // Due time of attempt 1 for a delivery created at created_ms (no jitter).
    std::int64_t first_attempt_ms(std::int64_t created_ms) const { return created_ms + schedule_.front().count(); }
    int max_attempts() const { return static_cast<int>(schedule_.size()); }

private:
    std::vector<duration> schedule_;
    double jitter_;
};

// Parses a Retry-After value: delta-seconds ("120") or an IMF-fixdate HTTP-date
// ("Wed, 21 Oct 2015 07:28:00 GMT", relative to now_ms). Negative results are zero; delta-
// seconds are capped at max_retry_after, however many digits they have. nullopt when
// unparseable.
std::optional<duration> parse_retry_after(std::string_view value, std::int64_t now_ms);

}  // namespace webhookd
