#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "util/endpoint_matcher.hpp"

namespace webhookd {
namespace {

TEST(pattern_matches, exact_name_matches_only_itself) {
    EXPECT_TRUE(pattern_matches("booking.created", "booking.created"));
    EXPECT_FALSE(pattern_matches("booking.created", "booking.cancelled"));
    EXPECT_FALSE(pattern_matches("booking.created", "booking.created.v2"));
    EXPECT_FALSE(pattern_matches("booking.created", "booking"));
    EXPECT_FALSE(pattern_matches("booking.created", "Booking.Created"));
}

TEST(pattern_matches, prefix_wildcard_matches_one_or_more_segments_below) {
    EXPECT_TRUE(pattern_matches("booking.*", "booking.created"));
    EXPECT_TRUE(pattern_matches("booking.*", "booking.a.b"));
}

TEST(pattern_matches, prefix_wildcard_needs_the_dot_and_something_after_it) {
    EXPECT_FALSE(pattern_matches("booking.*", "booking"));
    EXPECT_FALSE(pattern_matches("booking.*", "booking."));
    EXPECT_FALSE(pattern_matches("booking.*", "bookings.x"));
    EXPECT_FALSE(pattern_matches("booking.*", "bookingx"));
    EXPECT_FALSE(pattern_matches("booking.*", "payment.booking.created"));
}

TEST(pattern_matches, star_matches_everything) {
    EXPECT_TRUE(pattern_matches("*", "booking.created"));
    EXPECT_TRUE(pattern_matches("*", "x"));
}

TEST(pattern_matches, star_inside_a_name_is_literal) {
    EXPECT_FALSE(pattern_matches("booking*", "booking.created"));
    EXPECT_FALSE(pattern_matches("*.created", "booking.created"));
}

TEST(any_pattern_matches, empty_list_matches_all) {
    std::vector<std::string> none;
    EXPECT_TRUE(any_pattern_matches(none, "booking.created"));
    EXPECT_TRUE(any_pattern_matches(none, "anything"));
}

TEST(any_pattern_matches, matches_when_any_of_several_patterns_does) {
    std::vector<std::string> patterns{"payment.succeeded", "booking.*"};
    EXPECT_TRUE(any_pattern_matches(patterns, "payment.succeeded"));
    EXPECT_TRUE(any_pattern_matches(patterns, "booking.cancelled"));
    EXPECT_FALSE(any_pattern_matches(patterns, "payment.failed"));
    EXPECT_FALSE(any_pattern_matches(patterns, "booking"));
}

TEST(any_pattern_matches, star_among_others_matches_all) {
    std::vector<std::string> patterns{"booking.created", "*"};
    EXPECT_TRUE(any_pattern_matches(patterns, "user.deleted"));
}

TEST(is_valid_pattern, accepts_star_exact_names_and_prefix_wildcards) {
    for (const char* p : {"*", "a.*", "a.b", "booking.created", "booking.*", "a:b-c_d.*", "a..*"}) {
        EXPECT_TRUE(is_valid_pattern(p)) << p;
    }
}

TEST(is_valid_pattern, rejects_empty_and_misplaced_stars) {
    for (const char* p : {"", "a*", "*.a", ".*", "**", "a.*.*", "a.**", "*a", "a.b*", "a b", "a/b"}) {
        EXPECT_FALSE(is_valid_pattern(p)) << p;
    }
}

TEST(is_valid_pattern, limits_the_name_part_to_128_characters) {
    EXPECT_TRUE(is_valid_pattern(std::string(128, 'a')));
    EXPECT_FALSE(is_valid_pattern(std::string(129, 'a')));
    EXPECT_TRUE(is_valid_pattern(std::string(128, 'a') + ".*"));
}

// The patterns the admin API accepts in an endpoint's "events".
TEST(is_valid_pattern, accepts_names_prefix_patterns_and_star) {
    for (std::string_view p : {"a.b", "a.*", "*", "booking.created", "booking.*", "a", "a.b.c.*", "v1:x-y_z.*"}) {
        EXPECT_TRUE(is_valid_pattern(p)) << p;
    }
}

TEST(is_valid_pattern, rejects_empty_misplaced_stars_and_bad_characters) {
    for (std::string_view p :
         {"", "a*", "*.b", "a.**", "a b", ".*", "**", "*.*", "a.*.b", "a.b*", "a/b", "é", "a.*\n"}) {
        EXPECT_FALSE(is_valid_pattern(p)) << "\"" << p << "\"";
    }
}


}  // namespace
}  // namespace webhookd
