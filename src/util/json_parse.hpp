#pragma once
// Parsing a request body as JSON, with the bounds every route shares: no NUL byte, no byte
// order mark, at most max_json_depth levels of nesting (deeper documents are refused while
// they are read, before any recursive code sees them), and a parser message cut to a
// length that is safe to echo. Header-only: a template over nlohmann's document types.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "webhookd/result.hpp"

namespace webhookd {

// The deepest nesting any route accepts; the body itself is level 1.
inline constexpr std::size_t max_json_depth = 64;

namespace detail {

struct json_too_deep {};

// At most this much of the parser's message: it quotes the last token it read, which may
// be most of a megabyte-long string.
inline constexpr std::size_t max_parse_message = 200;

// The parser's message, shortened to max_parse_message bytes at a UTF-8 character boundary.
inline std::string parse_message(std::string what) {
    if (what.size() <= max_parse_message) return what;
    std::size_t cut = max_parse_message;
    while (cut > 0 && (static_cast<unsigned char>(what[cut]) & 0xC0) == 0x80) --cut;
    what.resize(cut);
    return what + "...";
}

// The bounds checked before any parser sees the text: an "invalid_json" error, or none.
inline std::optional<error> body_bound_error(std::string_view body) {
    if (body.empty()) return error{error_code::invalid_json, "request body is empty"};
    // JSON has no raw NUL byte anywhere (in strings it is escaped), and the parser would
    // take one after the value for the end of the input.
    if (body.find('\0') != std::string_view::npos)
        return error{error_code::invalid_json, "request body holds a NUL byte"};
    // RFC 8259 section 8.1: a sender must not add a byte order mark. The parser would skip it,
    // byte-exact scans of the text would not: refuse it rather than read two ways.
    if (body.starts_with("\xEF\xBB\xBF")) {
        return error{error_code::invalid_json, "request body starts with a byte order mark"};
    }
    return std::nullopt;
}

}  // namespace detail

// The document `body` holds, or an "invalid_json" error whose message says why.
template <class Json>
result<Json> parse_json_body(std::string_view body) {
    if (auto bound = detail::body_bound_error(body)) return *bound;
    try {
        // `depth` counts the containers around the event; a container that starts at
        // depth d is nesting level d + 1.
        typename Json::parser_callback_t limit = [](int depth, typename Json::parse_event_t event, Json&) {
            bool opens = event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start;
            if (opens && static_cast<std::size_t>(depth) >= max_json_depth) throw detail::json_too_deep{};
            return true;
        };
        return Json::parse(body.begin(), body.end(), limit);
    } catch (const detail::json_too_deep&) {
        return error{error_code::invalid_json,
                     "JSON nesting is deeper than " + std::to_string(max_json_depth) + " levels"};
    } catch (const typename Json::exception& e) {
        return error{error_code::invalid_json, "request body is not valid JSON: " + detail::parse_message(e.what())};
    }
}

}  // namespace webhookd
