// The one-pass JSON check of ingest bodies accepts exactly what nlohmann's parser accepts
// (within the shared bounds), and says why it refuses.

#include "ingest/json_check.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <random>
#include <string>
#include <vector>

#include "util/json_parse.hpp"

namespace webhookd {
namespace {

bool nlohmann_accepts(const std::string& text) { return nlohmann::json::accept(text); }

std::string nested(std::size_t levels, const std::string& inner) {
    return std::string(levels, '[') + inner + std::string(levels, ']');
}

// Texts on every branch of the grammar, valid and not.
const std::vector<std::string> cases = {
    // values of every kind, at the top and inside containers
    "{}", "[]", "1", "-0", "0.5", "-12.5e+3", "1E-2", "1e5", "true", "false", "null", R"("s")",
    R"({"a":1,"b":[true,false,null],"c":{"d":"e"}})", " \t\r\n{ \"a\" : [ 1 , 2 ] }\n ",
    R"([[],{},[[]],{"":{}}])", "123456789012345678901234567890", "1.7976931348623157e309", "-1e400", "1e-400", "[1E+308]",
    std::string(400, '9'), "-" + std::string(400, '9') + ".5", std::string(300, '9'),
    // numbers the grammar refuses
    "01", "-", "+1", "1.", ".5", "1e", "1e+", "--1", "1.e5", "0x10", "Infinity", "NaN", "-01", "1.5.2",
    // literals
    "tru", "truex", "nul", "nulll", "False", "[true false]",
    // structure
    "{", "}", "[", "]", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\" 1}", "{\"a\":}", "{1:2}", "{\"a\":1 \"b\":2}",
    "[1 2]", "{} {}", "[] x", "{\"a\":1}}", "[1]]", "{'a':1}", "/* c */ {}", "{\"a\":1}\x0b",
    // strings and escapes
    R"("\"\\\/\b\f\n\r\t")", R"("\u0041\u00e9\u20AC")", R"("\ud83d\ude00")", R"("\uD83D\uDE00")",
    R"("\x")", R"("\u12")", R"("\u12g4")", R"("\ud83d")", R"("\ude00")", R"("\ud83d\u0041")", R"("\ud83dx")",
    R"("\ud83d\ude0")", "\"a\tb\"", "\"a\nb\"", "\"\x1f\"", "\"\x7f\"", "\"unterminated", "\"a\\\"",
    // UTF-8: valid sequences of each length, then the forms RFC 3629 forbids
    "\"\xC3\xA9\"", "\"\xE2\x82\xAC\"", "\"\xF0\x9F\x98\x80\"", "\"\xEF\xBF\xBF\"", "\"\xF4\x8F\xBF\xBF\"",
    "\"\xC0\xAF\"", "\"\xC1\xBF\"", "\"\xE0\x80\xAF\"", "\"\xE0\x9F\xBF\"", "\"\xED\xA0\x80\"", "\"\xF0\x80\x80\xAF\"",
    "\"\xF4\x90\x80\x80\"", "\"\xF5\x80\x80\x80\"", "\"\xFF\"", "\"\x80\"", "\"\xC3\"", "\"\xE2\x82\"", "\"\xC3\x28\"",
    "\"\xE2\x28\xA1\"", "\"\xF0\x9F\x98\"", "\"caf\xC3\"",
    // long strings cross the 8-byte fast path's boundaries
    "\"" + std::string(1000, 'x') + "\"", "\"" + std::string(1001, 'x') + "\\n\"",
    "\"" + std::string(17, 'x') + "\xC3\xA9" + std::string(9, 'y') + "\"",
    "\"" + std::string(15, 'x') + "\x01\"", "\"" + std::string(23, 'x'), "\"" + std::string(8, 'x') + "\"",
};

TEST(json_check, accepts_exactly_what_nlohmann_accepts) {
    for (const auto& text : cases) {
        EXPECT_EQ(check_json_body(text).ok(), nlohmann_accepts(text)) << "text: " << text;
    }
}

TEST(json_check, agrees_with_nlohmann_on_random_mutations_of_a_valid_body) {
    const std::string seed =
        R"({"event":"booking.created","id":"b-1","data":{"n":-1.5e3,"s":"caf\u00e9 \ud83d\ude00 )"
        "\xC3\xA9\","
        R"("a":[true,false,null,{}],"e":""}})";
    ASSERT_TRUE(check_json_body(seed).ok());
    const std::string alphabet = "{}[]\":,\\u0123456789abcdefABCDEF.-+eE tnrl \x01\x7f\x80\xC3\xA9\xED\xF0\xF4";
    std::mt19937 random(19);
    for (int i = 0; i < 20000; ++i) {
        std::string text = seed;
        for (int edits = 1 + static_cast<int>(random() % 3); edits > 0; --edits) {
            std::size_t at = random() % text.size();
            char c = alphabet[random() % alphabet.size()];
            switch (random() % 3) {
            case 0: text[at] = c; break;
            case 1: text.insert(at, 1, c); break;
            default: text.erase(at, 1);
            }
        }
        if (text.empty() || text.find('\0') != std::string::npos) continue;
        ASSERT_EQ(check_json_body(text).ok(), nlohmann_accepts(text)) << "text: " << text;
    }
}

TEST(json_check, nesting_is_bounded_at_max_json_depth) {
    EXPECT_TRUE(check_json_body(nested(max_json_depth, "")).ok());
    EXPECT_TRUE(check_json_body(nested(max_json_depth, "1")).ok());
    for (const auto& deep : {nested(max_json_depth + 1, ""), nested(max_json_depth, "{}"), nested(100'000, "")}) {
        auto r = check_json_body(deep);
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.err().code, error_code::invalid_json);
        EXPECT_NE(r.err().message.find("deeper than 64"), std::string::npos) << r.err().message;
    }
}

TEST(json_check, refusals_name_the_reason_and_the_byte) {
    auto message = [](const std::string& text) { return check_json_body(text).err().message; };
    EXPECT_EQ(message(R"({"a":01})"), "request body is not valid JSON: expected ',' or '}' at byte 6");
    EXPECT_EQ(message("\"\xFF\""), "request body is not valid JSON: invalid UTF-8 at byte 1");
    EXPECT_EQ(message(R"(["\ud83d"])"), "request body is not valid JSON: high surrogate not followed by a low one at byte 8");
    EXPECT_EQ(message("{} x"), "request body is not valid JSON: unexpected text after the value at byte 3");
    EXPECT_NE(message("").find("empty"), std::string::npos);
    EXPECT_NE(message(std::string("{}\0", 3)).find("NUL"), std::string::npos);
    EXPECT_NE(message("\xEF\xBB\xBF{}").find("byte order mark"), std::string::npos);
}

}  // namespace
}  // namespace webhookd
