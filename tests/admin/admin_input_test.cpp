#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "admin/admin_input.hpp"
#include "delivery/signer.hpp"

namespace webhookd::admin {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr std::int64_t i64_min = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t i64_max = std::numeric_limits<std::int64_t>::max();

// The Standard Webhooks reference secret: a valid operator-given secret.
constexpr std::string_view valid_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

// "c1" + base64url (no padding) of raw text: a cursor with any payload, as a client
// could forge it.
std::string forge_cursor(std::string_view payload) {
    auto text = base64_encode(payload);
    for (auto& c : text) {
        if (c == '+') c = '-';
        if (c == '/') c = '_';
    }
    while (!text.empty() && text.back() == '=') text.pop_back();
    return "c1" + text;
}

bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

// Success when `r` failed with `code` and a message containing `fragment`. Used as
// EXPECT_TRUE(failed_with(...)) so that a failure points at the caller's line.
template <class T>
testing::AssertionResult failed_with(const result<T>& r, std::string_view code, std::string_view fragment) {
    if (r.ok()) return testing::AssertionFailure() << "succeeded; expected an error containing \"" << fragment << "\"";
    if (to_string(r.err().code) != code) {
        return testing::AssertionFailure() << "code \"" << to_string(r.err().code) << "\" (expected \"" << code
                                           << "\"), message \"" << r.err().message << "\"";
    }
    if (!contains(r.err().message, fragment)) {
        return testing::AssertionFailure() << "message \"" << r.err().message << "\" lacks \"" << fragment << "\"";
    }
    return testing::AssertionSuccess();
}

result<endpoint_settings> create(const json& body, std::optional<std::string>* secret_out = nullptr) {
    return parse_endpoint_settings(body, true, secret_out);
}

result<endpoint_settings> patch(const json& body) {
    return parse_endpoint_settings(body, false, nullptr);
}

json with_url(json body) {
    body["url"] = "https://example.com/hook";
    return body;
}

// ---- parse_object / only_fields ------------------------------------------------------------

TEST(parse_object, accepts_an_object) {
    auto r = parse_object(R"({"a":1})", false);
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ((*r)["a"], 1);
}

TEST(parse_object, empty_body_is_an_object_only_when_allowed) {
    auto r = parse_object("", true);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->is_object());
    EXPECT_TRUE(r->empty());
    EXPECT_TRUE(failed_with(parse_object("", false), "invalid_json", "empty"));
}

TEST(parse_object, rejects_malformed_json_and_non_objects) {
    EXPECT_TRUE(failed_with(parse_object("{", false), "invalid_json", "not valid JSON"));
    EXPECT_TRUE(failed_with(parse_object("{\"a\":1} x", false), "invalid_json", "not valid JSON"));
    EXPECT_TRUE(failed_with(parse_object("[1,2]", false), "invalid_json", "must be a JSON object"));
    EXPECT_TRUE(failed_with(parse_object("\"text\"", true), "invalid_json", "must be a JSON object"));
    EXPECT_TRUE(failed_with(parse_object("null", true), "invalid_json", "must be a JSON object"));
}

// The same bound as ingest: nesting past 64 levels is refused while it is read, so nothing
// recursive (destruction, dump) ever sees a deep document.
TEST(parse_object, bounds_nesting_like_ingest) {
    auto nested = [](std::size_t levels) {
        return "{\"data\":" + std::string(levels - 1, '[') + std::string(levels - 1, ']') + "}";
    };
    EXPECT_TRUE(parse_object(nested(64), false).ok());
    EXPECT_TRUE(failed_with(parse_object(nested(65), false), "invalid_json", "deeper than 64"));
    EXPECT_TRUE(failed_with(parse_object(nested(100000), false), "invalid_json", "deeper than 64"));
    EXPECT_TRUE(failed_with(parse_object(std::string("{\"a\":1}\0", 8), false), "invalid_json", "NUL"));
}

TEST(only_fields, names_the_first_unknown_field_with_its_prefix) {
    json o = {{"a", 1}, {"zz", 2}};
    EXPECT_TRUE(only_fields(o, {"a", "zz"}).ok());
    EXPECT_TRUE(failed_with(only_fields(o, {"a"}), "invalid_field", "unknown field \"zz\""));
    EXPECT_TRUE(failed_with(only_fields(o, {"a"}, "signature."), "invalid_field", "unknown field \"signature.zz\""));
}

// ---- cursors ---------------------------------------------------------------------------------

TEST(cursor, round_trips_keys_including_zero_negative_and_extreme_values) {
    const std::vector<page_key> keys{
        {0, 0},
        {1, 1},
        {1764064800000, 42},
        {-1, -1},
        {-1764064800000, 7},
        {i64_max, i64_max},
        {i64_min, i64_min},
        {i64_max, i64_min},
        {123456789, 0},
    };
    for (const auto& key : keys) {
        auto cursor = encode_cursor(key);
        auto back = decode_cursor(cursor);
        ASSERT_TRUE(back.has_value()) << cursor << " for " << key.primary << "." << key.id;
        EXPECT_EQ(back->primary, key.primary) << cursor;
        EXPECT_EQ(back->id, key.id) << cursor;
    }
}

TEST(cursor, is_url_safe_unpadded_and_starts_with_c1) {
    for (const auto& key : {page_key{0, 0}, page_key{i64_min, i64_max}, page_key{1764064800000, 99}}) {
        auto cursor = encode_cursor(key);
        EXPECT_TRUE(cursor.starts_with("c1")) << cursor;
        EXPECT_LE(cursor.size(), 64u) << cursor;
        for (char c : cursor) {
            EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')
                << "character '" << c << "' in " << cursor;
        }
    }
}

TEST(cursor, distinct_keys_give_distinct_cursors) {
    EXPECT_NE(encode_cursor({1, 2}), encode_cursor({2, 1}));
    EXPECT_NE(encode_cursor({12, 3}), encode_cursor({1, 23}));
}

TEST(decode_cursor, rejects_garbage) {
    for (std::string_view c : {"", "c", "c1", "c1!!!!", "c1 abc", "c1====", "hello", "c1\n", "c1%3D%3D"}) {
        EXPECT_FALSE(decode_cursor(c).has_value()) << "\"" << c << "\"";
    }
}

TEST(decode_cursor, rejects_a_wrong_or_missing_prefix) {
    auto good = encode_cursor({1764064800000, 42});
    ASSERT_TRUE(decode_cursor(good).has_value());
    auto body = good.substr(2);
    EXPECT_FALSE(decode_cursor(body).has_value());
    EXPECT_FALSE(decode_cursor("c2" + body).has_value());
    EXPECT_FALSE(decode_cursor("C1" + body).has_value());
    EXPECT_FALSE(decode_cursor("x" + good).has_value());
}

TEST(decode_cursor, rejects_tampered_text) {
    auto good = encode_cursor({1764064800000, 42});
    // A character the URL-safe alphabet has no place for.
    EXPECT_FALSE(decode_cursor(good + "*").has_value());
    // Standard-alphabet characters instead of the URL-safe ones.
    EXPECT_FALSE(decode_cursor("c1" + std::string("ab+/")).has_value());
    // Truncated by one character: a length no base64 has (4n+1) or a lost digit-dot split.
    EXPECT_FALSE(decode_cursor(good.substr(0, good.size() - 1)).has_value());
    // Cut in the middle of the key, before the dot.
    EXPECT_FALSE(decode_cursor(good.substr(0, 6)).has_value());
    // Trailing junk appended after a valid cursor.
    EXPECT_FALSE(decode_cursor(good + "AAAA").has_value());
}

TEST(decode_cursor, rejects_non_numeric_payloads) {
    for (std::string_view payload : {"",
                                     ".",
                                     "1.",
                                     ".1",
                                     "abc",
                                     "1.abc",
                                     "abc.1",
                                     "1.2.3",
                                     "1 .2",
                                     "1. 2",
                                     "+1.2",
                                     "1.+2",
                                     "0x1.2",
                                     "1.5e3",
                                     "1,2",
                                     "1",
                                     "99999999999999999999.1",
                                     "1.99999999999999999999",
                                     "-.1",
                                     "1.-"}) {
        EXPECT_FALSE(decode_cursor(forge_cursor(payload)).has_value()) << "payload \"" << payload << "\"";
    }
}

TEST(decode_cursor, accepts_a_hand_made_cursor_with_a_numeric_payload) {
    auto key = decode_cursor(forge_cursor("17.4"));
    ASSERT_TRUE(key.has_value());
    EXPECT_EQ(key->primary, 17);
    EXPECT_EQ(key->id, 4);
}

TEST(decode_cursor, rejects_over_long_input) {
    EXPECT_FALSE(decode_cursor("c1" + std::string(63, 'A')).has_value());
    EXPECT_FALSE(decode_cursor("c1" + std::string(1000, 'A')).has_value());
    // A numeric payload that would decode, were it not too long.
    auto long_cursor = forge_cursor(std::string(30, '1') + "." + std::string(30, '2'));
    ASSERT_GT(long_cursor.size(), 64u);
    EXPECT_FALSE(decode_cursor(long_cursor).has_value());
}

// ---- parse_page ------------------------------------------------------------------------------

TEST(parse_page, defaults_to_50_and_no_cursor) {
    auto p = parse_page(std::nullopt, std::nullopt);
    ASSERT_TRUE(p.ok()) << p.err().message;
    EXPECT_EQ(p->limit, 50u);
    EXPECT_EQ(p->limit, default_page_limit);
    EXPECT_FALSE(p->after.has_value());
}

TEST(parse_page, empty_cursor_means_first_page) {
    auto p = parse_page(std::nullopt, std::string());
    ASSERT_TRUE(p.ok()) << p.err().message;
    EXPECT_FALSE(p->after.has_value());
}

TEST(parse_page, accepts_limits_from_1_to_1000) {
    for (auto [text, n] : std::vector<std::pair<std::string, std::size_t>>{{"1", 1}, {"7", 7}, {"1000", 1000}}) {
        auto p = parse_page(text, std::nullopt);
        ASSERT_TRUE(p.ok()) << text << ": " << p.err().message;
        EXPECT_EQ(p->limit, n);
    }
}

TEST(parse_page, rejects_limits_out_of_range_or_not_a_number) {
    for (std::string text :
         {"0", "1001", "abc", "-1", "10x", "", " 10", "10 ", "+10", "1.5", "1e3", "99999999999999999999999"}) {
        EXPECT_TRUE(failed_with(parse_page(text, std::nullopt), "invalid_field", "\"limit\"")) << "\"" << text << "\"";
        EXPECT_TRUE(failed_with(parse_page(text, std::nullopt), "invalid_field", "1 to 1000")) << "\"" << text << "\"";
    }
}

TEST(parse_page, decodes_a_cursor) {
    auto p = parse_page(std::string("10"), encode_cursor({1764064800000, 42}));
    ASSERT_TRUE(p.ok()) << p.err().message;
    EXPECT_EQ(p->limit, 10u);
    ASSERT_TRUE(p->after.has_value());
    EXPECT_EQ(p->after->primary, 1764064800000);
    EXPECT_EQ(p->after->id, 42);
}

TEST(parse_page, rejects_a_bad_cursor) {
    for (const std::string& c :
         std::vector<std::string>{"nope", "c1!!", forge_cursor("a.b"), "c1" + std::string(100, 'A')}) {
        EXPECT_TRUE(failed_with(parse_page(std::nullopt, c), "invalid_field", "\"cursor\"")) << c;
    }
}

// ---- parse_time ------------------------------------------------------------------------------

constexpr std::int64_t t_2026_11_25_09 = 1795597200000;  // 2026-11-25T09:00:00Z

TEST(parse_time, accepts_rfc3339_utc) {
    auto r = parse_time("since", "2026-11-25T09:00:00Z");
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(*r, t_2026_11_25_09);
    EXPECT_EQ(*parse_time("since", "1970-01-01T00:00:00Z"), 0);
}

TEST(parse_time, applies_offsets) {
    auto plus = parse_time("since", "2026-11-25T10:00:00+01:00");
    ASSERT_TRUE(plus.ok()) << plus.err().message;
    EXPECT_EQ(*plus, t_2026_11_25_09);
    EXPECT_EQ(*plus, *parse_time("since", "2026-11-25T09:00:00Z"));

    auto minus = parse_time("until", "2026-11-25T03:30:00-05:30");
    ASSERT_TRUE(minus.ok()) << minus.err().message;
    EXPECT_EQ(*minus, t_2026_11_25_09);

    // An offset that moves the instant across midnight (and the month).
    auto across = parse_time("until", "2026-12-01T00:30:00+02:00");
    ASSERT_TRUE(across.ok());
    EXPECT_EQ(*across, *parse_time("until", "2026-11-30T22:30:00Z"));
}

TEST(parse_time, keeps_milliseconds_of_fractional_seconds) {
    EXPECT_EQ(*parse_time("since", "2026-11-25T09:00:00.123Z"), t_2026_11_25_09 + 123);
    EXPECT_EQ(*parse_time("since", "2026-11-25T09:00:00.5Z"), t_2026_11_25_09 + 500);
    EXPECT_EQ(*parse_time("since", "2026-11-25T09:00:00.123999Z"), t_2026_11_25_09 + 123);  // truncated
    EXPECT_EQ(*parse_time("since", "2026-11-25T10:00:00.007+01:00"), t_2026_11_25_09 + 7);
}

TEST(parse_time, accepts_unix_seconds) {
    EXPECT_EQ(*parse_time("since", "0"), 0);
    EXPECT_EQ(*parse_time("since", "1795597200"), t_2026_11_25_09);
    EXPECT_EQ(*parse_time("since", "253402300799"), 253402300799000);  // 9999-12-31T23:59:59Z
}

TEST(parse_time, rejects_junk_naming_the_field) {
    for (std::string_view text :
         {"", "yesterday", "now", "2026-11-25", "2026-11-25T09:00:00", "2026-11-25 09:00:00Z", "2026-13-01T00:00:00Z",
          "1795597200.5", "-1", "1e9", " 1795597200", "1795597200 ", "253402300800", "2026-11-25T09:00:00Zjunk"}) {
        auto r = parse_time("since", text);
        EXPECT_TRUE(failed_with(r, "invalid_field", "\"since\"")) << "\"" << text << "\"";
        EXPECT_TRUE(failed_with(r, "invalid_field", "RFC 3339")) << "\"" << text << "\"";
    }
    EXPECT_TRUE(failed_with(parse_time("until", "soon"), "invalid_field", "\"until\""));
}

// ---- parse_grace_period ----------------------------------------------------------------------

TEST(parse_grace_period, accepts_zero_to_seven_days) {
    auto zero = parse_grace_period("0s");
    ASSERT_TRUE(zero.ok()) << zero.err().message;
    EXPECT_EQ(*zero, duration::zero());
    EXPECT_EQ(*parse_grace_period("24h"), std::chrono::hours(24));
    EXPECT_EQ(*parse_grace_period("30m"), std::chrono::minutes(30));
    EXPECT_EQ(*parse_grace_period("7d"), max_grace_period);
    EXPECT_EQ(*parse_grace_period("168h"), max_grace_period);
    EXPECT_EQ(*parse_grace_period("1w"), max_grace_period);
}

TEST(parse_grace_period, rejects_more_than_seven_days) {
    for (std::string_view text : {"8d", "169h", "2w", "604800001ms"}) {
        EXPECT_TRUE(failed_with(parse_grace_period(text), "invalid_field", "longer than 7 days")) << text;
    }
}

TEST(parse_grace_period, rejects_what_is_not_a_duration) {
    for (std::string_view text : {"soon", "", "24", "h", "-1h", "1.5h", "24 h", "24H"}) {
        EXPECT_TRUE(failed_with(parse_grace_period(text), "invalid_field", "\"grace_period\" must be a duration"))
            << "\"" << text << "\"";
    }
}

// ---- parse_endpoint_settings: create -----------------------------------------------------

TEST(parse_endpoint_settings_create, requires_the_url) {
    EXPECT_TRUE(failed_with(create(json::object()), "invalid_field", "\"url\" is required"));
    EXPECT_TRUE(failed_with(create({{"events", json::array()}}), "invalid_field", "\"url\" is required"));
}

TEST(parse_endpoint_settings_create, fills_in_defaults) {
    auto r = create({{"url", "https://example.com/hook"}});
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(r->url, "https://example.com/hook");
    EXPECT_EQ(r->patterns_json, "[]");
    EXPECT_EQ(r->description, "");
    EXPECT_EQ(r->body_mode, "envelope");
    EXPECT_EQ(r->signature_format, "hex");
    EXPECT_EQ(r->signature_header, "X-Webhook-Signature");
    EXPECT_EQ(r->headers_json, "{}");
    EXPECT_EQ(r->enabled, std::optional<bool>(true));
}

TEST(parse_endpoint_settings_create, keeps_every_given_field) {
    json body = {{"url", "http://hooks.example.org:8080/in?x=1"},
                 {"events", {"booking.created", "payment.*"}},
                 {"description", "Bookings"},
                 {"signature", {{"format", "stripe"}, {"header", "Stripe-Signature"}}},
                 {"headers", {{"Authorization", "Bearer abc"}, {"X-Tenant", "t1"}}},
                 {"body", "data"},
                 {"enabled", false}};
    auto r = create(body);
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(r->url, "http://hooks.example.org:8080/in?x=1");
    EXPECT_EQ(json::parse(*r->patterns_json), json({"booking.created", "payment.*"}));
    EXPECT_EQ(r->description, "Bookings");
    EXPECT_EQ(r->signature_format, "stripe");
    EXPECT_EQ(r->signature_header, "Stripe-Signature");
    EXPECT_EQ(json::parse(*r->headers_json), json({{"Authorization", "Bearer abc"}, {"X-Tenant", "t1"}}));
    EXPECT_EQ(r->body_mode, "data");
    EXPECT_EQ(r->enabled, std::optional<bool>(false));
}

TEST(parse_endpoint_settings_create, url_must_be_an_http_or_https_string) {
    EXPECT_TRUE(failed_with(create({{"url", 42}}), "invalid_field", "\"url\" must be a string"));
    EXPECT_TRUE(failed_with(create({{"url", nullptr}}), "invalid_field", "\"url\" must be a string"));
    EXPECT_TRUE(failed_with(create({{"url", "ftp://example.com/x"}}), "invalid_field", "scheme must be http or https"));
    EXPECT_TRUE(failed_with(create({{"url", "file:///etc/passwd"}}), "invalid_field", "\"url\""));
    EXPECT_TRUE(failed_with(create({{"url", "example.com/hook"}}), "invalid_field", "\"url\""));
    EXPECT_TRUE(failed_with(create({{"url", ""}}), "invalid_field", "\"url\""));
    EXPECT_TRUE(create({{"url", "http://example.com/"}}).ok());
    EXPECT_TRUE(create({{"url", "HTTPS://Example.com/"}}).ok());
}

TEST(parse_endpoint_settings_create, refuses_credentials_in_the_url) {
    EXPECT_TRUE(failed_with(create({{"url", "https://user:pass@example.com/hook"}}), "invalid_field", "credentials"));
    EXPECT_TRUE(failed_with(create({{"url", "https://user@example.com/hook"}}), "invalid_field", "credentials"));
}

TEST(parse_endpoint_settings_create, refuses_over_long_urls) {
    const std::string base = "https://example.com/";
    EXPECT_TRUE(create({{"url", base + std::string(2048 - base.size(), 'a')}}).ok());
    EXPECT_TRUE(failed_with(create({{"url", base + std::string(2049 - base.size(), 'a')}}), "invalid_field",
                            "longer than 2048"));
}

TEST(parse_endpoint_settings_create, rejects_an_unknown_field_by_name) {
    EXPECT_TRUE(failed_with(create(with_url({{"retries", 3}})), "invalid_field", "unknown field \"retries\""));
    EXPECT_TRUE(failed_with(create(with_url({{"URL", "x"}})), "invalid_field", "\"URL\""));
}

TEST(parse_endpoint_settings_create, events_must_be_an_array_of_valid_patterns) {
    EXPECT_TRUE(
        failed_with(create(with_url({{"events", "booking.created"}})), "invalid_field", "\"events\" must be an array"));
    EXPECT_TRUE(
        failed_with(create(with_url({{"events", json::object()}})), "invalid_field", "\"events\" must be an array"));
    EXPECT_TRUE(failed_with(create(with_url({{"events", {"a.b", "a*"}}})), "invalid_field", "events[1]"));
    EXPECT_TRUE(failed_with(create(with_url({{"events", {"*.b"}}})), "invalid_field", "events[0]"));
    EXPECT_TRUE(failed_with(create(with_url({{"events", {"a.b", "c.*", 7}}})), "invalid_field", "events[2]"));
    EXPECT_TRUE(failed_with(create(with_url({{"events", {"a.b", nullptr}}})), "invalid_field", "events[1]"));

    auto ok = create(with_url({{"events", {"a.b", "a.*", "*"}}}));
    ASSERT_TRUE(ok.ok()) << ok.err().message;
    EXPECT_EQ(json::parse(*ok->patterns_json), json({"a.b", "a.*", "*"}));
}

TEST(parse_endpoint_settings_create, limits_the_number_of_patterns) {
    json many = json::array();
    for (std::size_t i = 0; i < max_patterns; ++i) many.push_back("e" + std::to_string(i));
    EXPECT_TRUE(create(with_url({{"events", many}})).ok());
    many.push_back("one.more");
    EXPECT_TRUE(failed_with(create(with_url({{"events", many}})), "invalid_field", "more than 256"));
}

TEST(parse_endpoint_settings_create, description_is_a_string_of_at_most_1024_bytes) {
    EXPECT_TRUE(
        failed_with(create(with_url({{"description", 1}})), "invalid_field", "\"description\" must be a string"));
    EXPECT_TRUE(create(with_url({{"description", std::string(max_description, 'd')}})).ok());
    EXPECT_TRUE(failed_with(create(with_url({{"description", std::string(max_description + 1, 'd')}})), "invalid_field",
                            "\"description\" is longer than 1024"));
}

TEST(parse_endpoint_settings_create, body_and_enabled_take_only_their_values) {
    EXPECT_TRUE(
        failed_with(create(with_url({{"body", "raw"}})), "invalid_field", "\"body\" must be \"envelope\" or \"data\""));
    EXPECT_TRUE(failed_with(create(with_url({{"body", 1}})), "invalid_field", "\"body\""));
    EXPECT_TRUE(
        failed_with(create(with_url({{"enabled", "true"}})), "invalid_field", "\"enabled\" must be true or false"));
    EXPECT_TRUE(failed_with(create(with_url({{"enabled", 1}})), "invalid_field", "\"enabled\""));
}

TEST(parse_endpoint_settings_create, refuses_hop_by_hop_custom_headers) {
    for (std::string name : {"Connection", "Transfer-Encoding", "Host", "Content-Length", "connection",
                             "TRANSFER-ENCODING", "Keep-Alive", "Upgrade", "TE", "Content-Type", "User-Agent"}) {
        EXPECT_TRUE(
            failed_with(create(with_url({{"headers", {{name, "x"}}}})), "invalid_field", "\"headers." + name + "\""));
        EXPECT_TRUE(failed_with(create(with_url({{"headers", {{name, "x"}}}})), "invalid_field", "sets itself"));
    }
}

TEST(parse_endpoint_settings_create, refuses_signature_headers_as_custom_headers) {
    for (std::string name :
         {"X-Webhook-Signature", "x-webhook-signature", "webhook-signature", "webhook-id", "webhook-timestamp",
          "X-Webhook-Id", "X-Webhook-Event", "X-Webhook-Timestamp", "X-Webhook-Attempt"}) {
        EXPECT_TRUE(
            failed_with(create(with_url({{"headers", {{name, "x"}}}})), "invalid_field", "\"headers." + name + "\""));
    }
}

TEST(parse_endpoint_settings_create, refuses_the_endpoints_own_signature_header_as_a_custom_header) {
    json body = with_url(
        {{"signature", {{"header", "X-Hub-Signature-256"}}}, {"headers", {{"x-hub-signature-256", "forged"}}}});
    EXPECT_TRUE(failed_with(create(body), "invalid_field", "\"headers.x-hub-signature-256\""));
}

TEST(parse_endpoint_settings_create, refuses_header_values_that_could_split_the_request) {
    for (const std::string& value :
         std::vector<std::string>{"a\r\nX-Injected: 1", "a\nb", "a\rb", std::string("a\0b", 3), "a\x7f"}) {
        EXPECT_TRUE(failed_with(create(with_url({{"headers", {{"X-Tenant", value}}}})), "invalid_field",
                                "\"headers.X-Tenant\""))
            << json(value).dump();
    }
    EXPECT_TRUE(
        failed_with(create(with_url({{"headers", {{"X-Tenant", 5}}}})), "invalid_field", "\"headers.X-Tenant\""));
    EXPECT_TRUE(failed_with(create(with_url({{"headers", {{"X-Tenant", std::string(max_header_value + 1, 'v')}}}})),
                            "invalid_field", "\"headers.X-Tenant\""));
    EXPECT_TRUE(create(with_url({{"headers", {{"X-Tenant", std::string(max_header_value, 'v')}}}})).ok());
}

TEST(parse_endpoint_settings_create, refuses_invalid_header_names) {
    for (std::string name : {"Bad Name", "Bad:Name", "", "X-Ünicode", "a\r\nb"}) {
        EXPECT_TRUE(failed_with(create(with_url({{"headers", {{name, "x"}}}})), "invalid_field",
                                "not a valid HTTP header name"))
            << json(name).dump();
    }
}

TEST(parse_endpoint_settings_create, headers_must_be_an_object_of_at_most_32) {
    EXPECT_TRUE(failed_with(create(with_url({{"headers", json::array({"a"})}})), "invalid_field",
                            "\"headers\" must be an object"));
    json many = json::object();
    for (std::size_t i = 0; i < max_custom_headers; ++i) many["X-H" + std::to_string(i)] = "v";
    EXPECT_TRUE(create(with_url({{"headers", many}})).ok());
    many["X-One-More"] = "v";
    EXPECT_TRUE(failed_with(create(with_url({{"headers", many}})), "invalid_field", "more than 32"));
}

TEST(parse_endpoint_settings_create, keeps_valid_custom_headers) {
    json headers = {{"Authorization", "Bearer t0k3n"}, {"X-Tenant", "acme corp\tEU"}, {"X-Empty", ""}};
    auto r = create(with_url({{"headers", headers}}));
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(json::parse(*r->headers_json), headers);
}

TEST(parse_endpoint_settings_create, signature_format_is_hex_sha256_or_stripe) {
    for (std::string f : {"hex", "sha256", "stripe"}) {
        auto r = create(with_url({{"signature", {{"format", f}}}}));
        ASSERT_TRUE(r.ok()) << f << ": " << r.err().message;
        EXPECT_EQ(r->signature_format, f);
        EXPECT_EQ(r->signature_header, "X-Webhook-Signature");  // default still filled in
    }
    for (json f : {json("HEX"), json("sha1"), json(""), json(1), json(nullptr)}) {
        EXPECT_TRUE(failed_with(create(with_url({{"signature", {{"format", f}}}})), "invalid_field",
                                "\"signature.format\" must be \"hex\", \"sha256\" or \"stripe\""))
            << f.dump();
    }
}

TEST(parse_endpoint_settings_create, signature_must_be_an_object) {
    EXPECT_TRUE(
        failed_with(create(with_url({{"signature", "hex"}})), "invalid_field", "\"signature\" must be an object"));
}

TEST(parse_endpoint_settings_create, signature_header_cannot_be_reserved) {
    for (std::string name : {"Content-Length", "Host", "webhook-signature", "Webhook-Id", "X-Webhook-Timestamp",
                             "X-Webhook-Id", "connection"}) {
        EXPECT_TRUE(failed_with(create(with_url({{"signature", {{"header", name}}}})), "invalid_field",
                                "\"signature.header\""));
        EXPECT_TRUE(failed_with(create(with_url({{"signature", {{"header", name}}}})), "invalid_field", name));
    }
    EXPECT_TRUE(failed_with(create(with_url({{"signature", {{"header", "Bad Header"}}}})), "invalid_field",
                            "\"signature.header\" must be an HTTP header name"));
    EXPECT_TRUE(
        failed_with(create(with_url({{"signature", {{"header", 1}}}})), "invalid_field", "\"signature.header\""));

    auto r = create(with_url({{"signature", {{"header", "X-Hub-Signature-256"}}}}));
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(r->signature_header, "X-Hub-Signature-256");
    EXPECT_EQ(r->signature_format, "hex");
    // The default name, given explicitly as docs/api.md documents it, is accepted.
    auto d = create(with_url({{"signature", {{"format", "hex"}, {"header", "X-Webhook-Signature"}}}}));
    ASSERT_TRUE(d.ok()) << d.err().message;
    EXPECT_EQ(d->signature_header, "X-Webhook-Signature");
}

TEST(parse_endpoint_settings_create, rejects_an_unknown_field_inside_signature) {
    EXPECT_TRUE(failed_with(create(with_url({{"signature", {{"format", "hex"}, {"x", 1}}}})), "invalid_field",
                            "unknown field \"signature.x\""));
}

TEST(parse_endpoint_settings_create, returns_a_valid_operator_secret) {
    std::optional<std::string> secret;
    auto r = create(with_url({{"secret", valid_secret}}), &secret);
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(secret, std::string(valid_secret));

    // Without a secret in the body, secret_out is left alone.
    std::optional<std::string> none;
    ASSERT_TRUE(create(with_url(json::object()), &none).ok());
    EXPECT_FALSE(none.has_value());

    // A null secret_out is allowed.
    EXPECT_TRUE(create(with_url({{"secret", valid_secret}}), nullptr).ok());
}

TEST(parse_endpoint_settings_create, rejects_an_invalid_operator_secret) {
    const std::string short_secret = "whsec_" + base64_encode(std::string(23, 'k'));
    for (json bad : {json("hunter2"), json("whsec_"), json(short_secret), json(std::string(valid_secret) + "="),
                     json(std::string(valid_secret.substr(6))), json(12345), json(nullptr)}) {
        std::optional<std::string> secret;
        EXPECT_TRUE(
            failed_with(create(with_url({{"secret", bad}}), &secret), "invalid_field", "\"secret\" must be \"whsec_\""))
            << bad.dump();
        EXPECT_FALSE(secret.has_value()) << bad.dump();
    }
}

TEST(parse_endpoint_settings_create, error_messages_do_not_echo_a_rejected_secret) {
    const std::string almost = "whsec_" + base64_encode(std::string(23, 'k'));
    auto r = create(with_url({{"secret", almost}}));
    ASSERT_FALSE(r.ok());
    EXPECT_FALSE(contains(r.err().message, almost.substr(6))) << r.err().message;
}

// ---- parse_endpoint_settings: patch ------------------------------------------------------

TEST(parse_endpoint_settings_patch, requires_nothing_and_sets_nothing_by_default) {
    auto r = patch(json::object());
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_FALSE(r->url);
    EXPECT_FALSE(r->description);
    EXPECT_FALSE(r->patterns_json);
    EXPECT_FALSE(r->signature_format);
    EXPECT_FALSE(r->signature_header);
    EXPECT_FALSE(r->headers_json);
    EXPECT_FALSE(r->body_mode);
    EXPECT_FALSE(r->enabled);
}

TEST(parse_endpoint_settings_patch, sets_only_the_given_fields) {
    auto r = patch({{"enabled", false}, {"events", {"a.*"}}});
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(r->enabled, std::optional<bool>(false));
    EXPECT_EQ(r->patterns_json, "[\"a.*\"]");
    EXPECT_FALSE(r->url);
    EXPECT_FALSE(r->description);
    EXPECT_FALSE(r->signature_format);
    EXPECT_FALSE(r->signature_header);
    EXPECT_FALSE(r->headers_json);
    EXPECT_FALSE(r->body_mode);

    auto sig = patch({{"signature", {{"format", "sha256"}}}});
    ASSERT_TRUE(sig.ok()) << sig.err().message;
    EXPECT_EQ(sig->signature_format, "sha256");
    EXPECT_FALSE(sig->signature_header);  // no default in a patch

    auto url = patch({{"url", "https://example.net/new"}});
    ASSERT_TRUE(url.ok());
    EXPECT_EQ(url->url, "https://example.net/new");
    EXPECT_FALSE(url->enabled);
}

TEST(parse_endpoint_settings_patch, validates_what_is_given) {
    EXPECT_TRUE(failed_with(patch({{"url", "ftp://example.com/"}}), "invalid_field", "scheme must be http or https"));
    EXPECT_TRUE(failed_with(patch({{"events", {"ok", "not ok"}}}), "invalid_field", "events[1]"));
    EXPECT_TRUE(failed_with(patch({{"headers", {{"Host", "evil"}}}}), "invalid_field", "\"headers.Host\""));
    EXPECT_TRUE(failed_with(patch({{"colour", "red"}}), "invalid_field", "unknown field \"colour\""));
    EXPECT_TRUE(failed_with(patch({{"signature", {{"y", 1}}}}), "invalid_field", "unknown field \"signature.y\""));
}

TEST(parse_endpoint_settings_patch, refuses_the_secret_pointing_to_rotate_secret) {
    EXPECT_TRUE(failed_with(patch({{"secret", valid_secret}}), "invalid_field", "rotate-secret"));
    EXPECT_TRUE(failed_with(patch({{"secret", valid_secret}}), "invalid_field", "\"secret\" cannot be patched"));
    // Also next to other, valid or unknown, fields.
    EXPECT_TRUE(failed_with(patch({{"enabled", true}, {"secret", valid_secret}}), "invalid_field", "rotate-secret"));
    EXPECT_TRUE(failed_with(patch({{"aaa", 1}, {"secret", valid_secret}}), "invalid_field", "rotate-secret"));
}

}  // namespace
}  // namespace webhookd::admin
