#pragma once
// The dispatcher: leases due deliveries from the outbox, makes their attempts through the
// delivery client, and records each outcome (delivered, retry at, dead letter).
//
// All its state lives on one strand. Per endpoint it knows the earliest due time, the
// attempts in flight, the deliveries leased ahead and whether the endpoint may be sent
// to; it claims only for endpoints that are due, oldest due first, so one slow or dead
// endpoint never holds up the others and no query walks another endpoint's backlog.
// An endpoint with a backlog keeps up to max_in_flight_per_endpoint attempts in flight
// and as many more leased ahead in its ready queue: when an attempt ends the next one
// starts from the queue at once, while the claim that refills the queue goes through the
// writer in the background. Leases held ahead are given back when the endpoint is paused
// or disabled and at stop, and a queued delivery whose lease is too close to its end is
// given back instead of attempted. Claims and outcomes go through the writer; outcomes
// waiting together are recorded in one transaction.
//
// The store is the truth: every rescan_interval (and when ingest names an endpoint it has
// not loaded, or the admin API changed something) the dispatcher scans the store. A scan
// reads the endpoints changed since the last one (by their revision, so its cost follows
// the changes, not the tens of thousands of endpoints a platform with tenants has), all of
// them after a deletion, and the due times of the next due_sweep endpoints in turn, so
// work written by anyone else is picked up.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/unordered/unordered_flat_map.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "delivery/retry_policy.hpp"
#include "store/outbox_store.hpp"
#include "util/string_hash.hpp"
#include "webhookd/clock.hpp"

namespace spdlog {
class logger;
}

namespace webhookd {

class writer;
class delivery_client;
struct metrics;
struct delivery_response;

struct dispatcher_options {
    std::size_t max_in_flight = 1024;
    std::size_t max_in_flight_per_endpoint = 64;
    duration lease = std::chrono::seconds(60);            // > attempt_timeout
    duration attempt_timeout = std::chrono::seconds(30);  // delivery.timeout: an attempt ends within it
    duration rescan_interval = std::chrono::seconds(5);
    std::size_t due_sweep = 2048;                         // endpoints whose due time each scan reads again
    std::string owner = "webhookd";                       // lease owner written to rows
    bool release_leases_at_start = true;                  // single-instance stores (SQLite)
    bool tls_unverified = false;                          // delivery.dangerous_skip_tls_verify: warn per endpoint
    health_policy health;                                 // endpoints.disable_after, endpoints.failing_after
};

class dispatcher : public std::enable_shared_from_this<dispatcher> {
public:
    dispatcher(boost::asio::io_context& ioc, writer& writer, delivery_client& client, retry_policy policy,
               const clock& clock, metrics& metrics, dispatcher_options options, std::shared_ptr<spdlog::logger> log);

    // Releases stale leases, loads endpoints and due times, and starts delivering.
    void start();

    // Stops claiming. Attempts in flight finish and are recorded. Thread-safe.
    void stop();

    // True once stop() was called and nothing is in flight, waiting to be recorded or
    // leased ahead.
    bool idle() const { return idle_.load(); }

    // When the last endpoint scan finished (steady clock): one finishes every
    // rescan_interval while the dispatcher and the writer under it make progress, busy or
    // not. The watchdog's liveness sign. Thread-safe.
    std::chrono::steady_clock::time_point last_scan() const {
        return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(last_scan_.load()));
    }
    duration rescan_interval() const { return options_.rescan_interval; }

    // New deliveries for these endpoints are due at due_ms (called after ingest commits).
    // Thread-safe.
    void notify_due(std::vector<endpoint_ref> endpoints, std::int64_t due_ms);

    // Endpoints or deliveries were changed by someone else (the admin API): reload them at
    // the next chance. Thread-safe.
    void notify_changed();

private:
    struct endpoint_state {
        endpoint_record record;
        std::optional<std::int64_t> next_due;  // earliest due pending delivery, if any
        std::size_t in_flight = 0;
        std::deque<claimed_delivery> ready;    // leased ahead, oldest due first
        bool listed = false;                   // in with_ready_
        std::uint64_t seen_in_scan = 0;        // the last complete scan that had it
        // Its rate_limit's token bucket (burst = rate): tokens left when last counted, and then.
        double tokens = 0;
        std::optional<std::int64_t> tokens_at_ms;
        // Backpressure: the attempts it may have in flight, halved by each 429 or 503
        // answer (to 1 at least) and raised by one with each success, up to
        // max_in_flight_per_endpoint.
        std::size_t concurrency = 1;
        bool sendable() const { return record.enabled && !record.paused_at_ms; }
        // The attempts it may have in flight now: one under FIFO ordering.
        std::size_t concurrency_cap() const { return record.fifo ? 1 : concurrency; }
    };
    // A lease to give back, and whose endpoint is due again once it is.
    struct lease_ref {
        std::int64_t delivery_id;
        std::string endpoint_id;
    };

    // Looked up for every new delivery and several times per attempt, among tens of
    // thousands with tenants: an open-addressing table, where a lookup reads the slot's
    // metadata and the slot, not a bucket, the node before and the node. The states are
    // held by pointer, so that they stay where they are as the table grows (the indexes
    // below point to them).
    using endpoint_map =
        boost::unordered_flat_map<std::string, std::unique_ptr<endpoint_state>, string_hash, std::equal_to<>>;
    using endpoint_map_iterator = endpoint_map::iterator;

    // An attempt's outcome, decided, waiting to be recorded; counted in the metrics only
    // once the record committed.
    struct decided_outcome {
        attempt_record record;
        std::optional<double> latency_s;  // ingest to delivery, for a success
        std::int64_t endpoint_seq = 0;    // for find_endpoint; 0: unknown
    };

    // Every store call goes through the writer in a lazy unit: `apply` runs on the writer
    // thread, then `on_done(*this, status)` on the strand. False when the writer refused
    // the unit (stopping or full); on_done is then not called.
    template <class Apply, class Done>
    bool submit(Apply apply, Done on_done);

    // Each do_/on_ pair is one round trip through the writer; the on_ half runs on the strand.
    void do_release_leases();
    void on_leases_released(const status& st, std::int64_t released);
    void rescan();
    void on_scanned(const status& st, endpoint_scan scan, std::uint64_t changes_seen);
    // A scanned endpoint's settings replace the ones held; its state (in flight, queued) stays.
    void apply_record(endpoint_record rec);
    // Drops an endpoint that is gone from the store, and its queued deliveries.
    void forget(endpoint_map_iterator it);
    // The endpoint's state, or null when it is not loaded (unknown or deleted). With its
    // seq (0: unknown), through the seq's notice slot when that holds it: on the paths
    // every attempt takes (its claim, its end, its record), a lookup by id missed the
    // cache in a table of tens of thousands of endpoints, three times per delivery.
    endpoint_state* find_endpoint(std::string_view id, std::int64_t seq = 0) const;
    void claim(std::int64_t now_ms);
    void on_claimed(const status& st, std::vector<endpoint_claim> results, const std::vector<claim_order>& orders);
    void flush_releases();
    void on_released(const status& st, const std::vector<lease_ref>& batch);
    void flush_outcomes();
    void record(std::shared_ptr<std::vector<decided_outcome>> batch);
    void on_recorded(const status& st, std::shared_ptr<std::vector<decided_outcome>> batch);
    // What the recorded outcomes did beyond their deliveries: endpoints disabled, and
    // deliveries of operational events made due.
    void apply_effects(std::vector<attempt_effects>& effects);
    // Whether the endpoint's rate_limit lets one more attempt start now; if not, when it
    // will (rate_wake_ms_). Always true without a limit.
    bool token_ready(endpoint_state& ep, std::int64_t now_ms);
    // The deliveries an endpoint may hold leased (in flight and ready): twice its
    // concurrency cap, or one second's worth under a rate_limit; one under FIFO.
    std::size_t lease_cap(const endpoint_state& ep) const;
    // Backpressure after an answer: halves ep's concurrency on a 429 or 503, raises it by
    // one on a success, and shows it in webhookd_endpoint_concurrency.
    void adapt_concurrency(endpoint_state& ep, const delivery_response& r);
    void park(std::int64_t delivery_id, std::string reason);
    void count_recorded(const decided_outcome& o);

    // The tenant of an endpoint, for log lines ("-": a platform or unknown endpoint).
    std::string_view tenant_of(const std::string& endpoint_id) const;

    // Sets an endpoint's due time (none: nothing pending), keeping due_index_ and its
    // notice slot in step.
    void set_next_due(endpoint_state& ep, std::optional<std::int64_t> due);
    // Writes what a notice for ep would change into its seq's slot (after its due time or
    // its record changed); forget_notice_slot empties the slot if ep holds it.
    void update_notice_slot(endpoint_state& ep);
    void forget_notice_slot(const endpoint_state& ep);
    // The same when `due` is earlier than the one it has.
    void advance_next_due(endpoint_state& ep, std::int64_t due);
    // Puts ep in with_ready_ when it has queued deliveries and is not there yet.
    void list_ready(endpoint_state& ep);

    void pump();
    void start_ready(std::int64_t now_ms);
    // Moves ep's queued deliveries to the leases to give back (flush_releases sends them;
    // callers flush once they are done walking: a release the writer refuses pumps).
    void take_back(endpoint_state& ep);
    void arm_timer(std::int64_t now_ms, std::optional<std::int64_t> wake_ms);
    // Starts d's attempt to ep, which start_ready() has at hand (a lookup less per attempt).
    void attempt(endpoint_state& ep, claimed_delivery d);
    void on_attempt_done(claimed_delivery d, std::int64_t seq, std::int64_t started_ms, delivery_response r);
    void update_idle();

    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    boost::asio::steady_timer timer_;
    writer& writer_;
    delivery_client& client_;
    retry_policy policy_;
    const clock& clock_;
    metrics& metrics_;
    dispatcher_options options_;
    std::shared_ptr<spdlog::logger> log_;

    // Strand-only state.
    endpoint_map endpoints_;
    // What each pump looks at, so that its work follows the endpoints with work, not all
    // of them (tens of thousands with tenants): the sendable endpoints with a due time, by
    // it, and the endpoints whose ready queue holds deliveries, in turn (each pump starts
    // attempts round them until the global cap is reached). Entries point into endpoints_;
    // an endpoint leaves both before it is erased.
    std::set<std::pair<std::int64_t, endpoint_state*>> due_index_;
    // What a notice of new deliveries would change, by endpoint seq. Nearly every notice
    // changes nothing (the endpoint is due no later already); with tens of thousands of
    // endpoints, finding that out in endpoints_ missed the cache for the table's slot and
    // again for the state (profiled: 0.6 us per event ingested with 10,000 tenants, against
    // 0.04 with one). A slot is read without the state. Seqs are dense (each endpoint's
    // is the largest so far plus one, never one a deleted endpoint had); one at or beyond
    // max_notice_slot() has no slot, and its notices look it up by id. The slot also
    // points to the state, for find_endpoint with a seq.
    struct notice_slot {
        std::size_t id_hash = 0;  // string_hash of the id of the endpoint that holds the seq
        // A notice of deliveries due at or after this changes nothing: the endpoint's own
        // due time, or the lowest for a FIFO endpoint with a queue (the new deliveries wait
        // behind its head); the highest when it has nothing pending or the slot is empty.
        std::int64_t settled_from = std::numeric_limits<std::int64_t>::max();
        endpoint_state* state = nullptr;  // the endpoint that holds the seq (find_endpoint)
    };
    std::vector<notice_slot> notice_slots_;
    // The slot of a seq, or null when the seq has none (0, or beyond the vector).
    const notice_slot* notice_slot_of(std::int64_t seq) const;
    std::size_t max_notice_slot() const { return 4 * endpoints_.size() + 4096; }
    std::deque<endpoint_state*> with_ready_;
    std::size_t in_flight_ = 0;
    std::size_t ready_ = 0;        // deliveries in all ready queues
    bool claiming_ = false;        // a claim or rescan unit is with the writer
    bool recording_ = false;       // an outcome unit is with the writer
    std::size_t recording_units_ = 0;  // outcome (and park) units with the writer
    bool releasing_ = false;       // a release unit is with the writer
    std::uint64_t changes_ = 0;       // notify_changed() calls
    std::uint64_t changes_seen_ = 0;  // of those, how many the last finished scan has loaded
    bool started_ = false;
    bool stopping_ = false;
    std::int64_t next_rescan_ms_ = 0;
    scan_mark scanned_;                // where the last scan left the store
    std::int64_t sweep_next_ = 0;      // where the next due sweep starts
    std::uint64_t complete_scans_ = 0;
    std::optional<std::int64_t> armed_for_ms_;  // the timer's wake time while it is set
    std::optional<std::int64_t> rate_wake_ms_;  // the first time a rate-limited endpoint gets a token
    bool rescan_requested_ = false;  // ingest named an endpoint not loaded yet: rescan at the next chance
    std::vector<decided_outcome> outcomes_;  // decided, not yet given to the writer
    std::int64_t outcomes_retry_at_ms_ = 0; // after a failed write of outcomes: not before then
    std::vector<lease_ref> releases_;       // leases to give back, not yet given to the writer
    std::set<std::string, std::less<>> warned_tls_;  // https endpoints already warned about
    std::mt19937_64 random_{std::random_device{}()};
    std::atomic<bool> idle_{false};
    std::atomic<std::chrono::steady_clock::rep> last_scan_{std::chrono::steady_clock::now().time_since_epoch().count()};
};

}  // namespace webhookd
