#pragma once
// Copies the WAL back into the database file on a thread of its own, so that no commit
// waits for a checkpoint.
//
// SQLite's automatic checkpoint runs inside the commit that takes the WAL past 1,000 pages.
// With tens of thousands of endpoints (tenants) a group commit writes hundreds of scattered
// index pages, so the writer checkpointed every few groups and copied the same hot pages
// again each time; made rarer, each checkpoint stalled ingest for up to 150 ms. Here the
// bulk of the copy moves off the writer: once a commit leaves start_pages in the WAL, this
// thread runs a passive checkpoint on its own connection (passive: it never blocks a
// writer or a reader), and runs it again for the commits made meanwhile until a pass finds
// fewer than tail_frames new ones (at most max_passes). Those are left; the writer's next
// commit copies those few pages itself, so that the transaction after it starts the WAL from
// its beginning again (SQLite restarts the WAL only when every page in it is copied, which
// under steady load a checkpoint running beside the writer never sees: the WAL grew to
// hundreds of MB, and with it the cost of every fsync). If the thread falls behind and the
// WAL reaches backstop_pages, the committing connection checkpoints itself, as SQLite would.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

struct sqlite3;

namespace webhookd::sqlite {

class connection;

class wal_checkpointer {
public:
    // Installs itself as db's WAL hook (replacing the automatic checkpoint) until destroyed.
    // Throws sqlite::failure when its own connection does not open.
    wal_checkpointer(connection& db, std::size_t start_pages, std::size_t backstop_pages);
    ~wal_checkpointer();
    wal_checkpointer(const wal_checkpointer&) = delete;
    wal_checkpointer& operator=(const wal_checkpointer&) = delete;

    // Waits for a checkpoint of this thread to end and holds the next one off while the
    // lock lives: another checkpoint of the same file (a TRUNCATE after a secret is erased)
    // would otherwise find the checkpoint lock taken and give up.
    std::unique_lock<std::mutex> hold();

    // Checkpoint passes the thread has completed (each copied every frame it found).
    std::size_t passes() const { return passes_.load(); }

private:
    static constexpr std::size_t tail_frames = 64;  // left to the writer's next commit
    static constexpr std::size_t max_passes = 8;

    static int on_commit(void* self, sqlite3* db, const char* schema, int pages);
    void run();
    void copy_until_little_is_left();

    connection& db_;
    const std::size_t start_pages_;
    const std::size_t backstop_pages_;
    std::unique_ptr<connection> own_;  // used by the thread only
    std::mutex checkpointing_;         // held by the thread while it checkpoints
    std::mutex mu_;                    // guards wanted_ and stop_
    std::condition_variable wake_;
    bool wanted_ = false;
    bool stop_ = false;
    std::atomic<bool> tail_ = false;   // the thread copied nearly all the WAL: the writer copies what came since
    std::atomic<std::size_t> passes_ = 0;
    std::thread thread_;
};

}  // namespace webhookd::sqlite
