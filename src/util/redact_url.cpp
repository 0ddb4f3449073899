#include "util/redact_url.hpp"

namespace webhookd {

std::string redact_url(std::string_view url) {
    std::string out(url);
    if (auto scheme = out.find("://"); scheme != std::string::npos) {
        auto authority = scheme + 3;
        auto end = out.find_first_of("/?", authority);
        auto at = out.rfind('@', end == std::string::npos ? std::string::npos : end);
        if (at != std::string::npos && at >= authority) {
            auto colon = out.find(':', authority);
            if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
        }
    }
    // The key=value form's password=, and the URI's ?password= parameter.
    constexpr std::string_view key = "password=";
    for (auto pos = out.find(key); pos != std::string::npos; pos = out.find(key, pos + 1)) {
        if (pos > 0 && out[pos - 1] != ' ' && out[pos - 1] != '?' && out[pos - 1] != '&') continue;
        auto start = pos + key.size();
        auto stop = start;
        if (stop < out.size() && out[stop] == '\'') {
            stop = out.find('\'', stop + 1);
            stop = stop == std::string::npos ? out.size() : stop + 1;
        } else {
            stop = out.find_first_of(" &", start);
            if (stop == std::string::npos) stop = out.size();
        }
        out.replace(start, stop - start, "***");
    }
    return out;
}

}  // namespace webhookd
