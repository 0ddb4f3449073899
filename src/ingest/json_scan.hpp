#pragma once
// Byte-level views into JSON text that has already been validated (by nlohmann), so that a
// producer's `data` travels exactly as written: numbers keep their digits, strings their
// escapes. Pure functions; on text that is not valid JSON the results are unspecified but
// never read out of bounds.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace webhookd {

// The raw text of the value of member `key` of the top-level object `object_text`, or
// nullopt when absent or when `key` is written with escapes.
std::optional<std::string_view> raw_member(std::string_view object_text, std::string_view key);

// The raw text of each element of the top-level array `array_text`.
std::vector<std::string_view> raw_elements(std::string_view array_text);

// True when the top-level object has two members with the same (raw) key.
bool has_duplicate_keys(std::string_view object_text);

// `json_text` without whitespace outside strings.
std::string minify_json(std::string_view json_text);

}  // namespace webhookd
