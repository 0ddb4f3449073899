// Endpoint secrets: generate_secret and mask_secret over many secrets and near-miss strings.
// signer_test.cpp already checks one generated secret's form (whsec_, 38 characters, valid,
// 24 key bytes), that 100 in a row differ, the mask of the reference secret and of a few
// plain strings; this file checks the properties for every secret of a batch and the
// strings that are almost secrets.

#include <gtest/gtest.h>

#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/signer.hpp"

namespace webhookd {
namespace {

constexpr std::string_view prefix = "whsec_";
constexpr std::size_t batch = 100;

bool is_standard_base64_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

std::vector<std::string> generate_batch() {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < batch; ++i) out.push_back(generate_secret());
    return out;
}

TEST(generate_secret, every_secret_of_a_batch_is_whsec_38_valid_and_unique) {
    auto secrets = generate_batch();
    std::set<std::string> distinct(secrets.begin(), secrets.end());
    EXPECT_EQ(distinct.size(), batch);
    for (const auto& s : secrets) {
        EXPECT_TRUE(s.starts_with(prefix)) << s;
        EXPECT_EQ(s.size(), 38u) << s;
        EXPECT_TRUE(is_valid_secret(s)) << s;
        auto key = standard_webhooks_key(s);
        ASSERT_TRUE(key.has_value()) << s;
        EXPECT_EQ(key->size(), 24u) << s;
    }
}

TEST(generate_secret, key_part_is_unpadded_standard_base64) {
    for (const auto& s : generate_batch()) {
        const std::string_view key = std::string_view(s).substr(prefix.size());
        EXPECT_EQ(key.size(), 32u) << s;
        for (char c : key) EXPECT_TRUE(is_standard_base64_char(c)) << "'" << c << "' in " << s;
        EXPECT_EQ(base64_encode(*base64_decode(key)), key) << s;
    }
}

TEST(generate_secret, key_parts_share_no_long_common_prefix) {
    // 100 secrets with random 24-byte keys: no two begin with the same 8 key characters
    // (48 bits) unless the RNG is broken.
    std::set<std::string> heads;
    for (const auto& s : generate_batch()) heads.insert(s.substr(prefix.size(), 8));
    EXPECT_EQ(heads.size(), batch);
}

TEST(mask_secret, shows_only_the_prefix_and_four_key_characters_of_each_generated_secret) {
    for (const auto& s : generate_batch()) {
        const auto masked = mask_secret(s);
        EXPECT_EQ(masked, s.substr(0, 10) + "...") << s;
        EXPECT_EQ(masked.size(), 13u);
        EXPECT_TRUE(masked.starts_with(prefix));
        EXPECT_TRUE(masked.ends_with("..."));
        // Nothing past the 4th key character: not the rest, nor any 5 characters of it.
        const std::string rest = s.substr(10);
        for (std::size_t i = 0; i + 5 <= rest.size(); ++i) {
            EXPECT_EQ(masked.find(rest.substr(i, 5)), std::string::npos) << s;
        }
        EXPECT_EQ(masked.find(rest), std::string::npos) << s;
        EXPECT_EQ(masked.find(s), std::string::npos) << s;
    }
}

TEST(mask_secret, masks_a_long_valid_secret_to_the_same_width) {
    const std::string s64 = std::string(prefix) + base64_encode(std::string(64, '\x5a'));  // 88 chars, padded
    ASSERT_TRUE(is_valid_secret(s64));
    EXPECT_EQ(mask_secret(s64), s64.substr(0, 10) + "...");
    EXPECT_EQ(mask_secret(s64).find(s64.substr(10)), std::string::npos);

    const std::string s25 = std::string(prefix) + base64_encode(std::string(25, 'k'));
    ASSERT_TRUE(is_valid_secret(s25));
    EXPECT_EQ(mask_secret(s25), s25.substr(0, 10) + "...");
}

TEST(mask_secret, near_misses_are_fully_masked) {
    const std::string good = generate_secret();
    const std::string key = good.substr(prefix.size());
    std::string url_safe = key;
    for (auto& c : url_safe) {
        if (c == '+') c = '-';
        if (c == '/') c = '_';
    }
    url_safe[0] = '-';  // at least one URL-safe character, whatever the key was
    const std::vector<std::string> near_misses{
        key,                                                              // no prefix
        "WHSEC_" + key,                                                   // prefix in the wrong case
        "whsec-" + key,                                                   // wrong separator
        " " + good,                                                       // leading space
        good + " ",                                                       // trailing space
        good + "=",                                                       // stray padding
        good.substr(0, good.size() - 1),                                  // truncated
        "whsec_" + url_safe,                                              // URL-safe alphabet
        std::string(prefix) + base64_encode(std::string(23, 'k')),        // 23-byte key: too short
        std::string(prefix) + base64_encode(std::string(65, 'k')),        // 65-byte key: too long
        std::string(prefix) + base64_encode(std::string(64, 'k')) + "A",  // bad length
        std::string(prefix),
        "whsec",
        "****",
    };
    for (const auto& s : near_misses) {
        ASSERT_FALSE(is_valid_secret(s)) << s;
        EXPECT_EQ(mask_secret(s), "****") << "\"" << s << "\"";
    }
}

TEST(mask_secret, a_mask_is_not_itself_a_secret) {
    const auto masked = mask_secret(generate_secret());
    EXPECT_FALSE(is_valid_secret(masked));
    EXPECT_EQ(mask_secret(masked), "****");
}

}  // namespace
}  // namespace webhookd
