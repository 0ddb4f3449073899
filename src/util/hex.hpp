#pragma once
// Hexadecimal digits, for the parsers that read them (JSON \u escapes, IPv6 and inet_aton
// spellings, key files).

namespace webhookd {

// The value of a hex digit (either case), or -1 when c is none.
constexpr int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace webhookd
