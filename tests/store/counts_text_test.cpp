// The text the store keeps its row counts in (count_base and count_changes rows): one
// line per endpoint, "<endpoint id> <pending> <dead>".

#include <gtest/gtest.h>

#include "store/outbox_store_base.hpp"

namespace webhookd::detail {
namespace {

TEST(counts_text, lines_add_up_per_endpoint_and_zeros_are_left_out) {
    count_map counts;
    add_counts(counts, "ep_a 3 0\nep_b 0 2\n");
    add_counts(counts, "ep_a -1 1\nep_b 0 -2\nep_c 5 0\n");
    ASSERT_EQ(counts.size(), 3u);
    EXPECT_EQ(counts["ep_a"].pending, 2);
    EXPECT_EQ(counts["ep_a"].dead, 1);
    EXPECT_EQ(counts["ep_c"].pending, 5);
    // ep_b is back to nothing: not written.
    count_map again;
    add_counts(again, counts_text(counts));
    EXPECT_EQ(again.size(), 2u);
    EXPECT_EQ(again["ep_a"].pending, 2);
    EXPECT_EQ(again["ep_a"].dead, 1);
    EXPECT_EQ(again["ep_c"].pending, 5);
    EXPECT_FALSE(again.contains("ep_b"));
}

TEST(counts_text, an_unreadable_line_is_skipped_and_the_rest_are_read) {
    count_map counts;
    add_counts(counts, "ep_a 1\nep_b x 1\nep_c 1 1 1\n\nep_d 7 -3");  // last line without its break
    ASSERT_EQ(counts.size(), 1u);
    EXPECT_EQ(counts["ep_d"].pending, 7);
    EXPECT_EQ(counts["ep_d"].dead, -3);
}

TEST(counts_text, the_gauges_sum_every_line_and_list_the_endpoints_in_their_order) {
    count_map counts;
    add_counts(counts, "ep_gone 4 1\nep_1 2 0\nep_2 0 3\n");
    auto g = gauges_of(counts, {{"ep_2", 7}, {"ep_1", 0}, {"ep_idle", 0}});
    EXPECT_EQ(g.pending, 6);       // a deleted endpoint's rows count in the totals
    EXPECT_EQ(g.dead_letters, 4);
    ASSERT_EQ(g.endpoints.size(), 3u);
    EXPECT_EQ(g.endpoints[0], (endpoint_counts{"ep_2", 0, 7}));
    EXPECT_EQ(g.endpoints[1], (endpoint_counts{"ep_1", 2, 0}));
    EXPECT_EQ(g.endpoints[2], (endpoint_counts{"ep_idle", 0, 0}));
}

TEST(counts_text, a_fold_adds_the_changes_to_the_base_and_keeps_the_untouched_lines_as_they_are) {
    count_map changes;
    add_counts(changes, "ep_b 1 0\nep_c -2 2\nep_new 4 0\nep_gone -1 0\n");
    auto folded = folded_counts("ep_a 10 1\nep_b 5 0\nep_c 2 0\nep_gone 1 0\nep_odd x y\n", changes);
    count_map after;
    add_counts(after, folded);
    ASSERT_EQ(after.size(), 4u);  // ep_gone is back to nothing; ep_odd was unreadable
    EXPECT_EQ(after["ep_a"].pending, 10);
    EXPECT_EQ(after["ep_a"].dead, 1);
    EXPECT_EQ(after["ep_b"].pending, 6);
    EXPECT_EQ(after["ep_c"].pending, 0);
    EXPECT_EQ(after["ep_c"].dead, 2);
    EXPECT_EQ(after["ep_new"].pending, 4);
    EXPECT_EQ(folded.substr(0, 10), "ep_a 10 1\n");  // copied as it was, first as it was
    // The same as adding every line up.
    count_map whole;
    add_counts(whole, "ep_a 10 1\nep_b 5 0\nep_c 2 0\nep_gone 1 0\n");
    add_counts(whole, "ep_b 1 0\nep_c -2 2\nep_new 4 0\nep_gone -1 0\n");
    for (const auto& [id, c] : whole) {
        EXPECT_EQ(after[id].pending, c.pending) << id;
        EXPECT_EQ(after[id].dead, c.dead) << id;
    }
    // Onto an empty base (no fold yet): the changes' own text.
    EXPECT_EQ(folded_counts("", changes), counts_text(changes));
}

}  // namespace
}  // namespace webhookd::detail
