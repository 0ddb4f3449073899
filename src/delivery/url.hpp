#pragma once
// Endpoint URLs: what the delivery client dials, taken apart. Shared by the client (every
// attempt) and the admin API (registration), so both accept exactly the same URLs.

#include <boost/asio/ip/address.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "delivery/address_guard.hpp"
#include "webhookd/result.hpp"

namespace webhookd {

// Where an attempt goes, taken apart from its URL.
struct target {
    bool tls = false;
    std::string host;         // lowercase DNS name, or the canonical text of `literal`
    std::string port;         // decimal, 1..65535
    std::string request_target;  // path (or "/") + query
    std::string host_header;  // Host: the host as written, plus the port when not the default
    std::optional<boost::asio::ip::address> literal;  // set for an IP-literal host: no DNS

    // "https://example.com:443": the pool key and what log lines name. Holds no path or
    // query, which may carry tokens.
    std::string origin() const {
        const bool v6 = literal && literal->is_v6();
        return std::string(tls ? "https://" : "http://") + (v6 ? "[" + host + "]" : host) + ":" + port;
    }
};

// Accepts only absolute http/https URLs with a host and without userinfo. Returns an
// error{error_code::invalid_url, why} otherwise. Does not judge the address (see address_guard).
result<target> parse_target(std::string_view url);

}  // namespace webhookd
