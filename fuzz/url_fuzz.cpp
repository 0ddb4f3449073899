// Feeds any bytes as an endpoint URL to parse_target, as a host to parse_ip_literal and
// looks_numeric and as text to parse_cidr; the first 4 and 16 bytes as raw IPv4 and IPv6
// addresses, and the next two as prefix lengths, to blocked_range, cidr_contains and
// check_address (src/delivery/url.cpp, src/delivery/address_guard.cpp). Invariants:
// - an accepted URL has a port 1..65535 in canonical decimal, a request target that starts
//   with '/', and host, Host header and target of visible ASCII only (no CR, LF, space or
//   NUL reach the request line); an IP-literal host is the canonical text of its address, a
//   name host is neither an IP literal nor numeric-looking (so it is safe to resolve); and
//   origin() + target parses back to the same scheme, host, port, target and literal;
// - a host parse_ip_literal accepts is numeric-looking, and every address's canonical text
//   parses back to it;
// - an IPv4 address and its IPv4-mapped IPv6 form get the same blocked_range, the same
//   cidr_contains for any cidr and the same check_address verdict;
// - loopback, unspecified, multicast and link/site-local addresses are always blocked, a
//   public IPv6 address lies in 2000::/3, ::/0 allows everything;
// - a parsed cidr prints as text that parses back to it, and contains its own network.

#include <boost/asio/ip/address.hpp>

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "delivery/address_guard.hpp"
#include "delivery/url.hpp"
#include "fuzz_check.hpp"

namespace {

namespace ip = boost::asio::ip;
using webhookd::blocked_range;
using webhookd::check_address;
using webhookd::cidr;
using webhookd::cidr_contains;

bool visible_ascii(std::string_view s) {
    for (unsigned char c : s) {
        if (c <= 0x20 || c >= 0x7f) return false;
    }
    return true;
}

std::string bracketed(const ip::address& a) { return a.is_v6() ? "[" + a.to_string() + "]" : a.to_string(); }

void check_target(std::string_view url) {
    const auto t = webhookd::parse_target(url);
    if (!t) {
        FUZZ_CHECK(t.err().code == webhookd::error_code::invalid_url, "error code " + std::string(webhookd::to_string(t.err().code)));
        return;
    }
    const std::string where = "URL \"" + std::string(url) + "\": ";
    FUZZ_CHECK(!t->port.empty() && t->port.size() <= 5 && t->port[0] != '0' &&
                   std::stoul(t->port) >= 1 && std::stoul(t->port) <= 65535 &&
                   std::to_string(std::stoul(t->port)) == t->port,
               where + "port \"" + t->port + "\"");
    FUZZ_CHECK(!t->request_target.empty() && t->request_target[0] == '/', where + "target " + t->request_target);
    FUZZ_CHECK(!t->host.empty() && visible_ascii(t->host) && visible_ascii(t->host_header) &&
                   visible_ascii(t->request_target),
               where + "a control, space or non-ASCII byte in host, Host header or target");
    if (t->literal) {
        FUZZ_CHECK(t->host == t->literal->to_string(), where + "literal host is not canonical: " + t->host);
        FUZZ_CHECK(webhookd::parse_ip_literal(bracketed(*t->literal)) == t->literal, where + "literal round trip");
    } else {
        FUZZ_CHECK(!webhookd::parse_ip_literal(t->host) && !webhookd::looks_numeric(t->host),
                   where + "host \"" + t->host + "\" would be resolved but is an IP literal or looks numeric");
    }
    const std::string rebuilt = t->origin() + t->request_target;
    const auto again = webhookd::parse_target(rebuilt);
    FUZZ_CHECK(again.ok(), where + "origin + target \"" + rebuilt + "\" does not parse");
    FUZZ_CHECK(again->tls == t->tls && again->host == t->host && again->port == t->port &&
                   again->request_target == t->request_target && again->literal == t->literal,
               where + "origin + target \"" + rebuilt + "\" parses to another target");
}

void check_literal(std::string_view host) {
    const auto a = webhookd::parse_ip_literal(host);
    if (!a) return;
    FUZZ_CHECK(webhookd::looks_numeric(host), "\"" + std::string(host) + "\" is an IP literal but not numeric");
    FUZZ_CHECK(webhookd::parse_ip_literal(bracketed(*a)) == a, "canonical text of " + a->to_string());
}

void check_cidr_text(std::string_view text) {
    const auto c = webhookd::parse_cidr(text);
    if (!c) return;
    const std::string shown = webhookd::to_string(*c);
    FUZZ_CHECK(webhookd::parse_cidr(shown) == c, "cidr \"" + std::string(text) + "\" prints as " + shown);
    FUZZ_CHECK(c->prefix_length <= (c->network.is_v4() ? 32u : 128u), "prefix length of " + shown);
    FUZZ_CHECK(cidr_contains(*c, c->network), shown + " does not contain its network");
}

// Blocked ranges every address classifier must know, per Boost.Asio's own predicates.
void check_obviously_blocked(const ip::address& a) {
    bool special = a.is_loopback() || a.is_unspecified() || a.is_multicast();
    if (a.is_v6()) special = special || a.to_v6().is_link_local() || a.to_v6().is_site_local();
    FUZZ_CHECK(!special || blocked_range(a), a.to_string() + " is special but not blocked");
    FUZZ_CHECK(check_address(a, {}).allowed == !blocked_range(a), a.to_string() + ": verdict without cidrs");
}

void check_addresses(const std::uint8_t* data, std::size_t size) {
    std::array<unsigned char, 18> raw{};
    std::memcpy(raw.data(), data, std::min(size, raw.size()));

    const ip::address_v4 v4(ip::address_v4::bytes_type{raw[0], raw[1], raw[2], raw[3]});
    const ip::address as_v4(v4);
    const ip::address mapped(ip::make_address_v6(ip::v4_mapped, v4));
    ip::address_v6::bytes_type v6_bytes{};
    std::memcpy(v6_bytes.data(), raw.data(), v6_bytes.size());
    const ip::address v6(ip::address_v6{v6_bytes});

    // A cidr of each family, from the bytes and the two prefix lengths that follow them.
    const auto c4 = webhookd::parse_cidr(v4.to_string() + "/" + std::to_string(raw[16] % 33));
    const auto c6 = webhookd::parse_cidr(v6.to_string() + "/" + std::to_string(raw[17] % 129));
    FUZZ_CHECK(c4 && c6, "parse_cidr refused a cidr built from an address's canonical text");

    FUZZ_CHECK(blocked_range(as_v4) == blocked_range(mapped), v4.to_string() + " and its mapped form differ");
    for (const cidr& c : {*c4, *c6}) {
        FUZZ_CHECK(cidr_contains(c, as_v4) == cidr_contains(c, mapped),
                   webhookd::to_string(c) + " contains one of " + v4.to_string() + " and its mapped form");
        const cidr allowed[] = {c};
        FUZZ_CHECK(check_address(as_v4, allowed).allowed == check_address(mapped, allowed).allowed,
                   v4.to_string() + " and its mapped form get different verdicts under " + webhookd::to_string(c));
    }

    const cidr everything{ip::address(ip::address_v6()), 0};
    for (const ip::address& a : {as_v4, mapped, v6}) {
        check_obviously_blocked(a);
        FUZZ_CHECK(webhookd::parse_ip_literal(bracketed(a)) == a, "canonical text of " + a.to_string());
        const cidr all[] = {everything};
        FUZZ_CHECK(check_address(a, all).allowed, "::/0 does not allow " + a.to_string());
    }
    if (!v6.to_v6().is_v4_mapped() && !blocked_range(v6)) {
        FUZZ_CHECK((v6_bytes[0] & 0xE0) == 0x20, v6.to_string() + " is public but outside 2000::/3");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    check_target(text);
    check_literal(text);
    check_cidr_text(text);
    check_addresses(data, size);
    return 0;
}
