// parse_rfc3339_ms / format_rfc3339_ms. Which strings are RFC 3339 at all (is_rfc3339, which
// is parse_rfc3339_ms(...).has_value()) is covered in time_format_test.cpp; this file checks
// the values.

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/time_format.hpp"

namespace webhookd {
namespace {

constexpr std::int64_t day_ms = 86'400'000;

TEST(parse_rfc3339_ms, epoch_is_zero) {
    EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:00Z"), std::optional<std::int64_t>(0));
    EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:00.000Z"), std::optional<std::int64_t>(0));
    EXPECT_EQ(parse_rfc3339_ms("1970-01-01t00:00:00z"), std::optional<std::int64_t>(0));
    EXPECT_EQ(parse_rfc3339_ms("1970-01-01T01:00:00+01:00"), std::optional<std::int64_t>(0));
    EXPECT_EQ(parse_rfc3339_ms("1969-12-31T19:00:00-05:00"), std::optional<std::int64_t>(0));
}

TEST(parse_rfc3339_ms, known_instants) {
    EXPECT_EQ(*parse_rfc3339_ms("2025-04-19T14:30:00Z"), 1745073000000);
    EXPECT_EQ(*parse_rfc3339_ms("2026-11-25T09:00:00Z"), 1795597200000);
    EXPECT_EQ(*parse_rfc3339_ms("2000-01-01T00:00:00Z"), 946684800000);
    EXPECT_EQ(*parse_rfc3339_ms("9999-12-31T23:59:59Z"), 253402300799000);
}

TEST(parse_rfc3339_ms, leap_day) {
    EXPECT_EQ(*parse_rfc3339_ms("2024-02-29T00:00:00Z"), 1709164800000);
    EXPECT_EQ(*parse_rfc3339_ms("2024-02-29T12:34:56.789Z"), 1709210096789);
    EXPECT_EQ(*parse_rfc3339_ms("2024-03-01T00:00:00Z") - *parse_rfc3339_ms("2024-02-28T00:00:00Z"), 2 * day_ms);
    EXPECT_EQ(*parse_rfc3339_ms("2023-03-01T00:00:00Z") - *parse_rfc3339_ms("2023-02-28T00:00:00Z"), day_ms);
}

TEST(parse_rfc3339_ms, offsets_name_the_same_instant) {
    const std::int64_t t = *parse_rfc3339_ms("2026-11-25T09:00:00Z");
    EXPECT_EQ(*parse_rfc3339_ms("2026-11-25T10:00:00+01:00"), t);
    EXPECT_EQ(*parse_rfc3339_ms("2026-11-25T04:00:00-05:00"), t);
    EXPECT_EQ(*parse_rfc3339_ms("2026-11-25T03:30:00-05:30"), t);
    EXPECT_EQ(*parse_rfc3339_ms("2026-11-25T14:45:00+05:45"), t);
    EXPECT_EQ(*parse_rfc3339_ms("2026-11-25T09:00:00+00:00"), t);
    EXPECT_EQ(*parse_rfc3339_ms("2026-11-25T09:00:00-00:00"), t);
}

TEST(parse_rfc3339_ms, negative_offset_crosses_midnight_and_year) {
    // 2025-12-31T20:00:00-08:00 is 2026-01-01T04:00:00Z.
    EXPECT_EQ(*parse_rfc3339_ms("2025-12-31T20:00:00-08:00"), *parse_rfc3339_ms("2026-01-01T04:00:00Z"));
    EXPECT_EQ(*parse_rfc3339_ms("2025-12-31T20:00:00.250-08:00"), *parse_rfc3339_ms("2026-01-01T04:00:00.250Z"));
}

TEST(parse_rfc3339_ms, fractions_are_truncated_to_milliseconds) {
    const std::int64_t t = 1745073000000;  // 2025-04-19T14:30:00Z
    EXPECT_EQ(*parse_rfc3339_ms("2025-04-19T14:30:00.1Z"), t + 100);
    EXPECT_EQ(*parse_rfc3339_ms("2025-04-19T14:30:00.12Z"), t + 120);
    EXPECT_EQ(*parse_rfc3339_ms("2025-04-19T14:30:00.123Z"), t + 123);
    EXPECT_EQ(*parse_rfc3339_ms("2025-04-19T14:30:00.1239Z"), t + 123);
    EXPECT_EQ(*parse_rfc3339_ms("2025-04-19T14:30:00.999999999Z"), t + 999);
    EXPECT_EQ(*parse_rfc3339_ms("2025-04-19T14:30:00.000000001Z"), t);
    EXPECT_EQ(*parse_rfc3339_ms("2025-04-19T14:30:00.5+02:00"), t - 2 * 3'600'000 + 500);
}

TEST(parse_rfc3339_ms, before_the_epoch_is_negative) {
    EXPECT_EQ(*parse_rfc3339_ms("1969-12-31T23:59:59Z"), -1000);
    EXPECT_EQ(*parse_rfc3339_ms("1969-12-31T23:59:59.999Z"), -1);
    EXPECT_EQ(*parse_rfc3339_ms("1969-12-31T00:00:00Z"), -day_ms);
}

TEST(parse_rfc3339_ms, leap_second_counts_as_the_next_second) {
    EXPECT_EQ(*parse_rfc3339_ms("2016-12-31T23:59:60Z"), *parse_rfc3339_ms("2017-01-01T00:00:00Z"));
}

TEST(parse_rfc3339_ms, nullopt_for_what_is_not_rfc3339) {
    // Only a few: the grammar is tested through is_rfc3339 in time_format_test.cpp.
    for (std::string_view t :
         {"", "0", "1745073000", "2025-04-19T14:30:00.000", "2025-02-29T00:00:00Z", "2025-04-19T14:30:00+01:00 "}) {
        EXPECT_FALSE(parse_rfc3339_ms(t).has_value()) << "\"" << t << "\"";
    }
}

TEST(format_rfc3339_ms, known_instants) {
    EXPECT_EQ(format_rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(format_rfc3339_ms(1), "1970-01-01T00:00:00.001Z");
    EXPECT_EQ(format_rfc3339_ms(1745073000123), "2025-04-19T14:30:00.123Z");
    EXPECT_EQ(format_rfc3339_ms(1709164800000), "2024-02-29T00:00:00.000Z");  // leap day
    EXPECT_EQ(format_rfc3339_ms(1709210096789), "2024-02-29T12:34:56.789Z");
    EXPECT_EQ(format_rfc3339_ms(1735689599999), "2024-12-31T23:59:59.999Z");
}

TEST(format_rfc3339_ms, before_the_epoch) {
    EXPECT_EQ(format_rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
    EXPECT_EQ(format_rfc3339_ms(-1000), "1969-12-31T23:59:59.000Z");
    EXPECT_EQ(format_rfc3339_ms(-1001), "1969-12-31T23:59:58.999Z");
    EXPECT_EQ(format_rfc3339_ms(-day_ms), "1969-12-31T00:00:00.000Z");
}

TEST(format_rfc3339_ms, years_beyond_four_digits_are_written_whole) {
    EXPECT_EQ(format_rfc3339_ms(253402300799999), "9999-12-31T23:59:59.999Z");
    EXPECT_EQ(format_rfc3339_ms(253402300800000), "10000-01-01T00:00:00.000Z");
    EXPECT_EQ(format_rfc3339_ms(-62167219200001), "-001-12-31T23:59:59.999Z");
}

TEST(format_rfc3339_ms, output_is_rfc3339_of_fixed_width) {
    for (std::int64_t ms :
         {std::int64_t{0}, std::int64_t{-1}, std::int64_t{1745073000123}, std::int64_t{946684800000}}) {
        auto text = format_rfc3339_ms(ms);
        EXPECT_EQ(text.size(), 24u) << text;
        EXPECT_TRUE(is_rfc3339(text)) << text;
    }
}

TEST(rfc3339_ms, round_trips_from_milliseconds) {
    const std::vector<std::int64_t> instants{0,
                                             1,
                                             999,
                                             1000,
                                             -1,
                                             -999,
                                             -1000,
                                             -86'400'001,
                                             1709164800000,  // 2024-02-29
                                             1709251199999,  // 2024-02-29T23:59:59.999Z
                                             1745073000123,
                                             1795597200000,
                                             946684799999,
                                             951782400000,        // 2000-02-29 (leap century)
                                             4102444800000,       // 2100-01-01
                                             -2208988800000,      // 1900-01-01
                                             9'223'372'036'853};  // 2262-04-11, near the ns clock's end
    for (auto ms : instants) {
        auto text = format_rfc3339_ms(ms);
        auto back = parse_rfc3339_ms(text);
        ASSERT_TRUE(back.has_value()) << ms << " -> " << text;
        EXPECT_EQ(*back, ms) << text;
    }
}

TEST(rfc3339_ms, round_trips_from_text) {
    for (std::string_view text : {"1970-01-01T00:00:00.000Z", "2024-02-29T12:34:56.789Z", "1999-12-31T23:59:59.999Z",
                                  "2026-11-25T09:00:00.001Z", "1900-03-01T00:00:00.000Z"}) {
        auto ms = parse_rfc3339_ms(text);
        ASSERT_TRUE(ms.has_value()) << text;
        EXPECT_EQ(format_rfc3339_ms(*ms), text);
    }
}

TEST(rfc3339_ms, offsets_and_long_fractions_normalise_to_utc_milliseconds) {
    EXPECT_EQ(format_rfc3339_ms(*parse_rfc3339_ms("2026-11-25T10:00:00+01:00")), "2026-11-25T09:00:00.000Z");
    EXPECT_EQ(format_rfc3339_ms(*parse_rfc3339_ms("2025-12-31T20:00:00.5-08:00")), "2026-01-01T04:00:00.500Z");
    EXPECT_EQ(format_rfc3339_ms(*parse_rfc3339_ms("2024-02-29T23:30:00.123456-00:45")), "2024-03-01T00:15:00.123Z");
}

// Every instant parse_rfc3339_ms accepts (years 0000-9999) formats back: nothing goes
// through system_clock's nanoseconds, which end in 2262.
TEST(rfc3339_ms, round_trips_the_whole_rfc3339_range) {
    for (std::string_view text : {"9999-12-31T23:59:59.999Z", "2300-01-01T00:00:00.000Z", "1600-01-01T00:00:00.000Z",
                                  "0000-01-01T00:00:00.000Z"}) {
        auto ms = parse_rfc3339_ms(text);
        ASSERT_TRUE(ms.has_value()) << text;
        EXPECT_EQ(format_rfc3339_ms(*ms), text);
    }
}

}  // namespace
}  // namespace webhookd
