#include "webhookd/net.hpp"

#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>

#include <algorithm>
#include <cctype>

namespace webhookd {

namespace ip = boost::asio::ip;

namespace {

bool all_digits(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Hex digits, ':' and '.': the characters of a dotted quad or an IPv6 address, no zone.
bool address_chars(std::string_view text) {
    return std::all_of(text.begin(), text.end(),
                       [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.'; });
}

}  // namespace

std::optional<cidr> parse_cidr(std::string_view text) {
    const std::size_t slash = text.find('/');
    const std::string_view address_text = text.substr(0, slash);
    // Strict forms only: a config file is no place for "127.1" or a zone.
    if (address_text.empty() || !address_chars(address_text)) return std::nullopt;
    boost::system::error_code ec;
    const ip::address address = ip::make_address(std::string(address_text), ec);
    if (ec) return std::nullopt;

    const unsigned width = address.is_v4() ? 32 : 128;
    unsigned prefix_length = width;
    if (slash != std::string_view::npos) {
        const std::string_view digits = text.substr(slash + 1);
        if (digits.empty() || digits.size() > 3 || !all_digits(digits)) return std::nullopt;
        prefix_length = static_cast<unsigned>(std::stoul(std::string(digits)));
        if (prefix_length > width) return std::nullopt;
    }
    const auto length = static_cast<unsigned short>(prefix_length);
    if (address.is_v4()) return cidr{ip::network_v4(address.to_v4(), length).network(), prefix_length};
    return cidr{ip::network_v6(address.to_v6(), length).network(), prefix_length};
}

std::string to_string(const cidr& c) {
    return c.network.to_string() + "/" + std::to_string(c.prefix_length);
}

std::optional<host_port> parse_host_port(std::string_view text) {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view host = text.substr(0, colon);
    const std::string_view port_text = text.substr(colon + 1);
    if (port_text.empty() || port_text.size() > 5 || !all_digits(port_text)) return std::nullopt;
    const unsigned long port = std::stoul(std::string(port_text));
    if (port > 65535) return std::nullopt;

    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
        boost::system::error_code ec;
        ip::make_address_v6(std::string(host), ec);
        if (ec || host.find('%') != std::string_view::npos) return std::nullopt;
    } else {
        const bool name_chars = std::all_of(host.begin(), host.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
        });
        if (host.empty() || !name_chars) return std::nullopt;
    }
    return host_port{std::string(host), static_cast<std::uint16_t>(port)};
}

}  // namespace webhookd
