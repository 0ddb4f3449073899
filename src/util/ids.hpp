#pragma once
// Identifiers: time-ordered, collision-resistant, URL-safe. Not secrets: the random
// part comes from a fast PRNG (seeded by OpenSSL), not a CSPRNG.

#include <chrono>
#include <string>
#include <string_view>

namespace webhookd {

// A ULID (26 chars of Crockford base32: 48-bit milliseconds + 80 random bits).
// Sorts by time; random bits come from a per-thread generator seeded by OpenSSL.
std::string make_ulid(std::chrono::system_clock::time_point at);

// "<prefix>_<ulid>", for example new_id("evt", now) = "evt_01JS2...".
std::string new_id(std::string_view prefix, std::chrono::system_clock::time_point at);

// True when text is 1..max_len chars of [A-Za-z0-9_.:-] (event ids and event types).
bool is_valid_token(std::string_view text, std::size_t max_len);

}  // namespace webhookd
