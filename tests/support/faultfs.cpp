#include "support/faultfs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

namespace webhookd::test::faultfs {

namespace {

// One undo record, as appended to "<file>-undo":
//   'W' offset length old_size old_len <old_len bytes>: a write of `length` bytes at
//       `offset` into a file of `old_size` bytes, which overwrote the old bytes given;
//   'T' new_size 0 old_size old_len <old_len bytes>: a truncate from old_size to new_size,
//       which dropped the old bytes given.
struct record_header {
    char kind;
    std::uint64_t offset;
    std::uint64_t length;
    std::uint64_t old_size;
    std::uint64_t old_len;
};

struct state {
    sqlite3_vfs* real = nullptr;
    sqlite3_vfs vfs{};
    std::atomic<bool> undo{false};
    std::atomic<int> fail_code{0};
    std::atomic<std::uint64_t> failed{0};
    // Guards each pair (undo record, write) and (empty the log, before a sync) against
    // each other, across all connections of the process; and seen_.
    std::mutex mu;
    std::set<std::string> seen;  // files whose undo log was checked at first open
};

state& g() {
    static state s;
    return s;
}

struct file {
    sqlite3_file base;  // first: SQLite sees a file of ours
    sqlite3_file* real;
    bool tracked;  // database, WAL or journal
    int undo_fd;   // -1 unless recording
};

std::string undo_path(const std::string& p) { return p + "-undo"; }

bool write_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= static_cast<std::size_t>(w);
    }
    return true;
}

// Appends a record for a change at [offset, offset + span) of a file of old_size bytes,
// with the bytes currently there. Called under g().mu.
int record(file* f, char kind, std::uint64_t offset, std::uint64_t length, std::uint64_t keep_from,
           std::uint64_t keep_to) {
    sqlite3_int64 size = 0;
    if (int rc = f->real->pMethods->xFileSize(f->real, &size); rc != SQLITE_OK) return rc;
    auto old_size = static_cast<std::uint64_t>(size);
    std::uint64_t from = keep_from, to = std::min(keep_to, old_size);
    std::uint64_t old_len = to > from ? to - from : 0;
    std::string buf(sizeof(record_header) + old_len, '\0');
    record_header h{kind, offset, length, old_size, old_len};
    std::memcpy(buf.data(), &h, sizeof h);
    if (old_len > 0) {
        int rc = f->real->pMethods->xRead(f->real, buf.data() + sizeof h, static_cast<int>(old_len),
                                          static_cast<sqlite3_int64>(from));
        if (rc != SQLITE_OK) return rc;
    }
    return write_all(f->undo_fd, buf.data(), buf.size()) ? SQLITE_OK : SQLITE_IOERR_WRITE;
}

file* self(sqlite3_file* p) { return reinterpret_cast<file*>(p); }

// The code fail_writes() set (counted as a failed write), or 0 when writes may proceed.
int injected_failure() {
    int code = g().fail_code.load();
    if (code != 0) g().failed.fetch_add(1);
    return code;
}

int x_close(sqlite3_file* p) {
    auto* f = self(p);
    if (f->undo_fd >= 0) ::close(f->undo_fd);
    return f->real->pMethods->xClose(f->real);
}

int x_read(sqlite3_file* p, void* buf, int n, sqlite3_int64 off) {
    return self(p)->real->pMethods->xRead(self(p)->real, buf, n, off);
}

int x_write(sqlite3_file* p, const void* buf, int n, sqlite3_int64 off) {
    auto* f = self(p);
    if (f->tracked) {
        if (int code = injected_failure()) return code;
        if (f->undo_fd >= 0) {
            std::lock_guard lock(g().mu);
            auto o = static_cast<std::uint64_t>(off);
            if (int rc = record(f, 'W', o, static_cast<std::uint64_t>(n), o, o + static_cast<std::uint64_t>(n));
                rc != SQLITE_OK) {
                return rc;
            }
            return f->real->pMethods->xWrite(f->real, buf, n, off);
        }
    }
    return f->real->pMethods->xWrite(f->real, buf, n, off);
}

int x_truncate(sqlite3_file* p, sqlite3_int64 size) {
    auto* f = self(p);
    if (f->tracked) {
        if (int code = injected_failure()) return code;
        if (f->undo_fd >= 0) {
            std::lock_guard lock(g().mu);
            auto s = static_cast<std::uint64_t>(size);
            if (int rc = record(f, 'T', s, 0, s, UINT64_MAX); rc != SQLITE_OK) return rc;
            return f->real->pMethods->xTruncate(f->real, size);
        }
    }
    return f->real->pMethods->xTruncate(f->real, size);
}

int x_sync(sqlite3_file* p, int flags) {
    auto* f = self(p);
    if (f->undo_fd >= 0) {
        // Emptied before the sync, not after: a process killed in between has had its
        // writes reach the kernel, and a disk that lost power during the sync may or may not
        // have kept them; SQLite acknowledges nothing before xSync returns either way.
        std::lock_guard lock(g().mu);
        if (::ftruncate(f->undo_fd, 0) != 0) return SQLITE_IOERR_FSYNC;
    }
    return f->real->pMethods->xSync(f->real, flags);
}

int x_file_size(sqlite3_file* p, sqlite3_int64* size) { return self(p)->real->pMethods->xFileSize(self(p)->real, size); }
int x_lock(sqlite3_file* p, int l) { return self(p)->real->pMethods->xLock(self(p)->real, l); }
int x_unlock(sqlite3_file* p, int l) { return self(p)->real->pMethods->xUnlock(self(p)->real, l); }
int x_check_reserved_lock(sqlite3_file* p, int* out) {
    return self(p)->real->pMethods->xCheckReservedLock(self(p)->real, out);
}
int x_file_control(sqlite3_file* p, int op, void* arg) {
    return self(p)->real->pMethods->xFileControl(self(p)->real, op, arg);
}
int x_sector_size(sqlite3_file* p) { return self(p)->real->pMethods->xSectorSize(self(p)->real); }
int x_device_characteristics(sqlite3_file* p) {
    return self(p)->real->pMethods->xDeviceCharacteristics(self(p)->real);
}
int x_shm_map(sqlite3_file* p, int page, int size, int extend, void volatile** out) {
    return self(p)->real->pMethods->xShmMap(self(p)->real, page, size, extend, out);
}
int x_shm_lock(sqlite3_file* p, int offset, int n, int flags) {
    return self(p)->real->pMethods->xShmLock(self(p)->real, offset, n, flags);
}
void x_shm_barrier(sqlite3_file* p) { self(p)->real->pMethods->xShmBarrier(self(p)->real); }
int x_shm_unmap(sqlite3_file* p, int delete_flag) {
    return self(p)->real->pMethods->xShmUnmap(self(p)->real, delete_flag);
}
// No memory mapping: every read goes through x_read, and every write through x_write.
int x_fetch(sqlite3_file*, sqlite3_int64, int, void** out) {
    *out = nullptr;
    return SQLITE_OK;
}
int x_unfetch(sqlite3_file*, sqlite3_int64, void*) { return SQLITE_OK; }

const sqlite3_io_methods io_methods = {
    3,           x_close,          x_read,       x_write,        x_truncate,        x_sync,
    x_file_size, x_lock,           x_unlock,     x_check_reserved_lock, x_file_control, x_sector_size,
    x_device_characteristics,      x_shm_map,    x_shm_lock,     x_shm_barrier,     x_shm_unmap,
    x_fetch,     x_unfetch,
};

constexpr int tracked_kinds = SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL;

int x_open(sqlite3_vfs*, const char* name, sqlite3_file* p, int flags, int* out_flags) {
    auto* f = self(p);
    f->real = reinterpret_cast<sqlite3_file*>(f + 1);
    f->tracked = name != nullptr && (flags & tracked_kinds) != 0;
    f->undo_fd = -1;
    int rc = g().real->xOpen(g().real, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK) {
        p->pMethods = nullptr;  // SQLite then calls no method, not even xClose
        return rc;
    }
    if (f->tracked && g().undo.load()) {
        std::string log = undo_path(name);
        std::lock_guard lock(g().mu);
        if (g().seen.insert(name).second) {
            struct stat st{};
            if (::stat(log.c_str(), &st) == 0 && st.st_size > 0) {
                std::fprintf(stderr, "faultfs: %s holds the writes of a crashed process; power_cut() it first\n",
                             log.c_str());
                std::abort();
            }
        }
        f->undo_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (f->undo_fd < 0) {
            f->real->pMethods->xClose(f->real);
            p->pMethods = nullptr;
            return SQLITE_CANTOPEN;
        }
    }
    p->pMethods = &io_methods;
    return SQLITE_OK;
}

int x_delete(sqlite3_vfs*, const char* name, int sync_dir) {
    if (g().undo.load()) {
        std::lock_guard lock(g().mu);
        ::unlink(undo_path(name).c_str());  // the file's unsynced writes go with it
    }
    return g().real->xDelete(g().real, name, sync_dir);
}

int x_access(sqlite3_vfs*, const char* name, int flags, int* out) { return g().real->xAccess(g().real, name, flags, out); }
int x_full_pathname(sqlite3_vfs*, const char* name, int n, char* out) {
    return g().real->xFullPathname(g().real, name, n, out);
}
void* x_dl_open(sqlite3_vfs*, const char* name) { return g().real->xDlOpen(g().real, name); }
void x_dl_error(sqlite3_vfs*, int n, char* out) { g().real->xDlError(g().real, n, out); }
void (*x_dl_sym(sqlite3_vfs*, void* h, const char* sym))(void) { return g().real->xDlSym(g().real, h, sym); }
void x_dl_close(sqlite3_vfs*, void* h) { g().real->xDlClose(g().real, h); }
int x_randomness(sqlite3_vfs*, int n, char* out) { return g().real->xRandomness(g().real, n, out); }
int x_sleep(sqlite3_vfs*, int us) { return g().real->xSleep(g().real, us); }
int x_current_time(sqlite3_vfs*, double* out) { return g().real->xCurrentTime(g().real, out); }
int x_get_last_error(sqlite3_vfs*, int n, char* out) { return g().real->xGetLastError(g().real, n, out); }
int x_current_time_int64(sqlite3_vfs*, sqlite3_int64* out) { return g().real->xCurrentTimeInt64(g().real, out); }

// ---- power_cut ----------------------------------------------------------------------------

struct undo_record {
    record_header h;
    std::string old;
};

std::vector<undo_record> read_log(const std::string& path) {
    std::FILE* in = std::fopen(path.c_str(), "rb");
    if (!in) throw std::runtime_error("faultfs: cannot open " + path);
    std::vector<undo_record> out;
    for (;;) {
        undo_record r{};
        std::size_t n = std::fread(&r.h, 1, sizeof r.h, in);
        // A record cut short at the end: the process was killed while appending it (a
        // write(2) is cut at a page boundary by a fatal signal), so before the write it
        // records was made. Nothing to undo for it.
        if (n < sizeof r.h) break;
        if ((r.h.kind != 'W' && r.h.kind != 'T') || r.h.old_len > (1ULL << 32)) {
            std::fclose(in);
            throw std::runtime_error("faultfs: malformed undo log " + path);
        }
        r.old.resize(r.h.old_len);
        if (std::fread(r.old.data(), 1, r.old.size(), in) != r.old.size()) break;
        out.push_back(std::move(r));
    }
    std::fclose(in);
    return out;
}

void check(bool ok, const std::string& what) {
    if (!ok) throw std::runtime_error("faultfs: " + what + ": " + std::strerror(errno));
}

void pwrite_all(int fd, const std::string& bytes, std::size_t from, std::uint64_t offset) {
    std::size_t done = from;
    while (done < bytes.size()) {
        ssize_t w = ::pwrite(fd, bytes.data() + done, bytes.size() - done,
                             static_cast<off_t>(offset + (done - from)));
        check(w > 0, "pwrite");
        done += static_cast<std::size_t>(w);
    }
}

// Undoes one record; for a write, `keep` leading bytes of it stay (a torn write).
void undo(int fd, const undo_record& r, std::uint64_t keep) {
    if (r.h.kind == 'T') {
        pwrite_all(fd, r.old, 0, r.h.offset);
        if (r.h.old_size < r.h.offset) check(::ftruncate(fd, static_cast<off_t>(r.h.old_size)) == 0, "ftruncate");
        return;
    }
    if (keep < r.old.size()) pwrite_all(fd, r.old, keep, r.h.offset + keep);
    if (r.h.old_size < r.h.offset + r.h.length) {
        check(::ftruncate(fd, static_cast<off_t>(std::max(r.h.old_size, r.h.offset + keep))) == 0, "ftruncate");
    }
}

}  // namespace

void install(bool undo_log) {
    auto& s = g();
    std::lock_guard lock(s.mu);
    s.undo.store(undo_log || s.undo.load());
    if (s.real) return;
    s.real = sqlite3_vfs_find(nullptr);
    if (!s.real) throw std::runtime_error("faultfs: SQLite has no default VFS");
    s.vfs = sqlite3_vfs{};
    s.vfs.iVersion = 3;
    s.vfs.szOsFile = static_cast<int>(sizeof(file)) + s.real->szOsFile;
    s.vfs.mxPathname = s.real->mxPathname;
    s.vfs.zName = "faultfs";
    s.vfs.xOpen = x_open;
    s.vfs.xDelete = x_delete;
    s.vfs.xAccess = x_access;
    s.vfs.xFullPathname = x_full_pathname;
    s.vfs.xDlOpen = x_dl_open;
    s.vfs.xDlError = x_dl_error;
    s.vfs.xDlSym = x_dl_sym;
    s.vfs.xDlClose = x_dl_close;
    s.vfs.xRandomness = x_randomness;
    s.vfs.xSleep = x_sleep;
    s.vfs.xCurrentTime = x_current_time;
    s.vfs.xGetLastError = x_get_last_error;
    s.vfs.xCurrentTimeInt64 = x_current_time_int64;
    if (sqlite3_vfs_register(&s.vfs, 1) != SQLITE_OK) throw std::runtime_error("faultfs: register failed");
}

void fail_writes(int sqlite_code) { g().fail_code.store(sqlite_code); }

std::uint64_t failed_writes() { return g().failed.load(); }

cut_report power_cut(const std::string& db_path, std::uint64_t seed, bool keep_none) {
    std::mt19937_64 rng(seed);
    cut_report report;
    for (const char* suffix : {"", "-wal", "-journal"}) {
        std::string path = db_path + suffix;
        std::string log = undo_path(path);
        if (!std::filesystem::exists(log)) continue;
        auto records = read_log(log);
        if (std::filesystem::exists(path) && !records.empty()) {
            std::size_t n = records.size();
            std::size_t kept = keep_none ? 0 : static_cast<std::size_t>(rng() % (n + 1));
            std::uint64_t torn = 0;  // leading bytes kept of the first write undone
            if (!keep_none && kept < n && records[kept].h.kind == 'W' && records[kept].h.length > 1 && rng() % 2) {
                torn = 1 + rng() % (records[kept].h.length - 1);
            }
            int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
            check(fd >= 0, "open " + path);
            for (std::size_t i = n; i-- > kept;) undo(fd, records[i], i == kept ? torn : 0);
            check(::fsync(fd) == 0, "fsync " + path);
            ::close(fd);
            report.unsynced += n;
            report.lost += n - kept;
            report.torn += torn > 0 ? 1 : 0;
        }
        check(::unlink(log.c_str()) == 0, "unlink " + log);
    }
    std::filesystem::remove(db_path + "-shm");
    return report;
}

}  // namespace webhookd::test::faultfs
