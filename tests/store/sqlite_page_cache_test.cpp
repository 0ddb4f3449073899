// The page cache wrapper: a commit after splits that swapped pages through the scratch page
// number does not make SQLite's cache scan itself, and a rollback still drops the pages
// beyond the database's end.

#include "store/sqlite_page_cache.hpp"

#include <gtest/gtest.h>

#include <array>
#include <random>
#include <span>

#include "store/sqlite.hpp"
#include "support/temp_dir.hpp"

namespace webhookd::sqlite {
namespace {

std::int64_t scalar(connection& db, const char* sql) {
    auto& q = db.prepare(sql);
    EXPECT_TRUE(q.step());
    std::int64_t v = q.int64(0);
    q.reset();
    return v;
}

std::string integrity(connection& db) {
    auto& q = db.prepare("PRAGMA integrity_check");
    EXPECT_TRUE(q.step());
    std::string v = q.text(0);
    q.reset();
    return v;
}

void open_wal(connection& db) {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA cache_size = -65536");
}

TEST(sqlite_page_cache, commits_after_page_swapping_splits_do_not_scan_the_cache) {
    test::temp_dir dir;
    connection db(dir.file("swap.db"));
    open_wal(db);
    // Random keys split index pages in the middle of the tree, where the new pages' numbers
    // are out of order and the split swaps them through the scratch page number.
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, k BLOB NOT NULL)");
    db.exec("CREATE INDEX t_k ON t (k)");
    db.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) "
                "INSERT INTO t (k) SELECT randomblob(24) FROM n");

    const page_cache_counts before = page_cache_counts_now();
    std::mt19937_64 random(15);
    for (int i = 0; i < 50; ++i) {
        transaction tx(db);
        for (int row = 0; row < 200; ++row) {
            const std::array<std::uint64_t, 3> key{random(), random(), random()};
            db.prepare("INSERT INTO t (k) VALUES (?)")
                .bind_blob(1, std::span(reinterpret_cast<const char*>(key.data()), sizeof key))
                .run();
        }
        tx.commit();
    }
    const page_cache_counts after = page_cache_counts_now();
    EXPECT_GT(after.scratch_moves, before.scratch_moves) << "the workload never swapped pages";
    EXPECT_GE(after.truncates_skipped - before.truncates_skipped, 50u);
    EXPECT_EQ(after.truncates_passed, before.truncates_passed);
    EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM t"), 30000);
    EXPECT_EQ(integrity(db), "ok");
}

TEST(sqlite_page_cache, a_rolled_back_growth_is_dropped_from_the_cache) {
    test::temp_dir dir;
    const auto path = dir.file("rollback.db");
    {
        connection db(path);
        open_wal(db);
        db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, k BLOB NOT NULL, body BLOB NOT NULL)");
        db.exec("CREATE INDEX t_k ON t (k)");
        db.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
                "INSERT INTO t (k, body) SELECT randomblob(24), zeroblob(500) FROM n");
        const std::int64_t pages = scalar(db, "PRAGMA page_count");

        // A transaction and a savepoint that grow the file, both undone: the cache must let
        // go of the pages past the end, then hand out fresh ones when the file grows again.
        const page_cache_counts before = page_cache_counts_now();
        db.exec("BEGIN");
        db.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
                "INSERT INTO t (k, body) SELECT randomblob(24), randomblob(500) FROM n");
        EXPECT_GT(scalar(db, "PRAGMA page_count"), pages);
        db.exec("ROLLBACK");
        EXPECT_GT(page_cache_counts_now().truncates_passed, before.truncates_passed);
        EXPECT_EQ(scalar(db, "PRAGMA page_count"), pages);

        db.exec("BEGIN");
        db.exec("SAVEPOINT grow");
        db.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) "
                "INSERT INTO t (k, body) SELECT randomblob(24), randomblob(500) FROM n");
        db.exec("ROLLBACK TO grow");
        db.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "
                "INSERT INTO t (k, body) SELECT randomblob(24), zeroblob(700) FROM n");
        db.exec("COMMIT");
        EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM t"), 3000);
        EXPECT_EQ(scalar(db, "SELECT COUNT(*) FROM t WHERE length(body) = 700"), 1000);
        EXPECT_EQ(integrity(db), "ok");
    }
    connection reopened(path, true);
    EXPECT_EQ(scalar(reopened, "SELECT COUNT(*) FROM t WHERE length(body) = 700"), 1000);
    EXPECT_EQ(integrity(reopened), "ok");
}

}  // namespace
}  // namespace webhookd::sqlite
