#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "util/ids.hpp"

namespace webhookd {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::system_clock;

constexpr std::string_view crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// 2025-04-19T14:30:00Z plus 123 ms.
const clock_type::time_point t0 = clock_type::time_point{1745073000123ms};

std::uint64_t decode_time(std::string_view ulid) {
    std::uint64_t ms = 0;
    for (char c : ulid.substr(0, 10)) ms = ms * 32 + crockford.find(c);
    return ms;
}

TEST(make_ulid, is_26_chars_of_crockford_base32) {
    auto id = make_ulid(t0);
    ASSERT_EQ(id.size(), 26u);
    for (char c : id) EXPECT_NE(crockford.find(c), std::string_view::npos) << id;
}

TEST(make_ulid, time_part_decodes_back_to_the_milliseconds) {
    EXPECT_EQ(decode_time(make_ulid(t0)), 1745073000123u);
    EXPECT_EQ(decode_time(make_ulid(clock_type::time_point{})), 0u);
    EXPECT_EQ(make_ulid(clock_type::time_point{}).substr(0, 10), "0000000000");
}

TEST(make_ulid, same_millisecond_shares_the_time_part) {
    EXPECT_EQ(make_ulid(t0).substr(0, 10), make_ulid(t0 + 999us).substr(0, 10));
}

TEST(make_ulid, sorts_by_time_as_strings) {
    std::string prev = make_ulid(t0);
    for (std::chrono::milliseconds later : {1ms, 2ms, 31ms, 32ms, 1000ms, 1024ms, 86'400'000ms}) {
        auto next = make_ulid(t0 + later);
        EXPECT_LT(prev, next) << later.count();
        prev = next;
    }
}

TEST(make_ulid, ten_thousand_ids_are_unique) {
    std::set<std::string> seen;
    for (int i = 0; i < 10'000; ++i) seen.insert(make_ulid(t0));
    EXPECT_EQ(seen.size(), 10'000u);
}

TEST(new_id, is_prefix_underscore_ulid) {
    auto id = new_id("evt", t0);
    ASSERT_EQ(id.size(), 4u + 26u);
    EXPECT_EQ(id.substr(0, 4), "evt_");
    EXPECT_EQ(decode_time(std::string_view(id).substr(4)), 1745073000123u);
    EXPECT_EQ(new_id("ep", t0).substr(0, 3), "ep_");
    EXPECT_NE(new_id("evt", t0), new_id("evt", t0));
}

TEST(is_valid_token, bounds_on_length) {
    EXPECT_FALSE(is_valid_token("", 10));
    EXPECT_TRUE(is_valid_token("a", 10));
    EXPECT_TRUE(is_valid_token(std::string(10, 'a'), 10));
    EXPECT_FALSE(is_valid_token(std::string(11, 'a'), 10));
    EXPECT_TRUE(is_valid_token(std::string(255, 'x'), 255));
    EXPECT_FALSE(is_valid_token(std::string(256, 'x'), 255));
}

TEST(is_valid_token, accepts_letters_digits_and_allowed_punctuation) {
    EXPECT_TRUE(is_valid_token("abcxyzABCXYZ0189", 64));
    for (const char* t : {"_", ".", ":", "-", "a_b", "a.b", "a:b", "a-b", "-_.:"}) {
        EXPECT_TRUE(is_valid_token(t, 64)) << t;
    }
}

TEST(is_valid_token, rejects_other_characters) {
    for (const char* t : {"a b", " a", "a ", "a/b", "a*", "a+b", "a@b", "a#b", "a?b", "a\tb", "a\"b", "a,b",
                          "\xC3\xA9", "caf\xC3\xA9", "a\x7F"}) {
        EXPECT_FALSE(is_valid_token(t, 64)) << t;
    }
    EXPECT_FALSE(is_valid_token(std::string_view("a\0b", 3), 64));
}

}  // namespace
}  // namespace webhookd
