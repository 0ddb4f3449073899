#include "util/time_format.hpp"

#include <cstdio>

namespace webhookd {

namespace {

// Writes `value` as exactly `width` decimal digits at `at` (zero-padded; value < 10^width).
char* put_digits(char* at, long value, int width) {
    for (int i = width - 1; i >= 0; --i) {
        at[i] = static_cast<char>('0' + value % 10);
        value /= 10;
    }
    return at + width;
}

// "YYYY-MM-DDTHH:MM:SS" of `days` since the epoch and `ms` into that day, then
// ".mmm" when with_ms, then "Z". Digits written by hand: snprintf was 2% of an ingested
// event's instructions.
std::string format(std::chrono::days days, long ms, bool with_ms) {
    std::chrono::year_month_day ymd{std::chrono::sys_days{days}};
    int year = static_cast<int>(ymd.year());
    char buf[48];
    if (year < 0 || year > 9999) {  // not RFC 3339; written as printf writes it
        int n = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02ld", year,
                              static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), ms / 3'600'000,
                              ms / 60'000 % 60, ms / 1000 % 60);
        std::string out(buf, static_cast<std::size_t>(n));
        if (with_ms) out += "." + std::to_string(1000 + ms % 1000).substr(1);
        return out + "Z";
    }
    char* p = put_digits(buf, year, 4);
    *p++ = '-';
    p = put_digits(p, static_cast<unsigned>(ymd.month()), 2);
    *p++ = '-';
    p = put_digits(p, static_cast<unsigned>(ymd.day()), 2);
    *p++ = 'T';
    p = put_digits(p, ms / 3'600'000, 2);
    *p++ = ':';
    p = put_digits(p, ms / 60'000 % 60, 2);
    *p++ = ':';
    p = put_digits(p, ms / 1000 % 60, 2);
    if (with_ms) {
        *p++ = '.';
        p = put_digits(p, ms % 1000, 3);
    }
    *p++ = 'Z';
    return std::string(buf, p);
}

}  // namespace

std::string format_rfc3339(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    auto secs = floor<seconds>(t);
    auto days = floor<std::chrono::days>(secs);
    return format(days.time_since_epoch(), static_cast<long>(duration_cast<milliseconds>(secs - days).count()), false);
}

std::string format_rfc3339_ms(std::int64_t ms) {
    // In days and milliseconds, not system_clock (nanoseconds would overflow past 2262).
    using namespace std::chrono;
    auto total = milliseconds(ms);
    auto days = floor<std::chrono::days>(total);
    return format(days, static_cast<long>((total - days).count()), true);  // 0 .. 86'399'999 ms
}

namespace {

// Reads exactly n digits at pos; false if any is not a digit.
bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
    if (pos + n > s.size()) return false;
    out = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        out = out * 10 + (s[i] - '0');
    }
    return true;
}

}  // namespace

std::optional<std::int64_t> parse_rfc3339_ms(std::string_view s) {
    int y, mo, d, h, mi, sec;
    if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
        !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, h) || s[13] != ':' ||
        !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, sec)) {
        return std::nullopt;
    }
    using namespace std::chrono;
    year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!ymd.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
    std::int64_t ms = 0;
    std::size_t pos = 19;
    if (s[pos] == '.') {
        std::size_t start = ++pos;
        int scale = 100;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            ms += (s[pos] - '0') * scale;
            scale /= 10;
            ++pos;
        }
        if (pos == start) return std::nullopt;
    }
    if (pos >= s.size()) return std::nullopt;
    std::int64_t offset_minutes = 0;
    if (s[pos] == 'Z' || s[pos] == 'z') {
        if (pos + 1 != s.size()) return std::nullopt;
    } else {
        int oh, om;
        if ((s[pos] != '+' && s[pos] != '-') || pos + 6 != s.size() || !digits(s, pos + 1, 2, oh) ||
            s[pos + 3] != ':' || !digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
            return std::nullopt;
        }
        offset_minutes = (s[pos] == '-' ? -1 : 1) * (oh * 60 + om);
    }
    auto days_since_epoch = sys_days{ymd}.time_since_epoch().count();
    std::int64_t seconds_of_day = h * 3600 + mi * 60 + sec - offset_minutes * 60;
    return (static_cast<std::int64_t>(days_since_epoch) * 86400 + seconds_of_day) * 1000 + ms;
}

bool is_rfc3339(std::string_view s) { return parse_rfc3339_ms(s).has_value(); }

}  // namespace webhookd
