#include "util/ids.hpp"

#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <random>
#include <stdexcept>

namespace webhookd {

namespace {

constexpr std::string_view crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

std::mt19937_64& generator() {
    thread_local std::mt19937_64 gen = [] {
        std::array<std::uint64_t, 4> seed{};
        if (RAND_bytes(reinterpret_cast<unsigned char*>(seed.data()), sizeof seed) != 1) {
            throw std::runtime_error("RAND_bytes failed");
        }
        std::seed_seq seq(seed.begin(), seed.end());
        return std::mt19937_64(seq);
    }();
    return gen;
}

}  // namespace

std::string make_ulid(std::chrono::system_clock::time_point at) {
    auto ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(at.time_since_epoch()).count());
    std::string out(26, '0');
    // 10 chars of time (50 bits; the top 2 are zero for 48-bit milliseconds).
    for (std::size_t i = 10; i-- > 0;) {
        out[i] = crockford[ms & 31];
        ms >>= 5;
    }
    // 16 chars of randomness: 12 from one 64-bit draw, 4 from another (80 bits).
    std::uint64_t r = generator()();
    for (std::size_t i = 10; i < 26; ++i) {
        if (i == 22) r = generator()();
        out[i] = crockford[r & 31];
        r >>= 5;
    }
    return out;
}

std::string new_id(std::string_view prefix, std::chrono::system_clock::time_point at) {
    std::string id(prefix);
    id += '_';
    id += make_ulid(at);
    return id;
}

bool is_valid_token(std::string_view text, std::size_t max_len) {
    if (text.empty() || text.size() > max_len) return false;
    for (char c : text) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                  c == '.' || c == ':' || c == '-';
        if (!ok) return false;
    }
    return true;
}

}  // namespace webhookd
