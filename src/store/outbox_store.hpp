#pragma once
// The outbox: every SQL statement of webhookd lives behind this interface, so a second
// backend (PostgreSQL as a shared outbox) can replace SQLite without touching callers.
//
// Threading: one writer thread owns write_group() and everything called from a write
// unit; read methods are called from that same thread unless a backend says otherwise.
//
// Errors: no method throws; each returns a status or result<T> whose error code is
//   storage_unavailable  transient (disk full, I/O error, locked, connection lost): nothing
//                        of the unit is stored and the same call may succeed later;
//   storage_error        the backend refused (a constraint, a damaged row): retrying the
//                        same call fails the same way;
//   not_found, conflict  for the admin writes and reads, as each method says;
//   secret_key_*         an endpoint secret that does not decrypt (see open_sqlite_outbox).
// Inside apply(), a backend may instead throw its own failure type from a write method;
// write_group() catches it and reports it to the unit with the codes above. The contract
// every backend keeps is tests/store/store_contract_test.cpp.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/admin_types.hpp"
#include "util/attempt_outcome.hpp"
#include "webhookd/result.hpp"

namespace webhookd {

// An event that passed validation, with its envelope built.
struct new_event {
    std::string id;
    std::optional<std::string> tenant;  // none: a platform event
    std::string type;
    std::string timestamp;      // RFC 3339
    std::string body;           // the envelope, sent byte-for-byte on every attempt
    std::size_t data_offset{};  // data = body[data_offset, body.size() - 1)
};

// What ingest answers for one event.
struct ingest_outcome {
    std::string id;
    std::optional<std::string> tenant;
    std::string type;
    std::string timestamp;
    std::int64_t deliveries{};  // deliveries created (for a duplicate: those of the original)
    bool duplicate{};
    std::vector<std::string> endpoint_ids;  // endpoints that got a delivery now (none for a duplicate)
    std::vector<std::int64_t> endpoint_seqs; // their seqs, in the same order
};

// An endpoint named by its id and its seq (endpoint_record::seq), for whoever keys by either.
struct endpoint_ref {
    std::string id;
    std::int64_t seq = 0;
    friend auto operator<=>(const endpoint_ref&, const endpoint_ref&) = default;
};

class outbox_store;

// One producer request's share of a group commit. apply() runs inside the group's
// transaction; done() runs once after the group committed (with the status of apply, or
// the commit's error). done() must not block: it hands the answer to its owner. apply()
// may run more than once for the same group: again, in a savepoint of its own, when
// another unit of the group failed (see write_group), or when the database aborted the
// whole transaction (PostgreSQL, a deadlock between instances). Each run replaces what the
// last one left in the unit, as nothing of it was stored.
class write_unit {
public:
    virtual ~write_unit() = default;
    virtual status apply(outbox_store& store, std::int64_t now_ms) = 0;
    // Called for every unit of a group before any applies: a unit that will insert events
    // names them to the store (stage_events), so that a backend paying a round trip per
    // statement writes the whole group's events with one. apply() must then call the store
    // exactly as it would have without.
    virtual void stage(outbox_store& /*store*/, std::int64_t /*now_ms*/) {}
    virtual void done(const status& outcome) = 0;
    // Events this unit carries, for the writer's queue bound.
    virtual std::size_t weight() const { return 1; }
    // False for work whose loss at a power failure breaks no promise: the dispatcher's
    // leases and outcomes (a lost one means the delivery is attempted again, which
    // at-least-once allows) and retention sweeps. A group made only of such units commits
    // without waiting for fsync; the WAL keeps commits in order, so the next durable
    // commit's fsync makes it durable too.
    virtual bool durable() const { return true; }
};

// An endpoint as the dispatcher needs it.
struct endpoint_record {
    std::string id;
    std::int64_t seq = 0;               // its creation order, and its key in the store's indexes
    std::optional<std::string> tenant;  // for the log lines of its deliveries
    std::string url;
    std::string body_mode;           // "envelope" | "data"
    std::string signature_format;    // "hex" | "sha256" | "stripe"
    std::string signature_header;
    std::string headers_json;        // JSON object of extra request headers
    bool enabled = true;
    std::optional<std::int64_t> paused_at_ms;
    std::vector<std::string> secrets;  // valid at load time, newest first
    std::vector<std::optional<std::int64_t>> secret_expires_ms;  // per secret: end of its grace period
    std::optional<std::int64_t> next_due_ms;  // earliest next_attempt_at of its pending deliveries
    std::optional<std::int64_t> rate_limit;   // attempts started per second, if limited
    bool fifo = false;                        // one attempt at a time, in ingest order
};

// Where a scan of the endpoints left the store: how far it read their changes, and how many
// endpoints were ever deleted (daemon_state 'endpoint_deletions'). -1: nothing seen yet.
struct scan_mark {
    // SQLite, whose writes are one at a time: the highest endpoint revision. PostgreSQL,
    // where revisions from a sequence can commit out of order: the oldest transaction still
    // running at the scan, so that the next scan reads every change made from it on.
    std::int64_t revision = -1;
    std::int64_t deletions = -1;
};

// What a scan of the endpoints read (outbox_store::scan_endpoints).
struct endpoint_scan {
    scan_mark mark;                        // to pass to the next scan
    bool complete = false;                 // `changed` holds every endpoint: drop those not in it
    std::vector<endpoint_record> changed;  // in creation order
    // The swept endpoints that have pending deliveries: id and earliest due time.
    std::vector<std::pair<std::string, std::int64_t>> due;
    std::int64_t sweep_next = 0;  // where the next sweep starts (sweep_after_seq); 0: from the first
};

// A delivery leased for one attempt.
struct claimed_delivery {
    std::int64_t id{};
    std::string endpoint_id;
    std::string event_id;
    std::string event_type;
    std::int64_t event_created_ms{};
    int attempt{};                   // 1-based number of the attempt about to be made
    int ladder_attempt{};            // the same, counted from the current ladder's start
    std::int64_t lease_until_ms{};   // the lease ends: the delivery is due again by itself
    std::string envelope;            // the event's envelope
    std::size_t data_offset{};       // its data: envelope[data_offset, size - 1)
};

// One endpoint's part of a claim: up to `limit` of its due deliveries.
struct claim_order {
    std::string endpoint_id;
    std::size_t limit{};
    // A FIFO endpoint: only the head of its queue (its pending delivery with the lowest
    // id), and only when that is due; limit is 1 at most.
    bool fifo = false;
    // For a backend that several instances share: the most leases of this endpoint that
    // all owners together may hold at once (its attempts in flight everywhere), and its
    // rate_limit counted across all of them. A single-instance backend ignores both: its
    // one dispatcher keeps to them already. 0: no shared cap.
    std::size_t shared_cap = 0;
    // The endpoint's seq (endpoint_record::seq), for a backend that keys its indexes by it;
    // 0: unknown, the backend finds it by the id.
    std::int64_t endpoint_seq = 0;
};

// What a claim leased for one endpoint, and the earliest due time of its pending
// deliveries after it (the leased ones are due again when their lease ends).
struct endpoint_claim {
    std::string endpoint_id;
    std::vector<claimed_delivery> deliveries;
    std::optional<std::int64_t> next_due;
};

// One HTTP attempt's record and what follows from it.
struct attempt_record {
    std::int64_t delivery_id{};      // 0: a test event, logged against the endpoint only
    std::string endpoint_id;
    std::string event_id;            // for the operational events the attempt may cause
    std::string event_type;
    int attempt{};
    std::int64_t started_ms{};
    std::int64_t duration_us{};
    attempt_outcome outcome = attempt_outcome::connect_error;
    int status_code{};               // 0 when no response
    std::string error;
    std::string response_snippet;
    // The decision: delivered (success), dead (ladder exhausted), else due at next_attempt_ms.
    bool delivered{};
    bool dead{};
    std::int64_t next_attempt_ms{};
};

// When an endpoint's failures are reported (webhookd.endpoint.failing) and when they
// disable it (config endpoints.*).
struct health_policy {
    std::int64_t disable_after_ms = 5LL * 24 * 3600 * 1000;  // since the streak's first failure; 0: never
    std::int64_t failing_after = 5;                          // consecutive failures; 0: never
};

// What recording an attempt did beyond the attempt's own delivery.
struct attempt_effects {
    std::optional<std::string> disabled;  // the endpoint, if this attempt disabled it
    std::string disabled_reason;          // then: gone | failing
    std::int64_t also_dead{};             // its other pending deliveries, now dead letters
    std::vector<std::string> notified;    // endpoints given a delivery of an operational event
};

// One endpoint's gauges.
struct endpoint_counts {
    std::string endpoint_id;
    std::int64_t pending{};               // deliveries created, not yet delivered nor dead
    std::int64_t consecutive_failures{};  // failed attempts since its last success
    bool operator==(const endpoint_counts&) const = default;
};

// The gauges of /metrics, read in one snapshot.
struct outbox_counts {
    std::int64_t pending{};
    std::int64_t dead_letters{};
    std::vector<endpoint_counts> endpoints;  // every endpoint, in creation order
    bool operator==(const outbox_counts&) const = default;
};

class outbox_store {
public:
    virtual ~outbox_store() = default;

    // Runs every unit's apply() within one transaction, commits once (one fsync), then
    // calls every unit's done(). A unit whose apply fails is rolled back alone: the group
    // runs again with each unit in a savepoint of its own (the first run takes none, as
    // nearly every group succeeds whole). When the transaction cannot begin or commit,
    // every unit gets that error (code "storage_unavailable") and nothing of the group is
    // stored.
    virtual void write_group(std::span<write_unit* const> units, std::int64_t now_ms) = 0;

    // Inside apply(): stores the event and one pending delivery, due at due_ms, per
    // enabled endpoint of the event's tenant (or, for an event without one, per platform
    // endpoint) whose patterns match its type. A known id is a duplicate: nothing is
    // written and the outcome describes the stored event. Errors: tenant_not_found (no
    // such tenant), id_conflict (the id is taken by an event of another tenant, or with a
    // tenant where this one has none, or the reverse).
    virtual result<ingest_outcome> insert_event(const new_event& event, std::int64_t now_ms, std::int64_t due_ms) = 0;

    // Inside stage(): the events this unit's apply() will pass to insert_event, in order,
    // with the same times. A backend may write them now, together with the group's other
    // staged events (in an order that keeps each unit's), and have insert_event answer
    // from that; as every unit of the group commits at once, the producers cannot tell.
    // The objects must live until the group is done. Backends without a round trip per
    // statement (SQLite) ignore it.
    virtual void stage_events(std::span<const new_event> /*events*/, std::int64_t /*now_ms*/,
                              std::int64_t /*due_ms*/) {}

    // Inside apply(): for each order in turn, leases up to its limit of the endpoint's
    // deliveries due at now_ms, first attempts before retries, each oldest due first, until
    // `room` are leased in all; then reads the earliest due time of each endpoint. One
    // result per order, in order, for as many orders as the room reached. A leased
    // delivery's next_attempt_at moves to lease_until_ms, so it is due again by itself if
    // its owner dies before recording the attempt. A FIFO order leases its endpoint's head
    // (the pending delivery with the lowest id) when that is due, and nothing else; its
    // endpoint's due time is the head's.
    virtual result<std::vector<endpoint_claim>> claim(std::span<const claim_order> orders, std::size_t room,
                                                      std::int64_t now_ms, std::int64_t lease_until_ms,
                                                      std::string_view owner) = 0;

    // Inside apply(): stores the attempt in the log and applies its decision: delivered,
    // due again at next_attempt_ms, or moved to dead_letters (one transaction with it).
    // Then the endpoint's health: a success ends a failure streak, a failure extends it;
    // an answer 410, or a failure disable_after into the streak, disables the endpoint and
    // makes its pending deliveries dead letters. Each change that has an operational event
    // (webhookd.endpoint.failing, .recovered, .disabled, webhookd.delivery.dead) stores
    // it, in the same transaction, for the platform endpoints that name it; none is
    // stored about a delivery of an operational event.
    virtual result<attempt_effects> record_attempt(const attempt_record& a, const health_policy& health,
                                                   std::int64_t now_ms) = 0;
    // Inside apply(): record_attempt for each attempt of `batch`, in order, with the same
    // result as those calls one after the other (a backend may write several in one
    // statement); the effects of each, in order.
    virtual result<std::vector<attempt_effects>> record_attempts(std::span<const attempt_record* const> batch,
                                                                 const health_policy& health, std::int64_t now_ms) = 0;

    // Inside apply(): what changed since `seen` (the mark of the last scan; a default mark on
    // the first): the endpoints changed since (PostgreSQL may return one again, unchanged,
    // while a transaction older than its change runs), or every endpoint when
    // endpoints were deleted since; each with its secrets valid at now_ms and its earliest
    // due time. Then the due times of up to sweep_limit endpoints after sweep_after_seq in
    // creation order, so that work made due without a word to the dispatcher is found too.
    virtual result<endpoint_scan> scan_endpoints(const scan_mark& seen, std::int64_t now_ms,
                                                 std::int64_t sweep_after_seq, std::size_t sweep_limit) = 0;

    // Inside apply(): takes a pending delivery out of the schedule (never due, lease given
    // up) with `reason` as its last error. For an outcome that cannot be stored: the
    // delivery waits for an operator instead of being attempted after every lease.
    virtual status park(std::int64_t delivery_id, std::string_view reason, std::int64_t now_ms) = 0;

    // Inside apply(): makes every leased delivery due at now_ms (start-up of the only
    // instance over this store: whatever was in flight is attempted again). Returns how many.
    virtual result<std::int64_t> release_leases(std::int64_t now_ms) = 0;

    // Inside apply(): gives back leases this owner took and will not use (deliveries
    // claimed ahead when the endpoint was paused or the dispatcher stops): each is due
    // again at now_ms. Returns how many were still held.
    virtual result<std::int64_t> release(std::span<const std::int64_t> delivery_ids, std::string_view owner,
                                         std::int64_t now_ms) = 0;

    // Inside apply(): deletes at most `limit` dead letters that died before cutoff_ms, with
    // their attempts and their events once nothing else refers to them. Returns how many.
    virtual result<std::int64_t> purge_dead_letters(std::int64_t cutoff_ms, std::size_t limit) = 0;

    // Inside apply(): the same for delivered deliveries delivered before cutoff_ms.
    virtual result<std::int64_t> purge_delivered(std::int64_t cutoff_ms, std::size_t limit) = 0;

    // The gauges, from one read transaction: the counts kept in the data as the rows
    // change (a few rows, whatever the backlog).
    virtual result<outbox_counts> counts() = 0;
    // The same counted from the rows themselves, every pending delivery and dead letter
    // (slow with a backlog): what counts() must always equal.
    virtual result<outbox_counts> recount() = 0;
    // Inside apply(): the group folds the counts' changes into their base at its commit,
    // as the store does by itself every few thousand groups.
    virtual status fold_counts() = 0;

    // Inside apply(): writes the heartbeat row, so a probe proves the database takes writes.
    virtual status heartbeat(std::int64_t now_ms) = 0;

    // ---- Admin API writes (inside apply()) ------------------------------------------------
    // Each returns not_found (error code "not_found") when the endpoint or dead letter does
    // not exist.

    // Stores a new endpoint with every field of `s` set and its first secret.
    virtual status create_endpoint(const std::string& id, const endpoint_settings& s, const std::string& secret,
                                   std::int64_t now_ms) = 0;
    // Changes the fields of `s` that are set.
    virtual status update_endpoint(std::string_view id, const endpoint_settings& s, std::int64_t now_ms) = 0;
    // Deletes the endpoint, its secrets and its pending deliveries; returns how many
    // deliveries were cancelled. Its delivered deliveries and dead letters stay, as history.
    virtual result<std::int64_t> delete_endpoint(std::string_view id) = 0;
    // Pauses (schedule frozen at now_ms) or resumes the endpoint. Resuming moves every
    // pending delivery that was not yet due when the pause began later by the time paused,
    // so each waits what it had left. Returns how many deliveries were rescheduled.
    virtual result<std::int64_t> set_paused(std::string_view id, bool paused, std::int64_t now_ms) = 0;
    // Makes `secret` the current one; the secrets valid until now stay valid until
    // grace_until_ms (now_ms: at once). Keeps at most max_previous previous secrets.
    virtual status rotate_secret(std::string_view id, const std::string& secret, std::int64_t grace_until_ms,
                                 std::int64_t now_ms, std::size_t max_previous) = 0;
    // Moves a dead letter back to the outbox, due at now_ms, with a fresh ladder.
    // "conflict" when its endpoint was deleted.
    virtual status requeue_dead_letter(std::int64_t id, std::int64_t now_ms) = 0;
    // The same for every dead letter the filter matches (dry_run: counts only).
    virtual result<requeue_result> requeue_dead_letters(const dead_letter_filter& f, std::int64_t now_ms,
                                                        bool dry_run) = 0;
    virtual status delete_dead_letter(std::int64_t id) = 0;
    // Sends a delivered delivery or a dead letter again (a "resend"): pending, due at now_ms,
    // with a fresh ladder, the same id, attempt numbers counting on. "conflict" when it is
    // pending, or its endpoint was deleted or is disabled.
    virtual status retry_delivery(std::int64_t id, std::int64_t now_ms) = 0;

    // Tenants. create_tenant: conflict when the id is taken. delete_tenant deletes its
    // endpoints (as delete_endpoint), its tokens, and its history: events, deliveries,
    // dead letters and attempts. Returns how many endpoints went.
    virtual status create_tenant(const std::string& id, const tenant_settings& s, std::int64_t now_ms) = 0;
    virtual status update_tenant(std::string_view id, const tenant_settings& s, std::int64_t now_ms) = 0;
    virtual result<std::int64_t> delete_tenant(std::string_view id) = 0;
    // Stores a token of an existing tenant (not_found otherwise); revoke_token deletes one
    // of that tenant's (not_found when it has no such token).
    virtual status create_token(const token_record& t) = 0;
    virtual status revoke_token(std::string_view tenant_id, std::string_view token_id) = 0;

    // ---- Admin API reads (outside the writer: on a connection of their own) -----------------
    virtual result<std::optional<endpoint_view>> get_endpoint(std::string_view id, std::int64_t now_ms) = 0;
    virtual result<std::vector<endpoint_view>> list_endpoints(const endpoint_filter& f, const page_request& page,
                                                              std::int64_t now_ms) = 0;
    virtual result<std::optional<event_view>> get_event(std::string_view id) = 0;
    // Events newest first, without their payload or deliveries.
    virtual result<std::vector<event_view>> list_events(const event_filter& f, const page_request& page) = 0;
    virtual result<std::vector<delivery_view>> list_deliveries(const delivery_filter& f, const page_request& page) = 0;
    // A delivery or dead letter with its attempt log.
    virtual result<std::optional<delivery_view>> get_delivery(std::int64_t id) = 0;
    virtual result<std::vector<delivery_view>> list_dead_letters(const dead_letter_filter& f,
                                                                 const page_request& page) = 0;
    virtual result<std::optional<delivery_view>> get_dead_letter(std::int64_t id) = 0;
    // The newest attempts to an endpoint, test events included.
    virtual result<std::vector<attempt_view>> list_attempts(std::string_view endpoint_id, const page_request& page) = 0;
    virtual result<std::optional<tenant_view>> get_tenant(std::string_view id) = 0;
    virtual result<std::vector<tenant_view>> list_tenants(const page_request& page) = 0;
    virtual result<std::vector<token_view>> list_tokens(std::string_view tenant_id, const page_request& page) = 0;
    // The token whose hash this is, expired or not (one read of a unique index).
    virtual result<std::optional<token_view>> find_token(std::string_view token_hash) = 0;
    // Whether the resource exists and whose it is.
    virtual result<resource_owner> owner_of(const resource_ref& r) = 0;
};

}  // namespace webhookd
