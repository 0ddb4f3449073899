#pragma once
// Writing JSON text directly, for the hot paths that build small documents of known shape
// (envelopes, ingest's answers) without a document tree. The output is byte for byte what
// nlohmann's dump() writes for the same string.

#include <string>
#include <string_view>

namespace webhookd {

// Appends `s` (UTF-8) as a JSON string, quotes included.
inline void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    for (char c : s) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                out += "\\u00";
                out += hex[(c >> 4) & 0xf];
                out += hex[c & 0xf];
            } else {
                out += c;
            }
        }
    }
    out += '"';
}

}  // namespace webhookd
