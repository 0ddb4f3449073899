#include "delivery/url.hpp"

#include <boost/url/parse.hpp>

#include <algorithm>
#include <cctype>

namespace webhookd {

namespace {

bool is_host_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

}  // namespace

result<target> parse_target(std::string_view url) {
    auto bad = [&](std::string why) { return error{error_code::invalid_url, "invalid URL: " + why}; };
    auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed) return bad("not an absolute URI (" + parsed.error().message() + ")");
    const boost::urls::url_view u = *parsed;

    target t;
    if (u.scheme_id() == boost::urls::scheme::https) {
        t.tls = true;
    } else if (u.scheme_id() != boost::urls::scheme::http) {
        return bad("scheme must be http or https, not \"" + std::string(u.scheme()) + "\"");
    }
    if (!u.has_authority() || u.encoded_host().empty()) return bad("no host");
    if (u.has_userinfo()) return bad("credentials in the URL (user@host) are not allowed");
    // A percent-encoded host ("ex%61mple.com") names its host twice: decoded for the dial
    // and the address check, as written in the Host header. Decoding can also make a name
    // that parses as something else ("9.254.3%38.254x" is "9.254.38.254x", which Boost.URL
    // splits as below). No receiver needs one: refuse it.
    if (u.encoded_host().find('%') != std::string_view::npos) {
        return bad("percent-encoded host \"" + std::string(u.encoded_host()) + "\": write it plainly");
    }
    // Boost.URL 1.81 ends an IPv4-looking host or a port at the first stray character and
    // takes the rest as the path ("http://127.0.0.1.5:8080/" has host 127.0.0.1 and path
    // ".5:8080/"; boostorg/url#755, #680). After an authority the path is empty or starts
    // with '/', so anything else is that misparse: refuse it rather than dial a host the
    // URL does not name.
    if (!u.encoded_path().empty() && u.encoded_path().front() != '/') {
        return bad("malformed host or port in \"" + std::string(u.encoded_authority()) +
                   std::string(u.encoded_path()) + "\"");
    }

    switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::ipv6:
    case boost::urls::host_type::name: {
        std::string host = u.host_address();
        std::transform(host.begin(), host.end(), host.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (auto a = parse_ip_literal(host)) {
            t.literal = *a;
            t.host = a->to_string();
        } else if (looks_numeric(host)) {
            return bad("host \"" + host + "\" looks like an IP address but is not a valid one");
        } else if (!std::all_of(host.begin(), host.end(), is_host_name_char)) {
            return bad("host \"" + host + "\" is not a valid host name");
        } else {
            t.host = std::move(host);
        }
        break;
    }
    default:
        return bad("unsupported host form");
    }

    const char* default_port = t.tls ? "443" : "80";
    t.port = default_port;
    if (u.has_port() && !u.port().empty()) {
        const std::string_view p = u.port();
        unsigned long n = 0;
        for (char c : p) {
            if (c < '0' || c > '9' || p.size() > 5) return bad("port \"" + std::string(p) + "\" is not a number");
            n = n * 10 + static_cast<unsigned long>(c - '0');
        }
        if (n == 0 || n > 65535) return bad("port " + std::string(p) + " is out of range");
        t.port = std::to_string(n);
    }

    t.host_header = std::string(u.encoded_host());
    if (t.port != default_port) t.host_header += ":" + t.port;
    t.request_target = u.encoded_path().empty() ? "/" : std::string(u.encoded_path());
    if (u.has_query()) t.request_target += "?" + std::string(u.encoded_query());
    return t;
}

}  // namespace webhookd
