#include <gtest/gtest.h>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "delivery/signer.hpp"

namespace webhookd {
namespace {

using namespace std::string_literals;

// The Standard Webhooks reference vector (standard-webhooks spec and Svix libraries).
constexpr std::string_view sw_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view sw_msg_id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::int64_t sw_timestamp = 1614265330;
constexpr std::string_view sw_body = R"({"test": 2432232314})";
constexpr std::string_view sw_signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

// An envelope as docs/api.md describes it.
constexpr std::string_view envelope =
    R"({"id":"evt_1234567890","timestamp":"2025-04-19T14:30:00Z","event":"booking.created","data":{"id":"bkg_987654321"}})";

// ---- hmac_sha256 / to_hex ----------------------------------------------------------------

TEST(hmac_sha256, rfc4231_test_case_2) {
    auto mac = hmac_sha256("Jefe", "what do ya want for nothing?");
    ASSERT_EQ(mac.size(), 32u);
    EXPECT_EQ(to_hex(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(hmac_sha256, empty_key_and_message) {
    // python3 -c "import hmac,hashlib; print(hmac.new(b'', b'', hashlib.sha256).hexdigest())"
    EXPECT_EQ(to_hex(hmac_sha256("", "")), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(hmac_sha256, key_and_message_may_hold_nul_bytes) {
    EXPECT_NE(hmac_sha256("k\0a"s, "m"), hmac_sha256("k\0b"s, "m"));
    EXPECT_NE(hmac_sha256("k", "m\0a"s), hmac_sha256("k", "m\0b"s));
}

// The HMAC contexts kept per thread never sign a call with the key of the one before (an
// empty key included), and parts sign as their concatenation.
TEST(hmac_sha256, each_call_uses_its_own_key_and_parts_sign_as_their_concatenation) {
    const auto jefe = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    EXPECT_EQ(to_hex(hmac_sha256("another key", "x")).size(), 64u);
    EXPECT_EQ(to_hex(hmac_sha256("Jefe", {"what do ya ", "want for", "", " nothing?"})), jefe);
    EXPECT_EQ(to_hex(hmac_sha256("", "")), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")), jefe);
    std::string other;
    std::thread([&] { other = to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")); }).join();
    EXPECT_EQ(other, jefe);
}

// The same key again reuses a context's padded key states (a delivery's signatures, the
// next delivery to the same endpoint): the second and later calls still sign right, with a long key (over SHA-256's
// 64-byte block, hashed first), an empty one, and a key that differs only after a NUL.
TEST(hmac_sha256, the_same_key_again_signs_as_a_fresh_context_would) {
    // RFC 4231 test case 6: a 131-byte key.
    const std::string long_key(131, '\xaa');
    const auto case6 = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(to_hex(hmac_sha256(long_key, "Test Using Larger Than Block-Size Key - Hash Key First")), case6);
    }
    for (int i = 0; i < 2; ++i) {
        EXPECT_EQ(to_hex(hmac_sha256("", "")), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    }
    auto a = hmac_sha256("k\0a"s, "m");
    auto b = hmac_sha256("k\0b"s, "m");
    EXPECT_NE(a, b);
    EXPECT_EQ(hmac_sha256("k\0a"s, "m"), a);
    EXPECT_EQ(hmac_sha256("k\0b"s, "m"), b);
    EXPECT_EQ(hmac_sha256("k\0b"s, {"", "m"}), b);
    // Three keys in turn, more than the contexts kept: each still signs with its own.
    auto c = hmac_sha256("k\0c"s, "m");
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(hmac_sha256("k\0a"s, "m"), a);
        EXPECT_EQ(hmac_sha256("k\0b"s, "m"), b);
        EXPECT_EQ(hmac_sha256("k\0c"s, "m"), c);
    }
    EXPECT_EQ(to_hex(hmac_sha256(long_key, "Test Using Larger Than Block-Size Key - Hash Key First")), case6);
}

TEST(to_hex, lowercase_two_digits_per_byte) {
    EXPECT_EQ(to_hex(""), "");
    EXPECT_EQ(to_hex("\x00\x01\x7f\x80\xab\xff"s), "00017f80abff");
}

// ---- base64 ------------------------------------------------------------------------------

TEST(base64, rfc4648_vectors) {
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
    EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64_decode("Zm9vYmE="), "fooba");
    EXPECT_EQ(base64_decode("Zm9vYg=="), "foob");
    EXPECT_EQ(base64_decode(""), "");
}

TEST(base64, uses_the_standard_alphabet) {
    EXPECT_EQ(base64_encode("\xfb\xff\xbf"s), "+/+/");
    EXPECT_EQ(base64_decode("+/+/"), "\xfb\xff\xbf"s);
}

TEST(base64, round_trips_every_byte_value_and_length) {
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    for (std::size_t len = 0; len <= all.size(); ++len) {
        auto bytes = all.substr(all.size() - len);
        auto decoded = base64_decode(base64_encode(bytes));
        ASSERT_TRUE(decoded.has_value()) << len;
        EXPECT_EQ(*decoded, bytes) << len;
    }
}

TEST(base64, rejects_malformed_text) {
    EXPECT_FALSE(base64_decode("Zm9"));         // not a multiple of 4
    EXPECT_FALSE(base64_decode("Zm9vYg"));      // padding missing
    EXPECT_FALSE(base64_decode("Zg="));         // short padding
    EXPECT_FALSE(base64_decode("Z==="));        // three '='
    EXPECT_FALSE(base64_decode("===="));        // padding only
    EXPECT_FALSE(base64_decode("Zg==Zm8="));    // '=' in the middle
    EXPECT_FALSE(base64_decode("Zm=v"));        // '=' inside a group
    EXPECT_FALSE(base64_decode("Zm9v\n"));      // whitespace
    EXPECT_FALSE(base64_decode("Zm 9v"));       // space
    EXPECT_FALSE(base64_decode("-_-_"));        // URL-safe alphabet
    EXPECT_FALSE(base64_decode("Zm9v\0Zm9"s));  // NUL
}

TEST(base64, rejects_non_canonical_trailing_bits) {
    EXPECT_EQ(base64_decode("Zg=="), "f");
    EXPECT_FALSE(base64_decode("Zh=="));  // 'h' leaves a 1 in the unused bits
    EXPECT_EQ(base64_decode("Zm8="), "fo");
    EXPECT_FALSE(base64_decode("Zm9="));
}

// ---- constant_time_equal -----------------------------------------------------------------

TEST(constant_time_equal, compares_contents_and_length) {
    EXPECT_TRUE(constant_time_equal("", ""));
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("abc", "xbc"));
    EXPECT_FALSE(constant_time_equal("abc", "abcd"));
    EXPECT_FALSE(constant_time_equal("abc", ""));
    EXPECT_TRUE(constant_time_equal("a\0b"s, "a\0b"s));
    EXPECT_FALSE(constant_time_equal("a\0b"s, "a\0c"s));
}

// ---- signature_format --------------------------------------------------------------------

TEST(signature_format, parses_and_prints_each_format) {
    for (auto f : {signature_format::hex, signature_format::sha256, signature_format::stripe}) {
        EXPECT_EQ(parse_signature_format(to_string(f)), f);
    }
    EXPECT_EQ(to_string(signature_format::hex), "hex");
    EXPECT_EQ(to_string(signature_format::sha256), "sha256");
    EXPECT_EQ(to_string(signature_format::stripe), "stripe");
}

TEST(signature_format, rejects_unknown_names) {
    EXPECT_FALSE(parse_signature_format(""));
    EXPECT_FALSE(parse_signature_format("HEX"));
    EXPECT_FALSE(parse_signature_format("sha1"));
    EXPECT_FALSE(parse_signature_format("stripe "));
    EXPECT_FALSE(parse_signature_format("standard"));
}

// ---- signature_header_value --------------------------------------------------------------

TEST(signature_header_value, hex_matches_a_platforms_documented_verifiers) {
    // python3 -c 'import hmac,hashlib; print(hmac.new(b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    //   <envelope bytes>, hashlib.sha256).hexdigest())'; Node's createHmac(...).digest("hex") agrees.
    EXPECT_EQ(signature_header_value(signature_format::hex, sw_secret, envelope, 1745073000),
              "4c4dcd4fe88697c453c086e26fd2d4f6e5823e127616df14114db23c74087285");
}

TEST(signature_header_value, hex_of_a_utf8_body_matches_node_and_python) {
    // Node's update(string) hashes the UTF-8 bytes, as Python's secret.encode() and payload do:
    // python3 -c 'import hmac,hashlib; print(hmac.new(b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    //   "{\"name\":\"Zoë ✓\"}".encode(), hashlib.sha256).hexdigest())'
    EXPECT_EQ(signature_header_value(signature_format::hex, sw_secret, "{\"name\":\"Zo\xc3\xab \xe2\x9c\x93\"}", 0),
              "8180d9e4ed6bfe0afc0d9cc1341e732829d183ac816b1c3832f71e0ed36a9a18");
}

TEST(signature_header_value, hex_ignores_the_timestamp) {
    EXPECT_EQ(signature_header_value(signature_format::hex, sw_secret, envelope, 1),
              signature_header_value(signature_format::hex, sw_secret, envelope, 2));
}

TEST(signature_header_value, sha256_matches_githubs_documented_vector) {
    EXPECT_EQ(signature_header_value(signature_format::sha256, "It's a Secret to Everybody", "Hello, World!", 0),
              "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
}

TEST(signature_header_value, stripe_signs_timestamp_dot_body) {
    // printf '%s' '1745073000.<envelope>' | openssl dgst -sha256 -hmac whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw
    EXPECT_EQ(signature_header_value(signature_format::stripe, sw_secret, envelope, 1745073000),
              "t=1745073000,v1=dd918d6624ef8dd06dc972a67f1916d3ce970137162881d07bbf84be1d1f3fd9");
}

TEST(signature_header_value, stripe_carries_one_v1_per_valid_secret_newest_first_during_a_rotation) {
    const std::string older = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const std::vector<std::string> both = {std::string(sw_secret), older};
    auto header = signature_header_value(signature_format::stripe, both, envelope, 1745073000);
    EXPECT_EQ(header, signature_header_value(signature_format::stripe, sw_secret, envelope, 1745073000) + ",v1=" +
                          signature_header_value(signature_format::stripe, older, envelope, 1745073000).substr(16));
    EXPECT_EQ(header.rfind("t=1745073000,v1=dd918d6624ef8dd06dc972a67f1916d3ce970137162881d07bbf84be1d1f3fd9,v1=", 0), 0u);
    // The single-valued formats sign with the newest only.
    EXPECT_EQ(signature_header_value(signature_format::hex, both, envelope, 0),
              signature_header_value(signature_format::hex, sw_secret, envelope, 0));
}

TEST(signature_header_value, stripe_depends_on_the_timestamp) {
    auto a = signature_header_value(signature_format::stripe, sw_secret, envelope, 1745073000);
    auto b = signature_header_value(signature_format::stripe, sw_secret, envelope, 1745073001);
    EXPECT_NE(a.substr(a.find(",v1=")), b.substr(b.find(",v1=")));
}

TEST(signature_header_value, key_is_the_whole_secret_string_prefix_included) {
    const std::string without_prefix{sw_secret.substr(6)};
    EXPECT_NE(signature_header_value(signature_format::hex, sw_secret, envelope, 0),
              signature_header_value(signature_format::hex, without_prefix, envelope, 0));
    EXPECT_EQ(signature_header_value(signature_format::hex, sw_secret, envelope, 0),
              to_hex(hmac_sha256(sw_secret, envelope)));
}

// ---- Standard Webhooks -------------------------------------------------------------------

TEST(standard_webhooks, reference_vector) {
    auto key = standard_webhooks_key(sw_secret);
    ASSERT_TRUE(key.has_value());
    EXPECT_EQ(key->size(), 24u);
    EXPECT_EQ(standard_webhooks_signature(*key, sw_msg_id, sw_timestamp, sw_body), sw_signature);
}

TEST(standard_webhooks, key_needs_the_prefix_and_valid_base64) {
    EXPECT_FALSE(standard_webhooks_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    EXPECT_FALSE(standard_webhooks_key("WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    EXPECT_FALSE(standard_webhooks_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS"));
    EXPECT_FALSE(standard_webhooks_key("whsec_not base64!"));
    EXPECT_FALSE(standard_webhooks_key("whsec_"));
}

TEST(standard_webhooks, header_has_one_signature_per_valid_secret_newest_first) {
    // The second key is base64("ABCDEFGHIJKLMNOPQRSTUVWX"); expected value from
    // python3 -c 'import hmac,hashlib,base64; print(base64.b64encode(hmac.new(b"ABCDEFGHIJKLMNOPQRSTUVWX",
    //   b"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{\"test\": 2432232314}", hashlib.sha256).digest()))'
    const std::vector<std::string> secrets{"whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", "not-a-whsec-secret",
                                           std::string(sw_secret)};
    EXPECT_EQ(standard_webhooks_header(secrets, sw_msg_id, sw_timestamp, sw_body),
              "v1,D//EZ1ylNadHojpuPe4QgTQtq4+vDo/YDthof5SuAIs= "s + std::string(sw_signature));
}

TEST(standard_webhooks, header_with_one_secret_has_no_separator) {
    const std::vector<std::string> secrets{std::string(sw_secret)};
    EXPECT_EQ(standard_webhooks_header(secrets, sw_msg_id, sw_timestamp, sw_body), sw_signature);
}

TEST(standard_webhooks, header_is_empty_when_no_secret_decodes) {
    const std::vector<std::string> none;
    EXPECT_EQ(standard_webhooks_header(none, sw_msg_id, sw_timestamp, sw_body), "");
    const std::vector<std::string> bad{"whsec_!!!!", "plain"};
    EXPECT_EQ(standard_webhooks_header(bad, sw_msg_id, sw_timestamp, sw_body), "");
}

// ---- Secrets -----------------------------------------------------------------------------

TEST(generate_secret, is_a_valid_whsec_secret_of_24_bytes) {
    auto s = generate_secret();
    EXPECT_EQ(s.size(), 38u);
    EXPECT_TRUE(s.starts_with("whsec_"));
    EXPECT_TRUE(is_valid_secret(s));
    auto key = standard_webhooks_key(s);
    ASSERT_TRUE(key.has_value());
    EXPECT_EQ(key->size(), 24u);
}

TEST(generate_secret, differs_across_calls) {
    std::set<std::string> seen;
    for (int i = 0; i < 100; ++i) seen.insert(generate_secret());
    EXPECT_EQ(seen.size(), 100u);
}

TEST(is_valid_secret, accepts_24_to_64_bytes_of_base64_after_the_prefix) {
    EXPECT_TRUE(is_valid_secret(sw_secret));
    EXPECT_TRUE(is_valid_secret("whsec_" + base64_encode(std::string(24, 'x'))));
    EXPECT_TRUE(is_valid_secret("whsec_" + base64_encode(std::string(64, 'x'))));
    EXPECT_TRUE(is_valid_secret("whsec_" + base64_encode(std::string(25, 'x'))));  // padded
    EXPECT_FALSE(is_valid_secret("whsec_" + base64_encode(std::string(23, 'x'))));
    EXPECT_FALSE(is_valid_secret("whsec_" + base64_encode(std::string(65, 'x'))));
}

TEST(is_valid_secret, rejects_missing_prefix_and_bad_base64) {
    EXPECT_FALSE(is_valid_secret(""));
    EXPECT_FALSE(is_valid_secret("whsec_"));
    EXPECT_FALSE(is_valid_secret(sw_secret.substr(6)));
    EXPECT_FALSE(is_valid_secret("whsec-MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    EXPECT_FALSE(is_valid_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw "));
    EXPECT_FALSE(is_valid_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLa-w"));
}

TEST(mask_secret, shows_the_prefix_and_at_most_four_key_characters) {
    auto masked = mask_secret(sw_secret);
    EXPECT_EQ(masked, "whsec_MfKQ...");
    EXPECT_EQ(masked.find("9r8G"), std::string::npos);  // the 5th..8th key characters
    auto s = generate_secret();
    EXPECT_EQ(mask_secret(s), s.substr(0, 10) + "...");
}

TEST(mask_secret, reveals_nothing_of_strings_that_are_not_valid_secrets) {
    EXPECT_EQ(mask_secret(""), "****");
    EXPECT_EQ(mask_secret("hunter2"), "****");
    EXPECT_EQ(mask_secret("It's a Secret to Everybody"), "****");
    EXPECT_EQ(mask_secret("whsec_abcd"), "****");
}

}  // namespace
}  // namespace webhookd
