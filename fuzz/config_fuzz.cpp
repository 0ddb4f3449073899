// Feeds any bytes as a config file to parse_config (comments and trailing commas removed
// by strip_json_comments), then validate() and to_json() (--check-config) on what it
// accepts. Invariants: nothing throws; strip_json_comments keeps the length and every line
// break (so parse errors point into the original text); an accepted config holds only
// values its readers allow (durations up to 10 years, a schedule of 1 to 100, jitter in
// [0, 1], io_threads 1 to 64, every allowed_cidrs entry accepted by parse_cidr, which the
// daemon uses on them); to_json of it parses back to a config with the same to_json and
// the same validate() verdict.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "delivery/address_guard.hpp"
#include "fuzz_check.hpp"
#include "webhookd/config.hpp"

namespace {

using webhookd::duration;

constexpr duration max_duration = std::chrono::hours(24 * 3650);

void check_duration(duration d, bool allow_zero, const char* key) {
    FUZZ_CHECK(d <= max_duration && (allow_zero ? d.count() >= 0 : d.count() > 0),
               std::string(key) + " = " + std::to_string(d.count()) + " ms is out of range");
}

void check_values(const webhookd::config& c) {
    for (const webhookd::listener_config* l : {static_cast<const webhookd::listener_config*>(&c.ingest),
                                               static_cast<const webhookd::listener_config*>(&c.admin)}) {
        FUZZ_CHECK(l->max_body > 0 && l->max_header > 0 && l->max_connections > 0, "a listener limit is zero");
        check_duration(l->request_timeout, false, "request_timeout");
        check_duration(l->idle_timeout, false, "idle_timeout");
        for (const auto& token : l->tokens) {
            FUZZ_CHECK(!token.empty() &&
                           std::all_of(token.begin(), token.end(), [](char ch) { return ch > 0x20 && ch < 0x7f; }),
                       "a blank token, or one with a space or control character, was accepted");
        }
    }
    FUZZ_CHECK(c.ingest.max_batch_events > 0 && c.ingest.queue_limit > 0, "an ingest limit is zero");
    FUZZ_CHECK(!c.storage.path.empty(), "storage.path is empty");
    check_duration(c.storage.busy_timeout, false, "storage.busy_timeout");
    check_duration(c.storage.delivered_retention, true, "storage.delivered_retention");
    check_duration(c.delivery.timeout, false, "delivery.timeout");
    for (const auto& range : c.delivery.allowed_cidrs) {
        // Parsed once, at load: what --check-config prints parses back to the same network.
        const std::string text = webhookd::to_string(range);
        FUZZ_CHECK(webhookd::parse_cidr(text) == range, "allowed_cidrs entry " + text + " does not round-trip");
    }
    FUZZ_CHECK(!c.retry.schedule.empty() && c.retry.schedule.size() <= 100, "retry.schedule size");
    for (const duration d : c.retry.schedule) check_duration(d, true, "retry.schedule[]");
    FUZZ_CHECK(c.retry.jitter >= 0.0 && c.retry.jitter <= 1.0, "retry.jitter out of [0, 1]");
    check_duration(c.dead_letter.retention, true, "dead_letter.retention");
    check_duration(c.dead_letter.purge_interval, false, "dead_letter.purge_interval");
    FUZZ_CHECK(c.io_threads >= 1 && c.io_threads <= 64, "io_threads out of 1..64");
    check_duration(c.shutdown_timeout, false, "shutdown_timeout");
    check_duration(c.drain_delay, true, "drain_delay");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);

    if (const auto stripped = webhookd::strip_json_comments(text)) {
        FUZZ_CHECK(stripped->size() == text.size(), "strip_json_comments changed the length");
        for (std::size_t i = 0; i < text.size(); ++i) {
            FUZZ_CHECK((text[i] == '\n') == ((*stripped)[i] == '\n'),
                       "strip_json_comments moved a line break at offset " + std::to_string(i));
        }
    }

    const auto parsed = webhookd::parse_config(text);
    if (!parsed) {
        FUZZ_CHECK(parsed.err().code == webhookd::error_code::invalid_config,
                   "error code " + std::string(webhookd::to_string(parsed.err().code)));
        return 0;
    }
    check_values(*parsed);
    const auto verdict = webhookd::validate(*parsed);

    const std::string shown = webhookd::to_json(*parsed);
    const auto again = webhookd::parse_config(shown);
    FUZZ_CHECK(again.ok(),
               "to_json output does not parse: " + (again ? std::string() : again.err().message) + "\n" + shown);
    FUZZ_CHECK(webhookd::to_json(*again) == shown, "to_json is not stable across a round trip:\n" + shown);
    FUZZ_CHECK(webhookd::validate(*again).ok() == verdict.ok(), "validate() changed its verdict across to_json");
    return 0;
}
