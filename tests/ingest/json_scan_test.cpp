#include "ingest/json_scan.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace webhookd {
namespace {

// The raw value of member `key` of a top-level object, as raw_members gives it.
std::optional<std::string_view> raw_member(std::string_view object_text, std::string_view key) {
    for (const auto& m : raw_members(object_text)) {
        if (m.key == key) return m.value;
    }
    return std::nullopt;
}

bool has_duplicate_keys(std::string_view object_text) { return webhookd::has_duplicate_keys(raw_members(object_text)); }

TEST(raw_members, finds_values_of_every_kind_as_written) {
    std::string_view doc = R"( { "a" : 1.10 , "s":"x\"}y", "o": {"k": [1, {"z": "]"}]}, "n":null, "big": 123456789012345678901234567890 } )";
    EXPECT_EQ(raw_member(doc, "a"), "1.10");
    EXPECT_EQ(raw_member(doc, "s"), R"("x\"}y")");
    EXPECT_EQ(raw_member(doc, "o"), R"({"k": [1, {"z": "]"}]})");
    EXPECT_EQ(raw_member(doc, "n"), "null");
    EXPECT_EQ(raw_member(doc, "big"), "123456789012345678901234567890");
    EXPECT_FALSE(raw_member(doc, "missing"));
    EXPECT_EQ(raw_member(R"({"d\u0061ta": 1})", "data"), "1");  // a key is what its escapes spell
    EXPECT_FALSE(raw_member("[1, 2]", "a"));
}

TEST(raw_members, nested_keys_do_not_shadow_top_level_ones) {
    EXPECT_EQ(raw_member(R"({"x": {"data": 1}, "data": 2})", "data"), "2");
}

TEST(raw_elements, splits_a_top_level_array) {
    auto items = raw_elements(R"([ {"a": "],"}, 2 ,"s", [3, 4] ])");
    ASSERT_EQ(items.size(), 4u);
    EXPECT_EQ(items[0], R"({"a": "],"})");
    EXPECT_EQ(items[1], "2");
    EXPECT_EQ(items[2], R"("s")");
    EXPECT_EQ(items[3], "[3, 4]");
    EXPECT_TRUE(raw_elements("[]").empty());
    EXPECT_TRUE(raw_elements("{}").empty());
}

TEST(has_duplicate_keys, only_at_the_top_level) {
    EXPECT_TRUE(has_duplicate_keys(R"({"a": 1, "b": 2, "a": 3})"));
    EXPECT_FALSE(has_duplicate_keys(R"({"a": {"x": 1, "x": 2}, "b": 2})"));
    EXPECT_FALSE(has_duplicate_keys("{}"));
}

TEST(has_duplicate_keys, compares_keys_after_decoding_their_escapes) {
    EXPECT_TRUE(has_duplicate_keys(R"({"event": 1, "ev\u0065nt": 2})"));
    EXPECT_TRUE(has_duplicate_keys(R"({"\u00e9": 1, "\u00E9": 2})"));         // hex digits in either case
    EXPECT_TRUE(has_duplicate_keys("{\"\u00e9\": 1, \"\xC3\xA9\": 2}"));     // escaped and raw UTF-8
    EXPECT_TRUE(has_duplicate_keys(R"({"\ud83d\ude00": 1, "\uD83D\uDE00": 2})"));  // a surrogate pair
    EXPECT_TRUE(has_duplicate_keys(R"({"a\/b": 1, "a/b": 2})"));
    EXPECT_FALSE(has_duplicate_keys(R"({"a\nb": 1, "anb": 2})"));
}

TEST(has_duplicate_keys, many_members_are_compared_too) {
    std::string doc = "{";
    for (int i = 0; i < 20; ++i) doc += "\"k" + std::to_string(i) + "\": " + std::to_string(i) + ", ";
    EXPECT_FALSE(has_duplicate_keys(doc + "\"last\": 0}"));
    EXPECT_TRUE(has_duplicate_keys(doc + "\"k\u0031\u0037\": 0}"));  // k17 again
}

TEST(unescape_json_string, decodes_every_escape_json_has) {
    EXPECT_EQ(unescape_json_string(R"(plain)"), "plain");
    EXPECT_EQ(unescape_json_string(R"(\"\\\/\b\f\n\r\t)"), "\"\\/\b\f\n\r\t");
    EXPECT_EQ(unescape_json_string(R"(\u0041\u00e9\u20AC)"), "A\xC3\xA9\xE2\x82\xAC");
    EXPECT_EQ(unescape_json_string(R"(\ud83d\ude00)"), "\xF0\x9F\x98\x80");
}

TEST(minify_json, drops_whitespace_outside_strings_only) {
    EXPECT_EQ(minify_json("{ \"a b\" : [ 1 ,\n\t2 ] , \"c\" : \" x \\\" y \" }"), R"({"a b":[1,2],"c":" x \" y "})");
    EXPECT_EQ(minify_json("1.10"), "1.10");
    EXPECT_EQ(minify_json(R"("\u00e9")"), R"("\u00e9")");
}

}  // namespace
}  // namespace webhookd
