// The WAL checkpoint thread: under a steady stream of commits the WAL starts over from its
// beginning instead of growing with every commit, and nothing committed is lost.

#include "store/wal_checkpointer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <span>
#include <vector>

#include "store/sqlite.hpp"
#include "support/temp_dir.hpp"

namespace webhookd::sqlite {
namespace {

// How many times the WAL at `path` started over from its beginning: the checkpoint
// sequence number of its header (bytes 12 to 15, big-endian), which SQLite raises at each
// restart.
std::uint32_t wal_restarts(const std::string& path) {
    std::ifstream wal(path, std::ios::binary);
    unsigned char header[16] = {};
    wal.read(reinterpret_cast<char*>(header), sizeof header);
    return (std::uint32_t{header[12]} << 24) | (std::uint32_t{header[13]} << 16) | (std::uint32_t{header[14]} << 8) |
           std::uint32_t{header[15]};
}

TEST(wal_checkpointer, the_wal_starts_over_under_steady_commits_and_keeps_every_row) {
    test::temp_dir dir;
    const auto path = dir.file("wal.db");
    constexpr int commits = 3000;
    {
        connection db(path);
        db.exec("PRAGMA journal_mode = WAL");
        db.exec("PRAGMA synchronous = FULL");
        db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)");
        const std::vector<char> body(3000, 'x');  // about one page per commit
        wal_checkpointer checkpointer(db, 50, 1'000'000);  // the writer never checkpoints on its own
        for (int i = 0; i < commits; ++i) {
            transaction tx(db);
            db.prepare("INSERT INTO t (body) VALUES (?)").bind_blob(1, std::span<const char>(body)).run();
            tx.commit();
        }
        EXPECT_GT(checkpointer.passes(), 0u);
        // Never started over, the WAL holds about three frames for every commit (37 MB
        // here) and its header says 0. Started over, it restarts dozens of times (48 to
        // 153 in runs on the dev machine). Its size is not checked: that is the furthest
        // it got between two restarts, which depends on when the checkpoint thread got a
        // core (300 KB to 25 MB in the same runs).
        EXPECT_GE(wal_restarts(path + "-wal"), 3u);
    }
    connection reader(path, true);
    auto& q = reader.prepare("SELECT COUNT(*) FROM t");
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.int64(0), commits);
    q.reset();
}

}  // namespace
}  // namespace webhookd::sqlite
