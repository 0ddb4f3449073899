#include "store/writer.hpp"

#include <gtest/gtest.h>

#include <future>
#include <latch>

#include "ingest/event_validator.hpp"
#include "store/sqlite_outbox_store.hpp"
#include "support/daemon_fixture.hpp"
#include "support/temp_dir.hpp"

namespace webhookd {
namespace {

// Inserts one event; reports done() through a promise. Optionally blocks in apply()
// until `gate` opens, to hold the writer busy while others queue.
class event_unit final : public write_unit {
public:
    event_unit(std::string id, std::shared_future<void> gate = {}) : id_(std::move(id)), gate_(std::move(gate)) {}
    status apply(outbox_store& s, std::int64_t now) override {
        if (gate_.valid()) gate_.wait();
        auto r = s.insert_event(build_envelope(id_, "t", "2025-04-19T14:30:00Z", "1"), now, now);
        return r.ok() ? status(ok_v) : status(r.err());
    }
    void done(const status& outcome) override { promise_.set_value(outcome.ok()); }
    std::future<bool> outcome() { return promise_.get_future(); }

private:
    std::string id_;
    std::shared_future<void> gate_;
    std::promise<bool> promise_;
};

class writer_test : public ::testing::Test {
protected:
    void SetUp() override {
        storage_config cfg;
        cfg.path = dir.file("w.db");
        store = std::move(open_sqlite_outbox(cfg)).value();
    }
    test::temp_dir dir;
    std::unique_ptr<outbox_store> store;
    manual_clock clock;
};

TEST_F(writer_test, units_waiting_together_commit_as_one_group) {
    std::vector<std::size_t> groups;
    std::mutex mu;
    writer w(*store, clock, 1000, 4096, [&](std::size_t n) {
        std::lock_guard lock(mu);
        groups.push_back(n);
    });
    std::promise<void> open;
    auto first = std::make_shared<event_unit>("first", open.get_future().share());
    auto first_done = first->outcome();
    ASSERT_TRUE(w.submit(first));
    // The writer is now inside the first group; these 50 wait and go in the next one.
    while (w.queued_weight() != 0) std::this_thread::yield();
    std::vector<std::future<bool>> rest;
    for (int i = 0; i < 50; ++i) {
        auto u = std::make_shared<event_unit>("e" + std::to_string(i));
        rest.push_back(u->outcome());
        ASSERT_TRUE(w.submit(u));
    }
    open.set_value();
    EXPECT_TRUE(first_done.get());
    for (auto& f : rest) EXPECT_TRUE(f.get());
    w.stop();
    std::lock_guard lock(mu);
    ASSERT_EQ(groups.size(), 2u);
    EXPECT_EQ(groups[0], 1u);
    EXPECT_EQ(groups[1], 50u);
    EXPECT_EQ(test::query_int(dir.file("w.db"), "SELECT COUNT(*) FROM events"), 51);
}

TEST_F(writer_test, a_full_queue_refuses_units_and_they_write_nothing) {
    writer w(*store, clock, 3);
    std::promise<void> open;
    auto blocker = std::make_shared<event_unit>("blocker", open.get_future().share());
    ASSERT_TRUE(w.submit(blocker));
    while (w.queued_weight() != 0) std::this_thread::yield();
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(w.submit(std::make_shared<event_unit>("q" + std::to_string(i))));
    auto refused = std::make_shared<event_unit>("refused");
    EXPECT_FALSE(w.submit(refused));
    EXPECT_EQ(w.queued_weight(), 3u);
    open.set_value();
    w.stop();
    EXPECT_EQ(test::query_int(dir.file("w.db"), "SELECT COUNT(*) FROM events"), 4);
    EXPECT_EQ(test::query_int(dir.file("w.db"), "SELECT COUNT(*) FROM events WHERE id = 'refused'"), 0);
}

TEST_F(writer_test, stop_commits_everything_queued_then_refuses) {
    auto w = std::make_unique<writer>(*store, clock, 1000);
    std::vector<std::future<bool>> done;
    for (int i = 0; i < 200; ++i) {
        auto u = std::make_shared<event_unit>("s" + std::to_string(i));
        done.push_back(u->outcome());
        ASSERT_TRUE(w->submit(u));
    }
    w->stop();
    for (auto& f : done) EXPECT_TRUE(f.get());
    EXPECT_FALSE(w->submit(std::make_shared<event_unit>("late")));
    EXPECT_EQ(test::query_int(dir.file("w.db"), "SELECT COUNT(*) FROM events"), 200);
}

}  // namespace
}  // namespace webhookd
