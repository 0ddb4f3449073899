#include "metrics/metrics.hpp"

#include <cmath>
#include <cstdio>

#include "store/outbox_store.hpp"
#include "webhookd/version.hpp"

namespace webhookd {

namespace {

std::string number(double v) {
    if (std::isinf(v)) return "+Inf";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

void header(std::string& out, const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

// `name{label="value"} v`, or `name v` when label is empty.
template <class T>
void line(std::string& out, std::string_view name, T v, std::string_view label = {}, std::string_view value = {}) {
    out.append(name);
    if (!label.empty()) {
        out += '{';
        out.append(label);
        out += "=\"";
        out.append(value);
        out += "\"}";
    }
    out += ' ';
    out += std::to_string(v);
    out += '\n';
}

const std::vector<double> latency_bounds = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                            0.5,   1,      2.5,   5,    10,    30,   60,  300,
                                            900,   3600,   21600, 86400, 129600, 172800};
// The default ladder's last attempt is due 31 h 21 min after ingest (plus 10 % jitter on
// each step): the 36 h and 48 h buckets hold the slowest deliveries it can make.
const std::vector<double> attempt_bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1,    0.25,  0.5,    1,     2.5,  5,     10, 30};
const std::vector<double> group_bounds = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096};

}  // namespace

void endpoint_concurrency::set(std::string_view endpoint_id, std::size_t value) {
    std::lock_guard lock(m_);
    auto it = lowered_.find(endpoint_id);
    if (value >= cap()) {
        if (it != lowered_.end()) lowered_.erase(it);
    } else if (it != lowered_.end()) {
        it->second = value;
    } else {
        lowered_.emplace(std::string(endpoint_id), value);
    }
}

std::size_t endpoint_concurrency::of(std::string_view endpoint_id) const {
    std::lock_guard lock(m_);
    auto it = lowered_.find(endpoint_id);
    return it == lowered_.end() ? cap() : it->second;
}

histogram::histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), buckets_(bounds_.size()) {}

void histogram::observe(double v) {
    std::size_t i = 0;
    while (i < bounds_.size() && v > bounds_[i]) ++i;
    if (i < bounds_.size()) buckets_[i].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_micros_.fetch_add(static_cast<std::uint64_t>(std::llround(v * 1e6)), std::memory_order_relaxed);
}

void histogram::render(std::string& out, const std::string& name) const {
    const std::string bucket = std::string(name).append("_bucket");
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < bounds_.size(); ++i) {
        cumulative += buckets_[i].load(std::memory_order_relaxed);
        line(out, bucket, cumulative, "le", number(bounds_[i]));
    }
    std::uint64_t total = count_.load(std::memory_order_relaxed);
    line(out, bucket, total, "le", "+Inf");
    out.append(name).append("_sum ");
    out.append(number(static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6)).append("\n");
    line(out, std::string(name).append("_count"), total);
}

metrics::metrics()
    : delivery_latency(latency_bounds),
      attempt_duration(attempt_bounds),
      ingest_batch_size(group_bounds),
      writer_group_size(group_bounds) {}

std::string metrics::render(const outbox_counts& counts) const {
    std::string out;
    out.reserve(8192);
    header(out, "webhookd_build_info", "gauge", "Build information.");
    line(out, "webhookd_build_info", 1, "version", version);

    header(out, "webhookd_events_ingested_total", "counter", "Events accepted and committed (duplicates excluded).");
    line(out, "webhookd_events_ingested_total", events_ingested.value());

    header(out, "webhookd_attempts_total", "counter", "HTTP delivery attempts by outcome.");
    for (std::size_t i = 0; i < attempts.size(); ++i) {
        line(out, "webhookd_attempts_total", attempts[i].value(), "outcome", attempt_outcome_names[i]);
    }

    header(out, "webhookd_test_sends_total", "counter",
           "Test events sent through POST /v1/endpoints/{id}/test, by outcome (not in webhookd_attempts_total).");
    for (std::size_t i = 0; i < test_sends.size(); ++i) {
        line(out, "webhookd_test_sends_total", test_sends[i].value(), "outcome", attempt_outcome_names[i]);
    }

    header(out, "webhookd_deliveries_total", "counter", "Deliveries that reached a final state.");
    line(out, "webhookd_deliveries_total", deliveries_delivered.value(), "result", "delivered");
    line(out, "webhookd_deliveries_total", deliveries_dead.value(), "result", "dead");

    header(out, "webhookd_deliveries_pending", "gauge", "Deliveries created, not yet delivered nor dead.");
    line(out, "webhookd_deliveries_pending", counts.pending);

    header(out, "webhookd_dead_letters", "gauge", "Deliveries in the dead-letter table.");
    line(out, "webhookd_dead_letters", counts.dead_letters);

    header(out, "webhookd_delivery_latency_seconds", "histogram", "Time from ingest to successful delivery.");
    delivery_latency.render(out, "webhookd_delivery_latency_seconds");

    header(out, "webhookd_attempt_duration_seconds", "histogram", "Duration of one HTTP attempt.");
    attempt_duration.render(out, "webhookd_attempt_duration_seconds");

    header(out, "webhookd_ingest_rejected_total", "counter", "Ingest requests refused before storage.");
    line(out, "webhookd_ingest_rejected_total", ingest_rejected_overloaded.value(), "reason", "overloaded");

    header(out, "webhookd_ingest_batch_size", "histogram", "Events per accepted ingest request.");
    ingest_batch_size.render(out, "webhookd_ingest_batch_size");

    header(out, "webhookd_attempts_in_flight", "gauge", "HTTP delivery attempts under way.");
    line(out, "webhookd_attempts_in_flight", attempts_in_flight.value());

    header(out, "webhookd_endpoint_deliveries_pending", "gauge", "Pending deliveries per endpoint.");
    for (const auto& e : counts.endpoints) line(out, "webhookd_endpoint_deliveries_pending", e.pending, "endpoint", e.endpoint_id);

    header(out, "webhookd_endpoint_consecutive_failures", "gauge",
           "Failed attempts since the endpoint's last successful one.");
    for (const auto& e : counts.endpoints) {
        line(out, "webhookd_endpoint_consecutive_failures", e.consecutive_failures, "endpoint", e.endpoint_id);
    }

    header(out, "webhookd_endpoint_concurrency", "gauge",
           "Attempts the endpoint may have in flight: max_in_flight_per_endpoint, halved by each 429 or 503 "
           "answer and raised by one with each success.");
    for (const auto& e : counts.endpoints) {
        line(out, "webhookd_endpoint_concurrency", concurrency.of(e.endpoint_id), "endpoint", e.endpoint_id);
    }

    header(out, "webhookd_writer_queue_depth", "gauge", "Events waiting for the writer.");
    line(out, "webhookd_writer_queue_depth", writer_queue_depth.value());

    header(out, "webhookd_writer_group_size", "histogram", "Write units per group-commit transaction.");
    writer_group_size.render(out, "webhookd_writer_group_size");
    return out;
}

}  // namespace webhookd
