#include "delivery/retry_policy.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace webhookd {

retry_policy::retry_policy(std::vector<duration> schedule, double jitter)
    : schedule_(std::move(schedule)), jitter_(jitter) {}

retry_decision retry_policy::after_failure(int attempt, std::int64_t failed_at_ms,
                                           std::optional<duration> retry_after, double random01) const {
    if (attempt >= max_attempts()) return {true, 0};
    auto step = schedule_[static_cast<std::size_t>(std::max(attempt, 1))].count();
    auto extra = static_cast<std::int64_t>(std::floor(static_cast<double>(step) * jitter_ * random01));
    std::int64_t next = failed_at_ms + step + extra;
    if (retry_after) next = std::max(next, failed_at_ms + std::min(*retry_after, max_retry_after).count());
    return {false, next};
}

namespace {

bool parse_int(std::string_view s, std::int64_t& out) {
    if (s.empty() || s.size() > 12) return false;
    out = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        out = out * 10 + (c - '0');
    }
    return true;
}

// "Wed, 21 Oct 2015 07:28:00 GMT" -> ms since the epoch.
std::optional<std::int64_t> parse_imf_fixdate(std::string_view s) {
    static constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                                "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (s.size() != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[19] != ':' || s[22] != ':' || s.substr(25) != " GMT") {
        return std::nullopt;
    }
    std::int64_t day, year, h, m, sec;
    if (!parse_int(s.substr(5, 2), day) || !parse_int(s.substr(12, 4), year) || !parse_int(s.substr(17, 2), h) ||
        !parse_int(s.substr(20, 2), m) || !parse_int(s.substr(23, 2), sec)) {
        return std::nullopt;
    }
    auto it = std::find(months.begin(), months.end(), s.substr(8, 3));
    if (it == months.end()) return std::nullopt;
    using namespace std::chrono;
    year_month_day ymd{std::chrono::year{static_cast<int>(year)},
                       std::chrono::month{static_cast<unsigned>(it - months.begin() + 1)},
                       std::chrono::day{static_cast<unsigned>(day)}};
    if (!ymd.ok() || h > 23 || m > 59 || sec > 60) return std::nullopt;
    auto t = sys_days{ymd} + hours{h} + minutes{m} + seconds{sec};
    return duration_cast<milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::optional<duration> parse_retry_after(std::string_view value, std::int64_t now_ms) {
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    if (!value.empty() && std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        // Any number of digits: one too large for an integer asks for the longest wait we allow.
        std::int64_t secs = 0;
        constexpr std::int64_t cap = std::chrono::duration_cast<std::chrono::seconds>(max_retry_after).count();
        for (char c : value) {
            secs = std::min(cap, secs * 10 + (c - '0'));
        }
        return std::chrono::seconds(secs);
    }
    if (auto at = parse_imf_fixdate(value)) return duration(std::max<std::int64_t>(0, *at - now_ms));
    return std::nullopt;
}

}  // namespace webhookd
