#include <gtest/gtest.h>

#include "webhookd/config.hpp"

namespace webhookd {
namespace {

using namespace std::chrono_literals;

TEST(parse_duration, accepts_every_unit) {
    EXPECT_EQ(parse_duration("3000us"), duration(3));
    EXPECT_EQ(parse_duration("50ms"), 50ms);
    EXPECT_EQ(parse_duration("2s"), 2s);
    EXPECT_EQ(parse_duration("1m"), 1min);
    EXPECT_EQ(parse_duration("6h"), 6h);
    EXPECT_EQ(parse_duration("30d"), std::chrono::hours(24 * 30));
    EXPECT_EQ(parse_duration("2w"), std::chrono::hours(24 * 14));
}

TEST(parse_duration, accepts_zero_and_leading_zeros) {
    EXPECT_EQ(parse_duration("0s"), 0ms);
    EXPECT_EQ(parse_duration("0ms"), 0ms);
    EXPECT_EQ(parse_duration("007s"), 7s);
}

TEST(parse_duration, rounds_microseconds_up_to_milliseconds) {
    EXPECT_EQ(parse_duration("1us"), 1ms);
    EXPECT_EQ(parse_duration("1500us"), 2ms);
    EXPECT_EQ(parse_duration("0us"), 0ms);
}

TEST(parse_duration, rejects_malformed_text) {
    for (const char* text : {"", "5", "5 m", " 5m", "5m ", "-1s", "+1s", "1.5s", "5x", "s", "ms",
                             "5S", "5sec", "5ms5", "1h30m", "0x10s"}) {
        EXPECT_EQ(parse_duration(text), std::nullopt) << text;
    }
}

TEST(parse_duration, rejects_overflow) {
    EXPECT_EQ(parse_duration("99999999999999999999d"), std::nullopt);
    EXPECT_EQ(parse_duration("18446744073709551616ms"), std::nullopt);  // 2^64
    EXPECT_EQ(parse_duration("9223372036854775808ms"), std::nullopt);   // 2^63
    EXPECT_EQ(parse_duration("9223372036854775807s"), std::nullopt);
    EXPECT_EQ(parse_duration("9223372036854775807ms"), duration(9223372036854775807LL));
}

TEST(parse_size, accepts_plain_bytes_and_every_unit) {
    EXPECT_EQ(parse_size("0"), 0u);
    EXPECT_EQ(parse_size("1024"), 1024u);
    EXPECT_EQ(parse_size("512B"), 512u);
    EXPECT_EQ(parse_size("10KB"), 10'000u);
    EXPECT_EQ(parse_size("3MB"), 3'000'000u);
    EXPECT_EQ(parse_size("2GB"), 2'000'000'000u);
    EXPECT_EQ(parse_size("64KiB"), 64u * 1024);
    EXPECT_EQ(parse_size("1MiB"), 1024u * 1024);
    EXPECT_EQ(parse_size("4GiB"), 4ULL * 1024 * 1024 * 1024);
}

TEST(parse_size, rejects_malformed_text_and_overflow) {
    for (const char* text :
         {"", "MiB", "1 MiB", "-1", "1.5MiB", "1mib", "1KIB", "1TB", "1K", "1M", "0x10",
          "18446744073709551616", "18446744073709551615KB", "17179869184GiB"}) {
        EXPECT_EQ(parse_size(text), std::nullopt) << text;
    }
    EXPECT_EQ(parse_size("18446744073709551615"), 18446744073709551615ULL);
}

TEST(format_duration, uses_the_largest_exact_unit) {
    EXPECT_EQ(format_duration(0ms), "0s");
    EXPECT_EQ(format_duration(50ms), "50ms");
    EXPECT_EQ(format_duration(1500ms), "1500ms");
    EXPECT_EQ(format_duration(2s), "2s");
    EXPECT_EQ(format_duration(90s), "90s");
    EXPECT_EQ(format_duration(1min), "1m");
    EXPECT_EQ(format_duration(6h), "6h");
    EXPECT_EQ(format_duration(24h), "1d");
    EXPECT_EQ(format_duration(std::chrono::hours(24 * 30)), "30d");
    EXPECT_EQ(format_duration(std::chrono::hours(24 * 14)), "2w");
}

TEST(format_duration, round_trips_through_parse_duration) {
    for (const duration d : {duration(0), duration(1), duration(999), duration(1001),
                             duration(60'000), duration(3'600'000), duration(86'400'000 * 3LL),
                             duration(604'800'000LL * 5), duration(9223372036854775807LL)}) {
        EXPECT_EQ(parse_duration(format_duration(d)), d) << d.count();
    }
    for (const char* text :
         {"0s", "50ms", "1500ms", "2s", "1m", "5m", "15m", "1h", "6h", "30d", "1w"}) {
        EXPECT_EQ(format_duration(*parse_duration(text)), text);
    }
}

}  // namespace
}  // namespace webhookd
