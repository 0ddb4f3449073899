#pragma once
// Hexadecimal digits, for the parsers that read them (JSON \u escapes, IPv6 and inet_aton
// spellings, key files).

#include <cstddef>
#include <string_view>

namespace webhookd {

// The value of a hex digit (either case), or -1 when c is none.
constexpr int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The four hex digits at s[pos, pos + 4) as a number (a JSON \u escape's); -1 when they
// are not four hex digits.
constexpr long hex4(std::string_view s, std::size_t pos) {
    if (pos + 4 > s.size()) return -1;
    long v = 0;
    for (std::size_t i = pos; i < pos + 4; ++i) {
        int d = hex_digit(s[i]);
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

}  // namespace webhookd
