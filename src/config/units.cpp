// Durations and sizes as written in the config: an unsigned integer followed by a unit.

#include <array>
#include <limits>

#include "webhookd/config.hpp"

namespace webhookd {
namespace {

constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();

// Splits text into a leading run of ASCII digits and the rest. Returns false when there
// is no digit or the number does not fit in 64 bits.
bool split_amount(std::string_view text, std::uint64_t& amount, std::string_view& unit) {
    amount = 0;
    std::size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
        const auto digit = static_cast<std::uint64_t>(text[i] - '0');
        if (amount > (u64_max - digit) / 10) return false;
        amount = amount * 10 + digit;
    }
    unit = text.substr(i);
    return i > 0;
}

// amount * factor, or nullopt when the product exceeds `limit`.
std::optional<std::uint64_t> checked_multiply(std::uint64_t amount, std::uint64_t factor,
                                              std::uint64_t limit) {
    if (factor != 0 && amount > limit / factor) return std::nullopt;
    return amount * factor;
}

struct unit_factor {
    std::string_view name;
    std::uint64_t factor;
};

// Milliseconds per unit, largest first (format_duration relies on the order).
constexpr std::array<unit_factor, 6> duration_units{{
    {"w", 7ULL * 24 * 3600 * 1000},
    {"d", 24ULL * 3600 * 1000},
    {"h", 3600ULL * 1000},
    {"m", 60ULL * 1000},
    {"s", 1000},
    {"ms", 1},
}};

constexpr std::array<unit_factor, 8> size_units{{
    {"", 1},
    {"B", 1},
    {"KB", 1000},
    {"MB", 1000ULL * 1000},
    {"GB", 1000ULL * 1000 * 1000},
    {"KiB", 1024},
    {"MiB", 1024ULL * 1024},
    {"GiB", 1024ULL * 1024 * 1024},
}};

}  // namespace

// "us" amounts round up to whole milliseconds, the resolution of `duration`, so a
// non-zero duration never becomes zero.
std::optional<duration> parse_duration(std::string_view text) {
    std::uint64_t amount = 0;
    std::string_view unit;
    if (!split_amount(text, amount, unit)) return std::nullopt;

    constexpr auto limit = static_cast<std::uint64_t>(std::numeric_limits<duration::rep>::max());
    std::optional<std::uint64_t> millis;
    if (unit == "us") {
        millis = amount / 1000 + (amount % 1000 != 0 ? 1 : 0);
    } else {
        for (const auto& u : duration_units) {
            if (unit == u.name) millis = checked_multiply(amount, u.factor, limit);
        }
    }
    if (!millis || *millis > limit) return std::nullopt;
    return duration(static_cast<duration::rep>(*millis));
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
    std::uint64_t amount = 0;
    std::string_view unit;
    if (!split_amount(text, amount, unit)) return std::nullopt;
    for (const auto& u : size_units) {
        if (unit == u.name) return checked_multiply(amount, u.factor, u64_max);
    }
    return std::nullopt;
}

std::string format_duration(duration d) {
    const auto count = d.count();
    if (count == 0) return "0s";
    // Negative durations never come out of parse_duration; they are shown for diagnostics.
    std::string sign = count < 0 ? "-" : "";
    const std::uint64_t millis =
        count < 0 ? 0 - static_cast<std::uint64_t>(count) : static_cast<std::uint64_t>(count);
    for (const auto& u : duration_units) {
        if (millis % u.factor == 0) {
            return sign + std::to_string(millis / u.factor) + std::string(u.name);
        }
    }
    return sign + std::to_string(millis) + "ms";  // unreachable: "ms" divides everything
}

}  // namespace webhookd
