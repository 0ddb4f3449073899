#include "delivery/retry_policy.hpp"

#include <gtest/gtest.h>

namespace webhookd {
namespace {

using namespace std::chrono_literals;

const std::vector<duration> ladder = {0s, 1min, 5min, 15min, 1h, 6h, 24h};

TEST(retry_policy, default_ladder_step_by_step_without_jitter) {
    retry_policy p(ladder, 0.1);
    EXPECT_EQ(p.max_attempts(), 7);
    EXPECT_EQ(p.first_attempt_ms(1000), 1000);
    const std::int64_t t = 1'000'000;
    const std::int64_t expected[] = {60'000, 300'000, 900'000, 3'600'000, 21'600'000, 86'400'000};
    for (int attempt = 1; attempt <= 6; ++attempt) {
        auto d = p.after_failure(attempt, t, std::nullopt, 0.0);
        ASSERT_FALSE(d.exhausted) << attempt;
        EXPECT_EQ(d.next_attempt_ms - t, expected[attempt - 1]) << attempt;
    }
    EXPECT_TRUE(p.after_failure(7, t, std::nullopt, 0.0).exhausted);
}

TEST(retry_policy, jitter_is_only_added_and_bounded) {
    retry_policy p(ladder, 0.1);
    for (double r : {0.0, 0.25, 0.5, 0.999999}) {
        auto d = p.after_failure(2, 0, std::nullopt, r);  // step 5 min
        EXPECT_GE(d.next_attempt_ms, 300'000) << r;
        EXPECT_LT(d.next_attempt_ms, 330'000) << r;
    }
    EXPECT_EQ(p.after_failure(2, 0, std::nullopt, 0.5).next_attempt_ms, 315'000);
    retry_policy none(ladder, 0.0);
    EXPECT_EQ(none.after_failure(2, 0, std::nullopt, 0.99).next_attempt_ms, 300'000);
}

TEST(retry_policy, retry_after_pushes_later_never_earlier_and_is_capped) {
    retry_policy p(ladder, 0.0);
    EXPECT_EQ(p.after_failure(1, 0, duration(120s), 0).next_attempt_ms, 120'000);  // later than 1 min
    EXPECT_EQ(p.after_failure(1, 0, duration(10s), 0).next_attempt_ms, 60'000);    // never earlier
    EXPECT_EQ(p.after_failure(1, 0, duration(72h), 0).next_attempt_ms, 86'400'000);  // capped at 24 h
    EXPECT_TRUE(p.after_failure(7, 0, duration(10s), 0).exhausted);
}

TEST(retry_policy, millisecond_schedules_for_tests) {
    retry_policy p({0ms, 50ms, 100ms}, 0.0);
    EXPECT_EQ(p.max_attempts(), 3);
    EXPECT_EQ(p.after_failure(1, 10, std::nullopt, 0).next_attempt_ms, 60);
    EXPECT_EQ(p.after_failure(2, 10, std::nullopt, 0).next_attempt_ms, 110);
    EXPECT_TRUE(p.after_failure(3, 10, std::nullopt, 0).exhausted);
}

TEST(parse_retry_after, seconds_and_http_dates) {
    EXPECT_EQ(parse_retry_after("120", 0), duration(120s));
    EXPECT_EQ(parse_retry_after(" 0 ", 0), duration(0s));
    // Wed, 21 Oct 2015 07:28:00 GMT = 1445412480 s
    EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480000 - 30'000), duration(30s));
    EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412480000 + 5'000), duration(0s));
    // Too large for any integer: the longest wait allowed, not ignored.
    EXPECT_EQ(parse_retry_after("99999999999999999999999999", 0), duration(max_retry_after));
    EXPECT_EQ(parse_retry_after("86401", 0), duration(max_retry_after));
    for (auto bad : {"", "-5", "1.5", "soon", "Wed, 21 Oct 2015 07:28:00 UTC", "Wed, 32 Oct 2015 07:28:00 GMT",
                     "Wed, 21 Foo 2015 07:28:00 GMT"}) {
        EXPECT_FALSE(parse_retry_after(bad, 0)) << bad;
    }
}

}  // namespace
}  // namespace webhookd
