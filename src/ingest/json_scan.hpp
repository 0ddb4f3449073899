#pragma once
// Byte-level views into JSON text that has already been validated (json_check.hpp), so that a
// producer's `data` travels exactly as written: numbers keep their digits, strings their
// escapes. Pure functions; on text that is not valid JSON the results are unspecified but
// never read out of bounds.

#include <string>
#include <string_view>
#include <vector>

namespace webhookd {

// A member of an object: its key, escapes decoded, and its value's raw text.
struct json_member {
    std::string key;
    std::string_view value;
};

// The members of the top-level object `object_text`, in order; none when it is not an object.
std::vector<json_member> raw_members(std::string_view object_text);

// True when two of the members have the same (decoded) key.
bool has_duplicate_keys(const std::vector<json_member>& members);

// The raw text of each element of the top-level array `array_text`.
std::vector<std::string_view> raw_elements(std::string_view array_text);

// The text of a JSON string without its quotes, escapes decoded to UTF-8 (a lone surrogate
// is encoded as it is; validated input has none).
std::string unescape_json_string(std::string_view raw);

// `json_text` without whitespace outside strings.
std::string minify_json(std::string_view json_text);

}  // namespace webhookd
