#pragma once
// faultfs: a SQLite VFS for tests that makes storage fail on demand. It wraps the default
// (unix) VFS and only acts on database, WAL and rollback-journal files; shared memory,
// locks and temporary files pass straight through.
//
// Two faults:
// - Failing writes (disk full, I/O errors): fail_writes(SQLITE_FULL) makes every write and
//   truncate of those files fail until fail_writes(0). For in-process tests.
// - Power loss: with an undo log on, every write first appends the bytes it overwrites to
//   "<file>-undo", and a sync empties that log before it syncs the file. So the log always
//   holds exactly the writes a power cut may lose. After the writing process is killed
//   (kill -9 loses nothing by itself: the writes are in the kernel), power_cut() plays the
//   role of the disk: it undoes the unsynced writes except a random prefix, the last kept
//   one possibly torn, as a disk cache that loses power does.
//
// The undo log can be switched on in any process running a program linked with SQLite:
// the shared library built from faultfs_preload.cpp, given in LD_PRELOAD with
// WEBHOOKD_FAULTFS=undo in the environment, installs faultfs as the default VFS before main.

#include <cstddef>
#include <cstdint>
#include <string>

namespace webhookd::test::faultfs {

// Registers faultfs as SQLite's default VFS (once; later calls only change the mode).
// With `undo_log`, writes to database files are recorded for power_cut(). Call before any
// connection whose files should be affected is opened.
void install(bool undo_log = false);

// From now on every write and truncate of a database, WAL or journal file fails with
// `sqlite_code` (for example SQLITE_FULL or SQLITE_IOERR_WRITE); 0 lets them succeed again.
// Thread-safe. Requires install().
void fail_writes(int sqlite_code);

// Writes that failed because of fail_writes() so far.
std::uint64_t failed_writes();

struct cut_report {
    std::size_t unsynced = 0;  // writes since the last sync, over all the database's files
    std::size_t lost = 0;      // of them undone (wholly, or the tail of a torn one)
    std::size_t torn = 0;      // writes kept only in part
};

// Simulates a power cut on the database at `db_path` (its main file, WAL and journal), whose
// writer has died: for each file, keeps a random prefix of the unsynced writes (chosen with
// `seed`; `keep_none` loses them all), undoes the rest, syncs, removes the undo logs and
// the shared-memory file (it does not survive a power cut either). Throws std::runtime_error
// on a malformed log or an I/O error.
cut_report power_cut(const std::string& db_path, std::uint64_t seed, bool keep_none = false);

}  // namespace webhookd::test::faultfs
