#include "store/wal_checkpointer.hpp"

#include <pthread.h>
#include <sqlite3.h>

#include "store/sqlite.hpp"

namespace webhookd::sqlite {

wal_checkpointer::wal_checkpointer(connection& db, std::size_t start_pages, std::size_t backstop_pages)
    : db_(db),
      start_pages_(start_pages),
      backstop_pages_(backstop_pages),
      own_(std::make_unique<connection>(sqlite3_db_filename(db.handle(), "main"))) {
    // A connection that has read nothing has not opened the WAL, and its checkpoints do
    // nothing (and say "done").
    auto& q = own_->prepare("SELECT COUNT(*) FROM sqlite_master");
    q.step();
    q.reset();
    thread_ = std::thread([this] { run(); });
    sqlite3_wal_hook(db_.handle(), &wal_checkpointer::on_commit, this);
}

wal_checkpointer::~wal_checkpointer() {
    sqlite3_wal_autocheckpoint(db_.handle(), 1000);  // SQLite's own again (it replaces the hook)
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    wake_.notify_one();
    thread_.join();
}

std::unique_lock<std::mutex> wal_checkpointer::hold() { return std::unique_lock(checkpointing_); }

int wal_checkpointer::on_commit(void* self, sqlite3* db, const char* schema, int pages) {
    auto& c = *static_cast<wal_checkpointer*>(self);
    auto n = static_cast<std::size_t>(pages);
    if (c.tail_.exchange(false) || n >= c.backstop_pages_) {
        // The tail of a checkpoint, or the thread is behind: the writer copies what it
        // can now (nothing while the thread is at it).
        sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    } else if (n >= c.start_pages_) {
        {
            std::lock_guard lock(c.mu_);
            c.wanted_ = true;
        }
        c.wake_.notify_one();
    }
    return SQLITE_OK;
}

void wal_checkpointer::run() {
    pthread_setname_np(pthread_self(), "wh-checkpoint");
    std::unique_lock lock(mu_);
    while (true) {
        wake_.wait(lock, [this] { return wanted_ || stop_; });
        if (stop_) return;
        wanted_ = false;
        lock.unlock();
        {
            std::lock_guard busy(checkpointing_);
            copy_until_little_is_left();
        }
        lock.lock();
    }
}

void wal_checkpointer::copy_until_little_is_left() {
    // Each pass copies what was committed while the pass before ran, so the passes shrink
    // until few frames are left; only then does the writer copy the tail itself (with
    // scattered pages, a tail of one whole pass took it up to 30 ms). A pass that cannot
    // copy everything (a reader holds old frames) or fails (busy, I/O) leaves the pages in
    // the WAL, where they are safe: the next commit past start_pages asks again.
    int before = 0;
    for (std::size_t pass = 1; pass <= max_passes; ++pass) {
        int log = 0, copied = 0;
        if (sqlite3_wal_checkpoint_v2(own_->handle(), "main", SQLITE_CHECKPOINT_PASSIVE, &log, &copied) != SQLITE_OK ||
            log <= 0 || copied != log) {
            return;
        }
        ++passes_;
        // Fewer new frames than tail_frames (or the WAL started over meanwhile), or enough
        // passes: the writer's next commit copies the rest.
        if (log - before <= static_cast<int>(tail_frames) || pass == max_passes) {
            tail_ = true;
            return;
        }
        before = log;
    }
}

}  // namespace webhookd::sqlite
