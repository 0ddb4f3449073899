#pragma once
// Prometheus metrics: lock-free counters, gauges and histograms, and the text exposition
// of all of them. Every metric is safe to update from any thread.

#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "util/attempt_outcome.hpp"
#include "util/string_hash.hpp"

namespace webhookd {

struct outbox_counts;

class counter {
public:
    void inc(std::uint64_t n = 1) { v_.fetch_add(n, std::memory_order_relaxed); }
    std::uint64_t value() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::uint64_t> v_{0};
};

class gauge {
public:
    void set(std::int64_t v) { v_.store(v, std::memory_order_relaxed); }
    void add(std::int64_t n) { v_.fetch_add(n, std::memory_order_relaxed); }
    std::int64_t value() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<std::int64_t> v_{0};
};

// Cumulative histogram over fixed upper bounds (plus +Inf).
class histogram {
public:
    explicit histogram(std::vector<double> bounds);
    void observe(double v);
    // Appends the _bucket, _sum and _count lines for `name`.
    void render(std::string& out, const std::string& name) const;
    std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }

private:
    std::vector<double> bounds_;
    std::vector<std::atomic<std::uint64_t>> buckets_;  // per bound, non-cumulative
    std::atomic<std::uint64_t> count_{0};
    std::atomic<std::uint64_t> sum_micros_{0};         // sum in millionths
};

// webhookd_endpoint_concurrency: the attempts each endpoint may have in flight. Only the
// endpoints whose receiver asked for less (429, 503) are held, so the table stays small
// with tens of thousands of endpoints; every other one is at the cap.
class endpoint_concurrency {
public:
    void set_cap(std::size_t cap) { cap_.store(cap, std::memory_order_relaxed); }
    std::size_t cap() const { return cap_.load(std::memory_order_relaxed); }
    // `value` at the cap (or an endpoint gone: forget) removes the endpoint from the table.
    void set(std::string_view endpoint_id, std::size_t value);
    void forget(std::string_view endpoint_id) { set(endpoint_id, cap()); }
    std::size_t of(std::string_view endpoint_id) const;

private:
    std::atomic<std::size_t> cap_{0};
    mutable std::mutex m_;  // guards lowered_: set by the dispatcher, read by a scrape
    std::unordered_map<std::string, std::size_t, string_hash, std::equal_to<>> lowered_;
};

struct metrics {
    metrics();

    counter events_ingested;                          // webhookd_events_ingested_total
    std::array<counter, attempt_outcome_count> attempts;                  // webhookd_attempts_total{outcome}: deliveries only
    std::array<counter, attempt_outcome_count> test_sends;                // webhookd_test_sends_total{outcome}: POST .../test
    counter deliveries_delivered;                     // webhookd_deliveries_total{result="delivered"}
    counter deliveries_dead;                          // webhookd_deliveries_total{result="dead"}
    histogram delivery_latency;                       // webhookd_delivery_latency_seconds
    histogram attempt_duration;                       // webhookd_attempt_duration_seconds: the attempts of attempts
    counter ingest_rejected_overloaded;               // webhookd_ingest_rejected_total{reason="overloaded"}
    histogram ingest_batch_size;                      // webhookd_ingest_batch_size
    gauge writer_queue_depth;                         // webhookd_writer_queue_depth
    histogram writer_group_size;                      // webhookd_writer_group_size
    gauge attempts_in_flight;                         // webhookd_attempts_in_flight
    endpoint_concurrency concurrency;                 // webhookd_endpoint_concurrency{endpoint}

    // The Prometheus text exposition (format 0.0.4). The gauges that count rows
    // (webhookd_deliveries_pending, webhookd_dead_letters, the per-endpoint ones) come from
    // `counts`, read from the database for this scrape, so they are exact.
    std::string render(const outbox_counts& counts) const;
};

}  // namespace webhookd
