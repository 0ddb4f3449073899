#include "store/sqlite_page_cache.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>

namespace webhookd::sqlite {
namespace {

sqlite3_pcache_methods2 inner_methods{};  // SQLite's own cache, filled in once

std::atomic<std::uint64_t> scratch_moves{0};
std::atomic<std::uint64_t> truncates_skipped{0};
std::atomic<std::uint64_t> truncates_passed{0};

// One connection's cache; SQLite calls it from that connection's thread only.
struct tracked_cache {
    sqlite3_pcache* inner;
    unsigned scratch_key;    // the lock page's number, which a split uses to swap two pages
    unsigned max_key = 0;    // no cached page has a higher number, but the scratch page
    bool at_scratch = false; // a page is at scratch_key (between two moves of a split)
};

tracked_cache* tracked(sqlite3_pcache* p) { return reinterpret_cast<tracked_cache*>(p); }

int init(void*) { return inner_methods.xInit(inner_methods.pArg); }
void shutdown(void*) { inner_methods.xShutdown(inner_methods.pArg); }

sqlite3_pcache* create(int page_size, int extra, int purgeable) {
    sqlite3_pcache* inner = inner_methods.xCreate(page_size, extra, purgeable);
    if (!inner) return nullptr;
    // PENDING_BYTE is 0x40000000 unless a test build moves it; balance_nonroot's scratch
    // page is PENDING_BYTE / page size + 1.
    auto scratch = static_cast<unsigned>(0x40000000u / static_cast<unsigned>(page_size) + 1);
    return reinterpret_cast<sqlite3_pcache*>(new tracked_cache{inner, scratch});
}

void cachesize(sqlite3_pcache* p, int pages) { inner_methods.xCachesize(tracked(p)->inner, pages); }
int pagecount(sqlite3_pcache* p) { return inner_methods.xPagecount(tracked(p)->inner); }

sqlite3_pcache_page* fetch(sqlite3_pcache* p, unsigned key, int create_flag) {
    tracked_cache* c = tracked(p);
    sqlite3_pcache_page* page = inner_methods.xFetch(c->inner, key, create_flag);
    if (page && key > c->max_key) c->max_key = key;
    return page;
}

void unpin(sqlite3_pcache* p, sqlite3_pcache_page* page, int discard) {
    inner_methods.xUnpin(tracked(p)->inner, page, discard);
}

void rekey(sqlite3_pcache* p, sqlite3_pcache_page* page, unsigned old_key, unsigned new_key) {
    tracked_cache* c = tracked(p);
    inner_methods.xRekey(c->inner, page, old_key, new_key);
    if (new_key == c->scratch_key && new_key > c->max_key) {
        // Left again two moves later, in the same split: not counted in max_key.
        c->at_scratch = true;
        scratch_moves.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    if (old_key == c->scratch_key) c->at_scratch = false;
    c->max_key = std::max(c->max_key, new_key);
}

void truncate(sqlite3_pcache* p, unsigned limit) {
    tracked_cache* c = tracked(p);
    // Drops every page numbered limit or above. SQLite's cache scans all of its pages when
    // it once held one far above the limit (the scratch page): skip when none is there.
    if (limit > c->max_key && !c->at_scratch) {
        truncates_skipped.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    inner_methods.xTruncate(c->inner, limit);
    truncates_passed.fetch_add(1, std::memory_order_relaxed);
    if (limit <= c->scratch_key) c->at_scratch = false;
    c->max_key = std::min(c->max_key, limit > 0 ? limit - 1 : 0);
}

void destroy(sqlite3_pcache* p) {
    tracked_cache* c = tracked(p);
    inner_methods.xDestroy(c->inner);
    delete c;
}

void shrink(sqlite3_pcache* p) { inner_methods.xShrink(tracked(p)->inner); }

}  // namespace

void install_page_cache() {
    static const bool installed = [] {
        if (sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &inner_methods) != SQLITE_OK) return false;
        sqlite3_pcache_methods2 wrapper{.iVersion = 2, .pArg = nullptr, .xInit = init, .xShutdown = shutdown,
                                        .xCreate = create, .xCachesize = cachesize, .xPagecount = pagecount,
                                        .xFetch = fetch, .xUnpin = unpin, .xRekey = rekey, .xTruncate = truncate,
                                        .xDestroy = destroy, .xShrink = shrink};
        // SQLITE_MISUSE when SQLite is already initialised: its own cache then stays.
        return sqlite3_config(SQLITE_CONFIG_PCACHE2, &wrapper) == SQLITE_OK;
    }();
    (void)installed;
}

page_cache_counts page_cache_counts_now() {
    return {scratch_moves.load(std::memory_order_relaxed), truncates_skipped.load(std::memory_order_relaxed),
            truncates_passed.load(std::memory_order_relaxed)};
}

}  // namespace webhookd::sqlite
