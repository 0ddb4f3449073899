#pragma once
// SSRF guard: which IP addresses a webhook may be delivered to. Pure functions, no I/O.
//
// Registration and every connect run the same check on the address actually dialled, never
// on the host name: the delivery client resolves a host once, calls check_address on each
// resolved address and dials only those that pass. That defeats DNS rebinding and the many
// spellings of 127.0.0.1. The client handles a URL host like this:
//
//     if (auto a = parse_ip_literal(host))   -> check_address(*a, ...) and dial *a, no DNS
//     else if (looks_numeric(host))          -> refuse the URL as malformed, no DNS
//     else                                   -> resolve, check_address on each result
//
// An address is refused when it lies in a special-purpose range (blocked_range) unless a
// range listed in delivery.allowed_cidrs contains it. An IPv4-mapped IPv6 address
// (::ffff:a.b.c.d) is judged as its embedded IPv4 address by blocked_range and by
// cidr_contains alike, so both spellings of one host always get one verdict.

#include <boost/asio/ip/address.hpp>

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "webhookd/net.hpp"

namespace webhookd {

// cidr, parse_cidr and to_string(cidr) are in webhookd/net.hpp (the config holds them).

// True when a lies inside c. The IPv6 zone of a is ignored. IPv4 and IPv4-mapped IPv6 are one
// space: an IPv4 cidr contains ::ffff:a.b.c.d when it contains a.b.c.d, and an IPv6 cidr
// contains a.b.c.d when it contains ::ffff:a.b.c.d (so "::/0" contains every address).
bool cidr_contains(const cidr& c, const boost::asio::ip::address& a);

// The name of the special-purpose range a lies in, or nullopt for a public unicast address.
// Names: IPv4 "unspecified" (0.0.0.0), "this-network" (0/8), "private" (10/8, 172.16/12,
// 192.168/16), "cgnat" (100.64/10), "loopback" (127/8), "link-local" (169.254/16),
// "ietf-protocol" (192.0.0/24), "documentation" (192.0.2/24, 198.51.100/24, 203.0.113/24),
// "6to4" (192.88.99/24 relay anycast), "benchmarking" (198.18/15), "multicast" (224/4),
// "reserved" (240/4), "broadcast" (255.255.255.255).
// IPv6 "unspecified" (::), "loopback" (::1), "ipv4-compatible" (::/96), "ipv4-translated"
// (::ffff:0:0:0/96), "nat64" (64:ff9b::/96, 64:ff9b:1::/48: a NAT64 gateway can reach
// internal IPv4 through them), "discard" (100::/64), "teredo" (2001::/32), "benchmarking"
// (2001:2::/48), "orchid" (2001:10::/28, 2001:20::/28), "ietf-protocol" (rest of 2001::/23),
// "documentation" (2001:db8::/32, 3fff::/20), "6to4" (2002::/16), "ula" (fc00::/7),
// "link-local" (fe80::/10), "site-local" (fec0::/10), "multicast" (ff00::/8), and "reserved"
// for anything else outside 2000::/3, the only block IANA allocates for global unicast.
// An IPv4-mapped address gets the name of its embedded IPv4 address: ::ffff:127.0.0.1 is
// "loopback" and ::ffff:8.8.8.8 is public.
std::optional<std::string_view> blocked_range(const boost::asio::ip::address& a);

struct address_verdict {
    bool allowed = false;
    // Empty for a public address. For a refused address, a sentence for the operator:
    // "127.0.0.1 is in a blocked range (loopback); allow it with delivery.allowed_cidrs".
    // For a blocked address let through, names the range and the cidr that allowed it.
    std::string reason;
};

// Allowed when a is public (blocked_range is nullopt) or when some entry of allowed_cidrs
// contains it (an operator may allow 127.0.0.0/8 for tests, or 64:ff9b::/96 on a NAT64
// network); refused otherwise.
address_verdict check_address(const boost::asio::ip::address& a, std::span<const cidr> allowed_cidrs);

// The address a URL host (without port) spells, or nullopt when it is not an IP literal.
// Accepts "[v6]" (and bare v6), and IPv4 in every form inet_aton and the WHATWG URL parser
// accept, because those are the spellings used to slip past SSRF filters: 1 to 4 dot-separated
// parts, each decimal, octal (leading 0) or hex (0x/0X, "0x" alone is 0), the last part
// filling the remaining bytes ("127.1", "127.0.1", "2130706433", "0x7f000001", "0177.0.0.1",
// "0x7f.1"), plus one optional trailing dot. Every part but the last must be at most 255 and
// the last must fit its bytes. IPv6 zones ("[fe80::1%25eth0]") are not accepted.
// nullopt means either a host name to resolve or a malformed literal ("256.1.1.1",
// "1.2.3.4.5", "[::1"): tell them apart with looks_numeric.
std::optional<boost::asio::ip::address> parse_ip_literal(std::string_view host);

// True when host is meant as an IP address rather than a DNS name: it is bracketed, contains
// ':', consists only of digits and dots, or its last label (ignoring one trailing dot) is a
// number in the WHATWG sense (all decimal digits, or 0x followed by hex digits). A host for
// which this is true but parse_ip_literal is nullopt must be refused, not resolved: a
// resolver or proxy might read it differently from us. False for "example.com", "localhost"
// and "1.2.3.a".
bool looks_numeric(std::string_view host);

}  // namespace webhookd
