#pragma once
// Network addresses as the configuration holds them: IP networks (delivery.allowed_cidrs)
// and listen addresses (ingest.listen, admin.listen). Parsed once, when the config is read;
// everything after gets the typed value.

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace webhookd {

// An IPv4 or IPv6 network: an address with every bit past prefix_length zero.
struct cidr {
    boost::asio::ip::address network;
    unsigned prefix_length = 0;  // 0..32 for IPv4, 0..128 for IPv6

    friend bool operator==(const cidr&, const cidr&) = default;
};

// Parses "10.0.0.0/8", "fd00::/8" or a bare address (a /32 or /128). The address is a strict
// dotted quad or an RFC 4291 IPv6 address without a zone ("%eth0"); the prefix is 1 to 3
// decimal digits no larger than the family's width. Host bits may be set and are cleared:
// "10.1.2.3/8" is 10.0.0.0/8. Returns nullopt on anything else, including "10.0.0.0/33",
// "::/129" and "127.1/8".
std::optional<cidr> parse_cidr(std::string_view text);

// "10.0.0.0/8", "fd00::/8".
std::string to_string(const cidr& c);

// A listen address: a host (an IP address or a DNS name) and a port.
struct host_port {
    std::string host;  // without brackets
    std::uint16_t port = 0;
};

// "host:port" or "[ipv6]:port", port 0-65535 (0: any free port). The host is an IPv4
// address or a name of letters, digits, dots and dashes, or a bracketed IPv6 address
// without a zone. nullopt otherwise ("::1:8080", ":8080", "host name:80").
std::optional<host_port> parse_host_port(std::string_view text);

}  // namespace webhookd
