#include "ingest/json_scan.hpp"

#include <algorithm>
#include <cstring>

#include "util/hex.hpp"

namespace webhookd {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_space(std::string_view s, std::size_t pos) {
    while (pos < s.size() && is_space(s[pos])) ++pos;
    return pos;
}

// pos at an opening quote; returns the position after the closing quote. memchr finds
// each quote; one after an odd run of backslashes is escaped.
std::size_t skip_string(std::string_view s, std::size_t pos) {
    for (++pos; pos < s.size();) {
        const void* found = std::memchr(s.data() + pos, '"', s.size() - pos);
        if (!found) break;
        auto quote = static_cast<std::size_t>(static_cast<const char*>(found) - s.data());
        std::size_t backslashes = 0;
        while (quote - backslashes > pos && s[quote - backslashes - 1] == '\\') ++backslashes;
        if (backslashes % 2 == 0) return quote + 1;
        pos = quote + 1;
    }
    return s.size();
}

// pos at the first character of a value; returns the position after it.
std::size_t skip_value(std::string_view s, std::size_t pos) {
    if (pos >= s.size()) return s.size();
    if (s[pos] == '"') return skip_string(s, pos);
    if (s[pos] == '{' || s[pos] == '[') {
        int depth = 0;
        while (pos < s.size()) {
            char c = s[pos];
            if (c == '"') {
                pos = skip_string(s, pos);
                continue;
            }
            if (c == '{' || c == '[') ++depth;
            if (c == '}' || c == ']') {
                if (--depth == 0) return pos + 1;
            }
            ++pos;
        }
        return s.size();
    }
    while (pos < s.size() && !is_space(s[pos]) && s[pos] != ',' && s[pos] != '}' && s[pos] != ']') ++pos;
    return pos;
}

void append_utf8(std::string& out, unsigned long cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// Calls fn(raw key without quotes, raw value) for each member of a top-level object.
template <class Fn>
void for_each_member(std::string_view s, Fn fn) {
    std::size_t pos = skip_space(s, 0);
    if (pos >= s.size() || s[pos] != '{') return;
    pos = skip_space(s, pos + 1);
    while (pos < s.size() && s[pos] == '"') {
        std::size_t key_end = skip_string(s, pos);
        auto key = s.substr(pos + 1, key_end - pos - 2);
        pos = skip_space(s, key_end);
        if (pos >= s.size() || s[pos] != ':') return;
        pos = skip_space(s, pos + 1);
        std::size_t value_end = skip_value(s, pos);
        if (!fn(key, s.substr(pos, value_end - pos))) return;
        pos = skip_space(s, value_end);
        if (pos >= s.size() || s[pos] != ',') return;
        pos = skip_space(s, pos + 1);
    }
}

}  // namespace

std::string unescape_json_string(std::string_view raw) {
    if (raw.find('\\') == std::string_view::npos) return std::string(raw);
    std::string out;
    out.reserve(raw.size());
    for (std::size_t pos = 0; pos < raw.size(); ++pos) {
        if (raw[pos] != '\\' || pos + 1 >= raw.size()) {
            out += raw[pos];
            continue;
        }
        char c = raw[++pos];
        switch (c) {
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
            long cp = hex4(raw, pos + 1);
            if (cp < 0) {
                out += c;
                break;
            }
            pos += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && pos + 2 < raw.size() && raw[pos + 1] == '\\' && raw[pos + 2] == 'u') {
                long low = hex4(raw, pos + 3);
                if (low >= 0xDC00 && low < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    pos += 6;
                }
            }
            append_utf8(out, static_cast<unsigned long>(cp));
            break;
        }
        default: out += c;  // \" \\ \/
        }
    }
    return out;
}

std::vector<json_member> raw_members(std::string_view object_text) {
    std::vector<json_member> out;
    for_each_member(object_text, [&](std::string_view k, std::string_view v) {
        out.push_back({unescape_json_string(k), v});
        return true;
    });
    return out;
}

bool has_duplicate_keys(const std::vector<json_member>& members) {
    // An event has five members at most: compare each pair. A hostile body may have
    // hundreds of thousands: sort those.
    if (members.size() <= 8) {
        for (std::size_t i = 0; i < members.size(); ++i) {
            for (std::size_t j = i + 1; j < members.size(); ++j) {
                if (members[i].key == members[j].key) return true;
            }
        }
        return false;
    }
    std::vector<std::string_view> keys;
    keys.reserve(members.size());
    for (const auto& m : members) keys.emplace_back(m.key);
    std::sort(keys.begin(), keys.end());
    return std::adjacent_find(keys.begin(), keys.end()) != keys.end();
}

std::vector<std::string_view> raw_elements(std::string_view s) {
    std::vector<std::string_view> out;
    std::size_t pos = skip_space(s, 0);
    if (pos >= s.size() || s[pos] != '[') return out;
    pos = skip_space(s, pos + 1);
    while (pos < s.size() && s[pos] != ']') {
        std::size_t end = skip_value(s, pos);
        out.push_back(s.substr(pos, end - pos));
        pos = skip_space(s, end);
        if (pos >= s.size() || s[pos] != ',') break;
        pos = skip_space(s, pos + 1);
    }
    return out;
}

std::string minify_json(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t pos = 0; pos < s.size();) {
        if (s[pos] == '"') {
            std::size_t end = skip_string(s, pos);
            out.append(s.substr(pos, end - pos));
            pos = end;
        } else {
            if (!is_space(s[pos])) out += s[pos];
            ++pos;
        }
    }
    return out;
}

}  // namespace webhookd
