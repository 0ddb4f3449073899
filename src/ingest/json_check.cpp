#include "ingest/json_check.hpp"

#include <array>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <string>

#include "util/hex.hpp"
#include "util/json_parse.hpp"

namespace webhookd {

namespace {

constexpr std::uint64_t ones = 0x0101010101010101ull;
constexpr std::uint64_t highs = 0x8080808080808080ull;

// The index of the first of the 8 bytes in x (in memory order) that ends a run of plain
// string characters: a quote, a backslash, a control character or a byte of a multi-byte
// UTF-8 sequence; 8 when there is none. Each test below can flag a byte above a flagged
// one by its borrow, never one below: the lowest flag is exact.
int first_special_byte(std::uint64_t x) {
    auto zero_bytes = [](std::uint64_t v) { return (v - ones) & ~v & highs; };
    std::uint64_t below_space = (x - ones * 0x20) & ~x & highs;
    std::uint64_t flags = zero_bytes(x ^ (ones * '"')) | zero_bytes(x ^ (ones * '\\')) | below_space | (x & highs);
    if (flags == 0) return 8;
    return (std::endian::native == std::endian::little ? std::countr_zero(flags) : std::countl_zero(flags)) / 8;
}

class checker {
public:
    explicit checker(std::string_view s) : s_(s) {}

    // ok when the text is one JSON value with nothing but whitespace around it.
    status run() {
        skip_space();
        for (;;) {
            if (!value()) return failure_;
            for (;;) {  // after a value: close containers, or go on to the next value
                skip_space();
                if (depth_ == 0) {
                    if (pos_ != s_.size()) fail("unexpected text after the value");
                    return failure_;
                }
                bool object = open_[depth_ - 1];
                char c = peek();
                if (c == ',') {
                    ++pos_;
                    skip_space();
                    if (object && !key()) return failure_;
                    break;  // the next value
                }
                if (c == (object ? '}' : ']')) {
                    ++pos_;
                    --depth_;
                    continue;
                }
                fail(object ? "expected ',' or '}'" : "expected ',' or ']'");
                return failure_;
            }
        }
    }

private:
    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
    unsigned char byte(std::size_t at) const { return at < s_.size() ? static_cast<unsigned char>(s_[at]) : 0; }

    void skip_space() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) ++pos_;
    }

    bool fail(const char* what) {
        failure_ = error{error_code::invalid_json,
                         std::string("request body is not valid JSON: ") + what + " at byte " + std::to_string(pos_)};
        return false;
    }

    // A value, or the opening of a container and its first value (so it recurses once per
    // level opened in a row, max_json_depth at most), or an empty container whole.
    bool value() {
        char c = peek();
        switch (c) {
        case '{':
        case '[': {
            if (depth_ == max_json_depth) {
                failure_ = error{error_code::invalid_json,
                                 "JSON nesting is deeper than " + std::to_string(max_json_depth) + " levels"};
                return false;
            }
            bool object = c == '{';
            ++pos_;
            skip_space();
            if (peek() == (object ? '}' : ']')) {
                ++pos_;
                return true;  // empty: a value like any scalar
            }
            open_[depth_++] = object;
            if (object) return key() && value();
            return value();
        }
        case '"': return string();
        case 't': return literal("true");
        case 'f': return literal("false");
        case 'n': return literal("null");
        default:
            if (c == '-' || (c >= '0' && c <= '9')) return number();
            return fail("expected a value");
        }
    }

    // A member's key and its colon, positioned at the value.
    bool key() {
        if (peek() != '"') return fail("expected a string key");
        if (!string()) return false;
        skip_space();
        if (peek() != ':') return fail("expected ':'");
        ++pos_;
        skip_space();
        return true;
    }

    bool literal(std::string_view word) {
        if (s_.substr(pos_, word.size()) != word) return fail("invalid literal");
        pos_ += word.size();
        return true;
    }

    bool digits() {
        std::size_t start = pos_;
        while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
        return pos_ > start;
    }

    // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, whose value is a finite double.
    bool number() {
        std::size_t start = pos_;
        if (peek() == '-') ++pos_;
        if (peek() == '0') {
            ++pos_;
        } else if (!digits()) {
            return fail("invalid number");
        }
        if (peek() == '.') {
            ++pos_;
            if (!digits()) return fail("invalid number");
        }
        if (peek() == 'e' || peek() == 'E') {
            ++pos_;
            if (peek() == '+' || peek() == '-') ++pos_;
            if (!digits()) return fail("invalid number");
        }
        // Beyond a double's range, as parsers store numbers: only an exponent or more than
        // 300 digits get there, so only those are converted.
        std::string_view text = s_.substr(start, pos_ - start);
        if (text.find_first_of("eE") != std::string_view::npos || text.size() > 300) {
            if (std::isinf(std::strtod(std::string(text).c_str(), nullptr))) return fail("number out of range");
        }
        return true;
    }

    // pos_ at the opening quote; leaves it after the closing one.
    bool string() {
        ++pos_;
        for (;;) {
            while (pos_ + 8 <= s_.size()) {
                std::uint64_t x;
                std::memcpy(&x, s_.data() + pos_, 8);
                int plain = first_special_byte(x);
                pos_ += static_cast<std::size_t>(plain);
                if (plain < 8) break;
            }
            if (pos_ >= s_.size()) return fail("unterminated string");
            unsigned char c = byte(pos_);
            if (c == '"') {
                ++pos_;
                return true;
            }
            if (c == '\\') {
                if (!escape()) return false;
            } else if (c < 0x20) {
                return fail("control character in a string (escape it)");
            } else if (c < 0x80) {
                ++pos_;
            } else if (!utf8()) {
                return false;
            }
        }
    }

    // pos_ at a backslash.
    bool escape() {
        switch (byte(pos_ + 1)) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            pos_ += 2;
            return true;
        case 'u': {
            long cp = hex4(s_, pos_ + 2);
            if (cp < 0) return fail("\\u must be followed by four hex digits");
            if (cp >= 0xDC00 && cp <= 0xDFFF) return fail("lone low surrogate in \\u escape");
            pos_ += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                long low = byte(pos_) == '\\' && byte(pos_ + 1) == 'u' ? hex4(s_, pos_ + 2) : -1;
                if (low < 0xDC00 || low > 0xDFFF) return fail("high surrogate not followed by a low one");
                pos_ += 6;
            }
            return true;
        }
        default:
            return fail("invalid escape");
        }
    }

    // pos_ at the lead byte of a multi-byte sequence (RFC 3629: no overlong form, no
    // surrogate, nothing above U+10FFFF).
    bool utf8() {
        unsigned char lead = byte(pos_);
        unsigned char lo = 0x80, hi = 0xBF;  // the second byte's range
        std::size_t n;
        if (lead >= 0xC2 && lead <= 0xDF) {
            n = 2;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            n = 3;
            if (lead == 0xE0) lo = 0xA0;
            if (lead == 0xED) hi = 0x9F;
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            n = 4;
            if (lead == 0xF0) lo = 0x90;
            if (lead == 0xF4) hi = 0x8F;
        } else {
            return fail("invalid UTF-8");
        }
        unsigned char second = byte(pos_ + 1);
        if (second < lo || second > hi) return fail("invalid UTF-8");
        for (std::size_t i = 2; i < n; ++i) {
            unsigned char b = byte(pos_ + i);
            if (b < 0x80 || b > 0xBF) return fail("invalid UTF-8");
        }
        pos_ += n;
        return true;
    }

    std::string_view s_;
    std::size_t pos_ = 0;
    std::size_t depth_ = 0;                      // containers open around pos_
    std::array<bool, max_json_depth> open_{};    // of each: an object (else an array)
    status failure_ = ok_v;
};

}  // namespace

status check_json_body(std::string_view body) {
    if (auto bound = detail::body_bound_error(body)) return *bound;
    return checker(body).run();
}

}  // namespace webhookd
