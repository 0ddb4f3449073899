// Feeds any bytes as text to parse_duration and parse_size (src/config/units.cpp), and the
// first 8 bytes as a raw millisecond count to format_duration. Invariants: each parser
// agrees with an independent 128-bit computation of amount x unit (accepted exactly when
// the product fits: "99999999999999d" is an error, never a wrapped value); a parsed
// duration is not negative and format_duration of it parses back to the same value;
// format_duration of any count, even the most negative one, has no undefined behaviour.

#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>

#include "fuzz_check.hpp"
#include "webhookd/config.hpp"

namespace {

__extension__ using u128 = unsigned __int128;

// The leading decimal digits of text as a number (saturated above 2^64) and the rest.
struct split_text {
    bool has_digits = false;
    u128 amount = 0;
    std::string_view unit;
};

split_text split(std::string_view text) {
    constexpr u128 saturated = u128{1} << 64;
    split_text s;
    std::size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
        s.amount = s.amount * 10 + static_cast<unsigned>(text[i] - '0');
        if (s.amount > saturated) s.amount = saturated;
    }
    s.has_digits = i > 0;
    s.unit = text.substr(i);
    return s;
}

// What parse_duration must return, in milliseconds, computed without it.
std::optional<std::int64_t> expected_duration(std::string_view text) {
    const split_text s = split(text);
    if (!s.has_digits || s.amount >= (u128{1} << 64)) return std::nullopt;
    u128 millis = 0;
    if (s.unit == "us") {
        millis = (s.amount + 999) / 1000;
    } else {
        constexpr std::pair<std::string_view, std::uint64_t> units[] = {
            {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}, {"w", 604'800'000}};
        bool known = false;
        for (const auto& [name, factor] : units) {
            if (s.unit == name) {
                millis = s.amount * factor;
                known = true;
            }
        }
        if (!known) return std::nullopt;
    }
    if (millis > static_cast<u128>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
    return static_cast<std::int64_t>(millis);
}

// What parse_size must return, computed without it.
std::optional<std::uint64_t> expected_size(std::string_view text) {
    const split_text s = split(text);
    if (!s.has_digits || s.amount >= (u128{1} << 64)) return std::nullopt;
    constexpr std::pair<std::string_view, std::uint64_t> units[] = {
        {"", 1},           {"B", 1},        {"KB", 1000},        {"MB", 1'000'000},
        {"GB", 1'000'000'000}, {"KiB", 1024}, {"MiB", 1024 * 1024}, {"GiB", 1024 * 1024 * 1024}};
    for (const auto& [name, factor] : units) {
        if (s.unit != name) continue;
        const u128 bytes = s.amount * factor;
        if (bytes > std::numeric_limits<std::uint64_t>::max()) return std::nullopt;
        return static_cast<std::uint64_t>(bytes);
    }
    return std::nullopt;
}

void check_round_trip(webhookd::duration d) {
    const std::string text = webhookd::format_duration(d);
    const auto again = webhookd::parse_duration(text);
    FUZZ_CHECK(again && *again == d, "format_duration(" + std::to_string(d.count()) + ") = \"" + text +
                                         "\" does not parse back to the same duration");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    const auto d = webhookd::parse_duration(text);
    const auto want_d = expected_duration(text);
    FUZZ_CHECK(d.has_value() == want_d.has_value(), "parse_duration accepts or refuses against the 128-bit oracle");
    if (d) {
        FUZZ_CHECK(d->count() == *want_d, "parse_duration = " + std::to_string(d->count()) + " ms, oracle " +
                                              std::to_string(*want_d));
        FUZZ_CHECK(d->count() >= 0, "parse_duration returned a negative duration");
        check_round_trip(*d);
    }

    const auto bytes = webhookd::parse_size(text);
    const auto want_bytes = expected_size(text);
    FUZZ_CHECK(bytes == want_bytes, "parse_size disagrees with the 128-bit oracle");

    if (size >= sizeof(std::int64_t)) {
        std::int64_t count = 0;
        std::memcpy(&count, data, sizeof count);
        const webhookd::duration raw(count);
        const std::string shown = webhookd::format_duration(raw);  // UBSan watches the negation
        if (count >= 0) check_round_trip(raw);
        FUZZ_CHECK(!shown.empty(), "format_duration returned nothing");
    }
    return 0;
}
