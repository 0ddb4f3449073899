#pragma once
// Base64 for byte strings (signing secrets, sealed secrets, cursors). Pure.

#include <optional>
#include <string>
#include <string_view>

namespace webhookd {

// Standard base64 (RFC 4648 section 4, "+/" alphabet) with "=" padding; no line breaks.
std::string base64_encode(std::string_view bytes);

// Strict inverse of base64_encode: the text must be a multiple of 4 characters of the
// standard alphabet, with at most two "=" and only at the end, and the unused bits of the
// last character must be zero (so every byte string has exactly one accepted encoding).
// Whitespace, the URL-safe alphabet and missing padding are rejected. Returns the decoded
// bytes, or std::nullopt when text is not valid. The empty string decodes to "".
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace webhookd
