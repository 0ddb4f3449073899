#include <gtest/gtest.h>

#include <chrono>

#include "util/time_format.hpp"

namespace webhookd {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::system_clock;

clock_type::time_point at_seconds(long long s) { return clock_type::time_point{std::chrono::seconds(s)}; }

TEST(format_rfc3339, formats_known_instants) {
    EXPECT_EQ(format_rfc3339(at_seconds(0)), "1970-01-01T00:00:00Z");
    EXPECT_EQ(format_rfc3339(at_seconds(1745073000)), "2025-04-19T14:30:00Z");
    EXPECT_EQ(format_rfc3339(at_seconds(1709164800)), "2024-02-29T00:00:00Z");  // leap day
    EXPECT_EQ(format_rfc3339(at_seconds(1735689599)), "2024-12-31T23:59:59Z");
}

TEST(format_rfc3339, truncates_sub_seconds) {
    EXPECT_EQ(format_rfc3339(at_seconds(1745073000) + 999ms), "2025-04-19T14:30:00Z");
}

TEST(format_rfc3339, output_is_accepted_by_is_rfc3339) {
    EXPECT_TRUE(is_rfc3339(format_rfc3339(at_seconds(1745073000))));
}

TEST(is_rfc3339, accepts_utc_and_lowercase_separators) {
    EXPECT_TRUE(is_rfc3339("2025-04-19T14:30:00Z"));
    EXPECT_TRUE(is_rfc3339("2025-04-19t14:30:00z"));
    EXPECT_TRUE(is_rfc3339("0000-01-01T00:00:00Z"));
}

TEST(is_rfc3339, accepts_fractions_and_offsets) {
    EXPECT_TRUE(is_rfc3339("2025-04-19T14:30:00.1Z"));
    EXPECT_TRUE(is_rfc3339("2025-04-19T14:30:00.123456789Z"));
    EXPECT_TRUE(is_rfc3339("2025-04-19T14:30:00+02:00"));
    EXPECT_TRUE(is_rfc3339("2025-04-19T14:30:00-05:30"));
    EXPECT_TRUE(is_rfc3339("2025-04-19T14:30:00.123+02:00"));
    EXPECT_TRUE(is_rfc3339("2025-04-19T14:30:00+23:59"));
}

TEST(is_rfc3339, accepts_leap_day_and_leap_second) {
    EXPECT_TRUE(is_rfc3339("2024-02-29T00:00:00Z"));
    EXPECT_TRUE(is_rfc3339("2000-02-29T00:00:00Z"));
    EXPECT_TRUE(is_rfc3339("2016-12-31T23:59:60Z"));
}

TEST(is_rfc3339, rejects_impossible_dates) {
    for (const char* t : {"2025-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2024-02-30T00:00:00Z",
                          "2025-04-31T00:00:00Z", "2025-00-10T00:00:00Z", "2025-13-01T00:00:00Z",
                          "2025-01-00T00:00:00Z", "2025-01-32T00:00:00Z"}) {
        EXPECT_FALSE(is_rfc3339(t)) << t;
    }
}

TEST(is_rfc3339, rejects_impossible_times) {
    for (const char* t : {"2025-04-19T24:00:00Z", "2025-04-19T23:60:00Z", "2025-04-19T23:59:61Z"}) {
        EXPECT_FALSE(is_rfc3339(t)) << t;
    }
}

TEST(is_rfc3339, rejects_missing_zone_and_trailing_junk) {
    for (const char* t : {"2025-04-19T14:30:00", "2025-04-19T14:30:00.123", "2025-04-19T14:30:00Zx",
                          "2025-04-19T14:30:00Z ", "2025-04-19T14:30:00+02:00x", "2025-04-19T14:30:00+0200",
                          "2025-04-19T14:30:00.Z", "2025-04-19T14:30:00 Z"}) {
        EXPECT_FALSE(is_rfc3339(t)) << t;
    }
}

TEST(is_rfc3339, rejects_short_strings_and_wrong_separators) {
    for (const char* t : {"", "2025", "2025-04-19", "2025-04-19T14:30Z", "2025-04-19 14:30:00Z",
                          "2025/04/19T14:30:00Z", "2025-04-19T14-30-00Z", "25-04-19T14:30:00Z",
                          "2025-4-19T14:30:00Z", "2025-04-19T14:30:0Z"}) {
        EXPECT_FALSE(is_rfc3339(t)) << t;
    }
}

TEST(is_rfc3339, rejects_malformed_offsets) {
    for (const char* t : {"2025-04-19T14:30:00+2:00", "2025-04-19T14:30:00+02:0", "2025-04-19T14:30:00+02",
                          "2025-04-19T14:30:00+24:00", "2025-04-19T14:30:00+02:60", "2025-04-19T14:30:00+",
                          "2025-04-19T14:30:00*02:00"}) {
        EXPECT_FALSE(is_rfc3339(t)) << t;
    }
}

}  // namespace
}  // namespace webhookd
