// SQLite's allocator: small blocks come back from the freeing thread's list, every size is
// what SQLite asked for at least, and a database works on it.

#include "store/sqlite_memory.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstring>
#include <span>
#include <string>
#include <set>
#include <thread>
#include <vector>

#include "store/sqlite.hpp"
#include "support/temp_dir.hpp"

namespace webhookd::sqlite {
namespace {

// The first connection installs the allocator (before SQLite initialises).
void ensure_installed() { connection db(":memory:"); }

bool under_sanitizer() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    return true;
#else
    return false;
#endif
}

TEST(sqlite_memory, is_installed_and_reuses_blocks_outside_sanitizers) {
    ensure_installed();
    EXPECT_EQ(memory_reuses_blocks(), !under_sanitizer());
}

// The tests of reuse itself: skipped under sanitizers, where every block is malloc's.
class sqlite_memory_reuse : public ::testing::Test {
protected:
    void SetUp() override {
        ensure_installed();
        if (!memory_reuses_blocks()) GTEST_SKIP() << "blocks are malloc's under sanitizers";
    }
};

TEST_F(sqlite_memory_reuse, a_small_block_freed_is_the_next_one_of_its_class_on_that_thread) {
    void* a = sqlite3_malloc(100);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(sqlite3_msize(a), 128u);  // its class; SQLite's own allocator says 104
    sqlite3_free(a);
    void* b = sqlite3_malloc(65);  // the same class
    EXPECT_EQ(b, a);
    void* c = sqlite3_malloc(64);  // another class: not that block
    EXPECT_NE(c, a);
    EXPECT_EQ(sqlite3_msize(c), 64u);
    sqlite3_free(b);
    sqlite3_free(c);
}

TEST_F(sqlite_memory_reuse, a_large_block_freed_is_the_next_one_of_its_exact_size) {
    void* a = sqlite3_malloc(5000);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(sqlite3_msize(a), 5000u);
    sqlite3_free(a);
    void* other = sqlite3_malloc(6000);  // another size: a block of its own
    EXPECT_NE(other, a);
    void* again = sqlite3_malloc(4996);  // 5000 once rounded to 8
    EXPECT_EQ(again, a);
    sqlite3_free(other);
    sqlite3_free(again);
}

TEST_F(sqlite_memory_reuse, a_block_freed_on_another_thread_is_reused_there) {
    void* mine = sqlite3_malloc(500);
    void* theirs_next = nullptr;
    std::thread t([&] {
        sqlite3_free(mine);
        theirs_next = sqlite3_malloc(300);  // 512, as `mine`
        sqlite3_free(theirs_next);
    });
    t.join();  // the thread's list was emptied into free() as it exited
    EXPECT_EQ(theirs_next, mine);
}

TEST(sqlite_memory, realloc_keeps_the_content_across_classes_and_to_large_blocks) {
    ensure_installed();
    auto* p = static_cast<char*>(sqlite3_malloc(40));
    ASSERT_NE(p, nullptr);
    std::memset(p, 'a', 40);
    auto* q = static_cast<char*>(sqlite3_realloc(p, 700));
    ASSERT_NE(q, nullptr);
    EXPECT_GE(sqlite3_msize(q), 700u);
    EXPECT_EQ(std::string(q, 40), std::string(40, 'a'));
    std::memset(q + 40, 'b', 660);
    auto* r = static_cast<char*>(sqlite3_realloc(q, 100'000));
    ASSERT_NE(r, nullptr);
    EXPECT_GE(sqlite3_msize(r), 100'000u);
    EXPECT_EQ(std::string(r, 40) + std::string(r + 40, 660), std::string(40, 'a') + std::string(660, 'b'));
    auto* s = static_cast<char*>(sqlite3_realloc(r, 20));  // back to a small class
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(std::string(s, 20), std::string(20, 'a'));
    EXPECT_GE(sqlite3_msize(s), 20u);
    sqlite3_free(s);
}

TEST(sqlite_memory, many_blocks_of_every_size_are_distinct_and_keep_what_was_written) {
    ensure_installed();
    std::vector<std::pair<unsigned char*, int>> blocks;
    for (int round = 0; round < 3; ++round) {
        for (int n = 1; n <= 3000; n += 7) {
            auto* p = static_cast<unsigned char*>(sqlite3_malloc(n));
            ASSERT_NE(p, nullptr);
            ASSERT_GE(sqlite3_msize(p), static_cast<sqlite3_uint64>(n));
            std::memset(p, n & 0xff, static_cast<std::size_t>(n));
            blocks.emplace_back(p, n);
        }
        std::set<unsigned char*> distinct;
        for (auto [p, n] : blocks) {
            EXPECT_TRUE(distinct.insert(p).second);
            for (int i = 0; i < n; ++i) ASSERT_EQ(p[i], n & 0xff);
        }
        // Free every other block: the next round takes them back.
        std::vector<std::pair<unsigned char*, int>> kept;
        for (std::size_t i = 0; i < blocks.size(); ++i) {
            if (i % 2) {
                sqlite3_free(blocks[i].first);
            } else {
                kept.push_back(blocks[i]);
            }
        }
        blocks = std::move(kept);
    }
    for (auto [p, n] : blocks) sqlite3_free(p);
}

TEST(sqlite_memory, a_database_written_and_read_on_it_is_intact) {
    test::temp_dir dir;
    connection db(dir.file("m.db"));
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB)");
    db.exec("BEGIN");
    for (int i = 0; i < 5000; ++i) {
        std::string v(static_cast<std::size_t>(i % 2000), static_cast<char>('a' + i % 26));
        db.prepare("INSERT INTO t (k, v) VALUES (?, ?)").bind(1, "key" + std::to_string(i * 7919 % 5000)).bind_blob(2, std::span<const char>(v.data(), v.size())).run();
    }
    db.exec("COMMIT");
    auto& q = db.prepare("SELECT COUNT(*), SUM(length(v)) FROM t");
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.int64(0), 5000);
    std::int64_t total = 0;
    for (int i = 0; i < 5000; ++i) total += i % 2000;
    EXPECT_EQ(q.int64(1), total);
    q.reset();
    auto& check = db.prepare("PRAGMA integrity_check");
    ASSERT_TRUE(check.step());
    EXPECT_EQ(check.text(0), "ok");
    check.reset();
}

}  // namespace
}  // namespace webhookd::sqlite
