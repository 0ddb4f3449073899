// Commented JSON ("JSONC") to plain JSON. The output has the same length and the same
// line breaks as the input: comments and trailing commas become spaces, so the line and
// column numbers of later JSON parse errors point into the original text.

#include <string>

#include "webhookd/config.hpp"

namespace webhookd {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

result<std::string> strip_json_comments(std::string_view text) {
    std::string out(text);
    const std::size_t n = text.size();

    // Index in `out` of a comma that may turn out to be trailing: the last significant
    // character so far, written after a value (not right after '[', '{' or another ',').
    std::size_t pending_comma = std::string::npos;
    char last_significant = '\0';
    std::size_t line = 1;

    for (std::size_t i = 0; i < n; ++i) {
        const char c = text[i];
        if (c == '\n') ++line;

        if (c == '"') {
            std::size_t j = i + 1;
            while (j < n && text[j] != '"' && text[j] != '\n') j += text[j] == '\\' ? 2 : 1;
            i = j < n && text[j] == '"' ? j
                                        : j - 1;  // an unterminated string is left to the parser
            pending_comma = std::string::npos;
            last_significant = '"';
            continue;
        }
        if (c == '/' && i + 1 < n && text[i + 1] == '/') {
            while (i < n && text[i] != '\n') out[i++] = ' ';
            if (i < n) ++line;
            continue;
        }
        if (c == '/' && i + 1 < n && text[i + 1] == '*') {
            const std::size_t start_line = line;
            const std::size_t end = text.find("*/", i + 2);
            if (end == std::string_view::npos) {
                return error{error_code::invalid_config, "unterminated /* comment starting at line " +
                                                   std::to_string(start_line)};
            }
            for (std::size_t j = i; j < end + 2; ++j) {
                if (text[j] == '\n') {
                    ++line;
                } else if (text[j] != '\r') {
                    out[j] = ' ';
                }
            }
            i = end + 1;
            continue;
        }
        if (is_space(c)) continue;

        if ((c == '}' || c == ']') && pending_comma != std::string::npos) {
            out[pending_comma] = ' ';
        }
        const bool after_value = last_significant != '\0' && last_significant != '[' &&
                                 last_significant != '{' && last_significant != ',';
        pending_comma = c == ',' && after_value ? i : std::string::npos;
        last_significant = c;
    }
    return out;
}

}  // namespace webhookd
