#include "delivery/address_guard.hpp"

#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>

#include <algorithm>
#include <array>
#include <cstdint>

#include "util/hex.hpp"

namespace webhookd {

namespace ip = boost::asio::ip;

namespace {

using v6_bytes = ip::address_v6::bytes_type;

struct v4_range {
    std::uint32_t network;
    unsigned prefix_length;
    std::string_view name;
};

// First match wins, so narrower ranges come before the ranges that hold them.
constexpr std::array<v4_range, 17> v4_ranges{{
    {0xFFFFFFFF, 32, "broadcast"},      // 255.255.255.255/32
    {0x00000000, 32, "unspecified"},    // 0.0.0.0/32 (Linux dials it as loopback)
    {0x00000000, 8, "this-network"},    // 0.0.0.0/8
    {0x0A000000, 8, "private"},         // 10.0.0.0/8
    {0x64400000, 10, "cgnat"},          // 100.64.0.0/10
    {0x7F000000, 8, "loopback"},        // 127.0.0.0/8
    {0xA9FE0000, 16, "link-local"},     // 169.254.0.0/16 (cloud metadata lives here)
    {0xAC100000, 12, "private"},        // 172.16.0.0/12
    {0xC0000000, 24, "ietf-protocol"},  // 192.0.0.0/24
    {0xC0000200, 24, "documentation"},  // 192.0.2.0/24
    {0xC0586300, 24, "6to4"},           // 192.88.99.0/24 (deprecated 6to4 relay anycast)
    {0xC0A80000, 16, "private"},        // 192.168.0.0/16
    {0xC6120000, 15, "benchmarking"},   // 198.18.0.0/15
    {0xC6336400, 24, "documentation"},  // 198.51.100.0/24
    {0xCB007100, 24, "documentation"},  // 203.0.113.0/24
    {0xE0000000, 4, "multicast"},       // 224.0.0.0/4
    {0xF0000000, 4, "reserved"},        // 240.0.0.0/4
}};

struct v6_range {
    v6_bytes network;  // leading bytes; the rest are zero
    unsigned prefix_length;
    std::string_view name;
};

// First match wins. ::ffff:0:0/96 never gets here: it is judged by its IPv4 address.
constexpr std::array<v6_range, 20> v6_ranges{{
    {{}, 128, "unspecified"},                                             // ::/128
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback"},  // ::1/128
    {{}, 96, "ipv4-compatible"},                                          // ::/96
    {{0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF}, 96, "ipv4-translated"},        // ::ffff:0:0:0/96
    {{0x00, 0x64, 0xFF, 0x9B}, 96, "nat64"},                              // 64:ff9b::/96
    {{0x00, 0x64, 0xFF, 0x9B, 0x00, 0x01}, 48, "nat64"},                  // 64:ff9b:1::/48
    {{0x01, 0x00}, 64, "discard"},                                        // 100::/64
    {{0x20, 0x01, 0x00, 0x00}, 32, "teredo"},                             // 2001::/32
    {{0x20, 0x01, 0x00, 0x02, 0x00, 0x00}, 48, "benchmarking"},           // 2001:2::/48
    {{0x20, 0x01, 0x00, 0x10}, 28, "orchid"},                             // 2001:10::/28
    {{0x20, 0x01, 0x00, 0x20}, 28, "orchid"},                             // 2001:20::/28
    {{0x20, 0x01, 0x00, 0x00}, 23, "ietf-protocol"},                      // 2001::/23
    {{0x20, 0x01, 0x0D, 0xB8}, 32, "documentation"},                      // 2001:db8::/32
    {{0x20, 0x02}, 16, "6to4"},                                           // 2002::/16
    {{0x3F, 0xFF, 0x00}, 20, "documentation"},                            // 3fff::/20
    {{0xFC}, 7, "ula"},                                                   // fc00::/7
    {{0xFE, 0x80}, 10, "link-local"},                                     // fe80::/10
    {{0xFE, 0xC0}, 10, "site-local"},                                     // fec0::/10
    {{0xFF}, 8, "multicast"},                                             // ff00::/8
    {{0x20}, 3, {}},  // 2000::/3, global unicast: public (an empty name ends the search)
}};

constexpr std::uint32_t v4_mask(unsigned prefix_length) {
    return prefix_length == 0 ? 0 : 0xFFFFFFFFu << (32 - prefix_length);
}

bool v4_in(std::uint32_t address, std::uint32_t network, unsigned prefix_length) {
    return (address & v4_mask(prefix_length)) == (network & v4_mask(prefix_length));
}

// True when the first prefix_length bits of a and b agree.
bool v6_in(const v6_bytes& a, const v6_bytes& b, unsigned prefix_length) {
    const unsigned whole = prefix_length / 8;
    if (!std::equal(a.begin(), a.begin() + whole, b.begin())) return false;
    const unsigned rest = prefix_length % 8;
    if (rest == 0) return true;
    const unsigned mask = (0xFFu << (8 - rest)) & 0xFFu;
    return (a[whole] & mask) == (b[whole] & mask);
}

bool is_v4_mapped(const v6_bytes& b) {
    return std::all_of(b.begin(), b.begin() + 10, [](unsigned char x) { return x == 0; }) && b[10] == 0xFF &&
           b[11] == 0xFF;
}

// a as an IPv4 address when it is one or is IPv4-mapped IPv6.
std::optional<std::uint32_t> as_v4(const ip::address& a) {
    if (a.is_v4()) return a.to_v4().to_uint();
    const v6_bytes b = a.to_v6().to_bytes();
    if (!is_v4_mapped(b)) return std::nullopt;
    return (std::uint32_t{b[12]} << 24) | (std::uint32_t{b[13]} << 16) | (std::uint32_t{b[14]} << 8) | b[15];
}

v6_bytes mapped_bytes(std::uint32_t v4) {
    v6_bytes b{};
    b[10] = b[11] = 0xFF;
    b[12] = static_cast<unsigned char>(v4 >> 24);
    b[13] = static_cast<unsigned char>(v4 >> 16);
    b[14] = static_cast<unsigned char>(v4 >> 8);
    b[15] = static_cast<unsigned char>(v4);
    return b;
}

std::optional<std::string_view> blocked_v4(std::uint32_t a) {
    for (const auto& r : v4_ranges) {
        if (v4_in(a, r.network, r.prefix_length)) return r.name;
    }
    return std::nullopt;
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}
bool is_hex_digit(char c) { return hex_digit(c) >= 0; }

bool all_of_chars(std::string_view s, bool (*pred)(char)) {
    return std::all_of(s.begin(), s.end(), pred);
}

bool is_hex_prefix(std::string_view s) {
    return s.size() >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
}

// One part of an inet_aton address: decimal, octal (leading 0) or hex (0x, possibly with no
// digits, which is 0). Values past 32 bits saturate at 2^32 so callers reject them.
std::optional<std::uint64_t> parse_v4_part(std::string_view part) {
    if (part.empty()) return std::nullopt;
    unsigned base = 10;
    if (is_hex_prefix(part)) {
        base = 16;
        part.remove_prefix(2);
    } else if (part.size() > 1 && part[0] == '0') {
        base = 8;
        part.remove_prefix(1);
    }
    constexpr std::uint64_t too_big = std::uint64_t{1} << 32;
    std::uint64_t value = 0;
    for (char c : part) {
        if (!is_hex_digit(c)) return std::nullopt;
        const auto digit = static_cast<unsigned>(hex_digit(c));
        if (digit >= base) return std::nullopt;
        value = std::min(value * base + digit, too_big);
    }
    return value;
}

// inet_aton / WHATWG IPv4 parsing: 1 to 4 parts, the last one filling the remaining bytes.
std::optional<ip::address_v4> parse_v4_numbers(std::string_view text) {
    if (!text.empty() && text.back() == '.') text.remove_suffix(1);
    if (text.empty()) return std::nullopt;

    std::array<std::uint64_t, 4> parts{};
    std::size_t count = 0;
    for (;;) {
        if (count == parts.size()) return std::nullopt;
        const std::size_t dot = text.find('.');
        const auto part = parse_v4_part(text.substr(0, dot));
        if (!part) return std::nullopt;
        parts[count++] = *part;
        if (dot == std::string_view::npos) break;
        text.remove_prefix(dot + 1);
    }

    std::uint32_t value = 0;
    for (std::size_t i = 0; i + 1 < count; ++i) {
        if (parts[i] > 0xFF) return std::nullopt;
        value |= static_cast<std::uint32_t>(parts[i]) << (24 - 8 * i);
    }
    const unsigned last_bits = static_cast<unsigned>(8 * (5 - count));  // 32, 24, 16 or 8
    const std::uint64_t last = parts[count - 1];
    if (last >= (std::uint64_t{1} << last_bits)) return std::nullopt;
    return ip::address_v4(value | static_cast<std::uint32_t>(last));
}

bool is_v6_char(char c) {
    return is_hex_digit(c) || c == ':' || c == '.';
}

// An RFC 4291 address without a zone; nullopt otherwise.
std::optional<ip::address_v6> parse_v6(std::string_view text) {
    if (text.empty() || !all_of_chars(text, is_v6_char)) return std::nullopt;
    boost::system::error_code ec;
    const ip::address_v6 a = ip::make_address_v6(std::string(text), ec);
    if (ec) return std::nullopt;
    return a;
}

}  // namespace

bool cidr_contains(const cidr& c, const ip::address& a) {
    const std::optional<std::uint32_t> v4 = as_v4(a);
    if (c.network.is_v4()) return v4 && v4_in(*v4, c.network.to_v4().to_uint(), c.prefix_length);
    const v6_bytes bytes = v4 ? mapped_bytes(*v4) : a.to_v6().to_bytes();
    return v6_in(bytes, c.network.to_v6().to_bytes(), c.prefix_length);
}

std::optional<std::string_view> blocked_range(const ip::address& a) {
    if (const auto v4 = as_v4(a)) return blocked_v4(*v4);
    const v6_bytes bytes = a.to_v6().to_bytes();
    for (const auto& r : v6_ranges) {
        if (!v6_in(bytes, r.network, r.prefix_length)) continue;
        if (r.name.empty()) return std::nullopt;
        return r.name;
    }
    return "reserved";
}

address_verdict check_address(const ip::address& a, std::span<const cidr> allowed_cidrs) {
    const std::optional<std::string_view> range = blocked_range(a);
    if (!range) return {true, {}};
    const std::string where = a.to_string() + " is in a blocked range (" + std::string(*range) + ")";
    for (const auto& c : allowed_cidrs) {
        if (cidr_contains(c, a)) return {true, where + ", allowed by delivery.allowed_cidrs entry " + to_string(c)};
    }
    return {false, where + "; allow it with delivery.allowed_cidrs"};
}

std::optional<ip::address> parse_ip_literal(std::string_view host) {
    if (host.empty()) return std::nullopt;
    if (host.front() == '[') {
        if (host.size() < 2 || host.back() != ']') return std::nullopt;
        if (auto v6 = parse_v6(host.substr(1, host.size() - 2))) return ip::address(*v6);
        return std::nullopt;
    }
    if (host.find(':') != std::string_view::npos) {
        if (auto v6 = parse_v6(host)) return ip::address(*v6);
        return std::nullopt;
    }
    if (auto v4 = parse_v4_numbers(host)) return ip::address(*v4);
    return std::nullopt;
}

bool looks_numeric(std::string_view host) {
    if (host.empty()) return false;
    if (host.front() == '[' || host.find(':') != std::string_view::npos) return true;
    if (all_of_chars(host, [](char c) { return is_digit(c) || c == '.'; })) return true;

    if (host.back() == '.') host.remove_suffix(1);
    const std::size_t dot = host.rfind('.');
    const std::string_view last = dot == std::string_view::npos ? host : host.substr(dot + 1);
    if (last.empty()) return false;
    if (all_of_chars(last, is_digit)) return true;
    return is_hex_prefix(last) && all_of_chars(last.substr(2), is_hex_digit);
}

}  // namespace webhookd
