#include "util/base64.hpp"

#include <array>
#include <cstdint>

namespace webhookd {

namespace {

constexpr std::string_view b64_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Value 0..63 of a base64 character, or -1 for anything outside the standard alphabet
// (including '=', which the decoder handles separately).
constexpr std::array<signed char, 256> b64_values = [] {
    std::array<signed char, 256> t{};
    for (auto& v : t) v = -1;
    for (std::size_t i = 0; i < b64_alphabet.size(); ++i) {
        t[static_cast<unsigned char>(b64_alphabet[i])] = static_cast<signed char>(i);
    }
    return t;
}();

}  // namespace

std::string base64_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                          static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                          static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 2]));
        out.push_back(b64_alphabet[(n >> 18) & 63]);
        out.push_back(b64_alphabet[(n >> 12) & 63]);
        out.push_back(b64_alphabet[(n >> 6) & 63]);
        out.push_back(b64_alphabet[n & 63]);
    }
    const std::size_t rest = bytes.size() - i;
    if (rest == 1) {
        std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
        out.push_back(b64_alphabet[(n >> 18) & 63]);
        out.push_back(b64_alphabet[(n >> 12) & 63]);
        out.append("==");
    } else if (rest == 2) {
        std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                          static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
        out.push_back(b64_alphabet[(n >> 18) & 63]);
        out.push_back(b64_alphabet[(n >> 12) & 63]);
        out.push_back(b64_alphabet[(n >> 6) & 63]);
        out.push_back('=');
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::size_t padding = 0;
    if (text.ends_with("==")) {
        padding = 2;
    } else if (text.ends_with("=")) {
        padding = 1;
    }
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        const std::size_t data_chars = last ? 4 - padding : 4;
        std::uint32_t n = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            n <<= 6;
            if (j >= data_chars) continue;  // a trailing '=' contributes zero bits
            const int v = b64_values[static_cast<unsigned char>(text[i + j])];
            if (v < 0) return std::nullopt;  // also catches '=' anywhere but the end
            n |= static_cast<std::uint32_t>(v);
        }
        out.push_back(static_cast<char>((n >> 16) & 0xff));
        if (data_chars >= 3) out.push_back(static_cast<char>((n >> 8) & 0xff));
        if (data_chars == 4) out.push_back(static_cast<char>(n & 0xff));
        // Non-canonical: the bits below the last decoded byte must be zero.
        if (data_chars == 2 && (n & 0xffff) != 0) return std::nullopt;
        if (data_chars == 3 && (n & 0xff) != 0) return std::nullopt;
    }
    return out;
}

}  // namespace webhookd
