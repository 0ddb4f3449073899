#pragma once
// Writing JSON text directly, for the hot paths that build small documents of known shape
// (envelopes, ingest's answers) without a document tree. The output is byte for byte what
// nlohmann's dump() writes for the same string.

#include <string>
#include <string_view>

namespace webhookd {

// Appends `s` (UTF-8) as a JSON string, quotes included. Runs of characters that need no
// escape (all of an id, a type or a timestamp) are appended whole.
inline void append_json_string(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    std::size_t plain = 0;  // where the run of unescaped characters began
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(s.data() + plain, i - plain);
        plain = i + 1;
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            out += "\\u00";
            out += hex[(c >> 4) & 0xf];
            out += hex[c & 0xf];
        }
    }
    out.append(s.data() + plain, s.size() - plain);
    out += '"';
}

}  // namespace webhookd
