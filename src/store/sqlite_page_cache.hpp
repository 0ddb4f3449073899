#pragma once
// SQLite's own page cache, wrapped so that a commit does not walk the whole cache.
//
// When a B-tree split reorders its new pages, SQLite swaps two of them through a scratch
// page number (the lock page's, 1 GiB / page size + 1). The page cache remembers the
// highest page number it ever held, and every commit asks it to drop the pages beyond
// the database's end: with that scratch number remembered, the request walks every
// cached page, one cache miss each. With 64 MiB of cache and scattered index pages (tens
// of thousands of endpoints) that walk cost about a millisecond per commit.
//
// The wrapper knows the highest page number that is really cached (the scratch page is
// always moved on within the same split) and passes a truncation on only when some page
// lies beyond it. Everything else is SQLite's cache, unchanged.

#include <cstdint>

namespace webhookd::sqlite {

// Installs the wrapper. Must run before SQLite initialises (the first connection does it);
// later calls change nothing.
void install_page_cache();

// Process-wide counts, for tests and profiling.
struct page_cache_counts {
    std::uint64_t scratch_moves = 0;      // pages moved to the scratch page number
    std::uint64_t truncates_skipped = 0;  // requests with no page beyond the end
    std::uint64_t truncates_passed = 0;   // requests passed on to SQLite's cache
};
page_cache_counts page_cache_counts_now();

}  // namespace webhookd::sqlite
