#include "store/sqlite_memory.hpp"

#include <sqlite3.h>

#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace webhookd::sqlite {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool reuse = false;  // the sanitizer sees every block's life
#else
constexpr bool reuse = true;
#endif

// Each block starts with its usable size, as SQLite's own allocator does: xSize reads it.
constexpr std::size_t header = 8;
constexpr std::size_t smallest = 64;  // size classes: 64 << 0 .. 64 << 4
constexpr std::size_t largest = 1024;
constexpr int classes = 5;
// Larger blocks, up to largest_kept bytes, are kept by their exact size in a few slots: a
// B-tree balance and the parser each take one and give it back at once.
constexpr int large_slots = 4;
constexpr std::size_t largest_kept = 64 * 1024;

int class_of(std::size_t n) { return n <= smallest ? 0 : std::bit_width(n - 1) - 6; }
std::size_t class_size(int c) { return smallest << c; }
std::size_t round8(std::size_t n) { return (n + 7) & ~std::size_t{7}; }
std::uint64_t* header_of(void* p) { return static_cast<std::uint64_t*>(p) - 1; }

struct free_block {
    free_block* next;
};

// Trivially destructible, so that reaching it costs no guard: drain_at_exit empties it.
struct free_lists {
    free_block* head[classes]{};
    std::uint32_t count[classes]{};
    void* large[large_slots]{};
    int next_large = 0;  // the slot a large block replaces when all are taken
    bool draining = false;  // the thread is exiting: frees go to free()
    bool armed = false;     // drain_at_exit is constructed
};
thread_local free_lists lists;

struct drain_at_exit {
    bool constructed = true;
    ~drain_at_exit() {
        lists.draining = true;
        for (int c = 0; c < classes; ++c) {
            while (free_block* b = lists.head[c]) {
                lists.head[c] = b->next;
                std::free(header_of(b));
            }
            lists.count[c] = 0;
        }
        for (void*& b : lists.large) {
            if (b) std::free(header_of(b));
            b = nullptr;
        }
    }
};
thread_local drain_at_exit drain;

void* allocate(int n) {
    auto size = static_cast<std::size_t>(n > 0 ? n : 1);
    if (reuse && size <= largest) {
        int c = class_of(size);
        if (free_block* b = lists.head[c]) {
            lists.head[c] = b->next;
            --lists.count[c];
            return b;
        }
        size = class_size(c);
    } else {
        size = round8(size);
        if (reuse) {
            for (void*& b : lists.large) {
                if (b && *header_of(b) == size) return std::exchange(b, nullptr);
            }
        }
    }
    auto* h = static_cast<std::uint64_t*>(std::malloc(size + header));
    if (!h) return nullptr;
    *h = size;
    return h + 1;
}

void release(void* p) {
    if (!p) return;
    std::size_t size = *header_of(p);
    if (!reuse || lists.draining || size > largest_kept) return std::free(header_of(p));
    if (!lists.armed) lists.armed = drain.constructed;  // its destructor runs at thread exit
    if (size > largest) {
        for (void*& b : lists.large) {
            if (!b) {
                b = p;
                return;
            }
        }
        // All taken: this block replaces the slots' blocks in turn, so that sizes no
        // longer asked for do not hold them for good.
        void*& b = lists.large[lists.next_large];
        lists.next_large = (lists.next_large + 1) % large_slots;
        std::free(header_of(std::exchange(b, p)));
        return;
    }
    int c = class_of(size);
    if (lists.count[c] >= free_list_limit) return std::free(header_of(p));
    auto* b = static_cast<free_block*>(p);
    b->next = lists.head[c];
    lists.head[c] = b;
    ++lists.count[c];
}

int size_of(void* p) { return p ? static_cast<int>(*header_of(p)) : 0; }

int roundup(int n) {
    auto size = static_cast<std::size_t>(n > 0 ? n : 1);
    return static_cast<int>(reuse && size <= largest ? class_size(class_of(size)) : round8(size));
}

void* reallocate(void* p, int n) {
    auto want = static_cast<std::size_t>(roundup(n));
    std::size_t have = *header_of(p);
    if (want == have) return p;
    if (have > largest && want > largest) {
        auto* h = static_cast<std::uint64_t*>(std::realloc(header_of(p), want + header));
        if (!h) return nullptr;
        *h = want;
        return h + 1;
    }
    void* q = allocate(static_cast<int>(want));
    if (!q) return nullptr;
    std::memcpy(q, p, have < want ? have : want);
    release(p);
    return q;
}

int init(void*) { return SQLITE_OK; }
void shutdown(void*) {}

bool installed = false;

}  // namespace

void install_memory() {
    static const bool once = [] {
        sqlite3_mem_methods methods{allocate, release, reallocate, size_of, roundup, init, shutdown, nullptr};
        // SQLITE_MISUSE when SQLite is already initialised: its own allocator then stays.
        installed = sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) == SQLITE_OK;
        return true;
    }();
    (void)once;
}

bool memory_reuses_blocks() { return reuse && installed; }

}  // namespace webhookd::sqlite
