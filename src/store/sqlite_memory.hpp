#pragma once
// SQLite's small allocations, reused from a free list of the thread that freed them.
//
// Debian builds SQLite with SQLITE_OMIT_LOOKASIDE, so every small allocation a statement
// makes (a bound value, a record, a cursor, a balance's scratch cell array) is a malloc
// and a free: about 35 of each per ingested event, some 8,000 instructions
// (bench/run instructions), and with tens of thousands of tenants glibc's bins went cold
// between two events. Lookaside is SQLite's answer to exactly this; this allocator does
// what it would have done. A freed block of up to 1 KiB goes on the freeing thread's list
// for its size class (64, 128, ..., 1024 bytes; at most free_list_limit blocks each) and
// the thread's next allocation of that class takes it back. A few larger blocks of up to
// 64 KiB are kept by their exact size (a B-tree balance's scratch space, the parser's
// stack: taken and given back at once). Everything else is malloc's. Under the
// sanitizers every block is malloc's, so that they still see SQLite's use of memory.

#include <cstddef>

namespace webhookd::sqlite {

// Installs the allocator. Must run before SQLite initialises (the first connection does
// it); later calls change nothing.
void install_memory();

// Blocks each thread keeps per size class.
inline constexpr std::size_t free_list_limit = 256;

// Whether freed small blocks are reused: installed, and not under a sanitizer.
bool memory_reuses_blocks();

}  // namespace webhookd::sqlite
