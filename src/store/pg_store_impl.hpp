#pragma once
// The PostgreSQL outbox's class, shared by its two sources: pg_outbox_store.cpp (ingest,
// dispatcher, retention, health primitives) and pg_admin.cpp (the admin API and the
// gauges). Internal to src/store.
//
// Several webhookd instances may share the database: every lease carries its owner and
// its end in the data, claims skip rows another instance has locked, and nothing here
// assumes it is the only writer (the route cache is checked against the endpoints'
// revision sequence once per group).

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/outbox_store_base.hpp"
#include "store/pg.hpp"

namespace webhookd::detail {

// The SQL of when endpoint `e` (an SQL expression) can send next: the earliest
// next_attempt_at of its pending deliveries, by index seeks (NULL: none); for a FIFO
// endpoint (`fifo`, an SQL boolean) its head's. Its plan is tested.
std::string pg_next_due_sql(std::string_view e, std::string_view fifo);

inline error storage_error(const pg::failure& e) {
    return error{e.transient() ? error_code::storage_unavailable : error_code::storage_error, e.what()};
}

class pg_outbox_store final : public outbox_store_base {
public:
    // url: a libpq connection string; the connection is made at once (throws pg::failure)
    // and again after it was lost, at the next call.
    pg_outbox_store(std::string url, std::shared_ptr<const secret_box> secrets);

    void write_group(std::span<write_unit* const> units, std::int64_t now_ms) override;
    result<ingest_outcome> insert_event(const new_event& event, std::int64_t now_ms, std::int64_t due_ms) override;
    void stage_events(std::span<const new_event> events, std::int64_t now_ms, std::int64_t due_ms) override;
    result<std::vector<endpoint_claim>> claim(std::span<const claim_order> orders, std::size_t room,
                                              std::int64_t now_ms, std::int64_t lease_until_ms,
                                              std::string_view owner) override;
    result<attempt_effects> record_attempt(const attempt_record& a, const health_policy& health,
                                           std::int64_t now_ms) override;
    // Each run of successes in one statement, one round trip; the rest one by one.
    result<std::vector<attempt_effects>> record_attempts(std::span<const attempt_record* const> batch,
                                                         const health_policy& health, std::int64_t now_ms) override;
    result<endpoint_scan> scan_endpoints(const scan_mark& seen, std::int64_t now_ms, std::int64_t sweep_after_seq,
                                         std::size_t sweep_limit) override;
    status park(std::int64_t delivery_id, std::string_view reason, std::int64_t now_ms) override;
    result<std::int64_t> release_leases(std::int64_t now_ms) override;
    result<std::int64_t> release(std::span<const std::int64_t> delivery_ids, std::string_view owner,
                                 std::int64_t now_ms) override;
    result<std::int64_t> purge_dead_letters(std::int64_t cutoff_ms, std::size_t limit) override;
    result<std::int64_t> purge_delivered(std::int64_t cutoff_ms, std::size_t limit) override;
    status heartbeat(std::int64_t now_ms) override;

    // Admin API and gauges (pg_admin.cpp).
    result<outbox_counts> counts() override;
    result<outbox_counts> recount() override;
    status create_endpoint(const std::string& id, const endpoint_settings& s, const std::string& secret,
                           std::int64_t now_ms) override;
    status update_endpoint(std::string_view id, const endpoint_settings& s, std::int64_t now_ms) override;
    result<std::int64_t> delete_endpoint(std::string_view id) override;
    result<std::int64_t> set_paused(std::string_view id, bool paused, std::int64_t now_ms) override;
    status rotate_secret(std::string_view id, const std::string& secret, std::int64_t grace_until_ms,
                         std::int64_t now_ms, std::size_t max_previous) override;
    status requeue_dead_letter(std::int64_t id, std::int64_t now_ms) override;
    result<requeue_result> requeue_dead_letters(const dead_letter_filter& f, std::int64_t now_ms,
                                                bool dry_run) override;
    status delete_dead_letter(std::int64_t id) override;
    status retry_delivery(std::int64_t id, std::int64_t now_ms) override;
    status create_tenant(const std::string& id, const tenant_settings& s, std::int64_t now_ms) override;
    status update_tenant(std::string_view id, const tenant_settings& s, std::int64_t now_ms) override;
    result<std::int64_t> delete_tenant(std::string_view id) override;
    status create_token(const token_record& t) override;
    status revoke_token(std::string_view tenant_id, std::string_view token_id) override;
    result<std::optional<endpoint_view>> get_endpoint(std::string_view id, std::int64_t now_ms) override;
    result<std::vector<endpoint_view>> list_endpoints(const endpoint_filter& f, const page_request& page,
                                                      std::int64_t now_ms) override;
    result<std::optional<event_view>> get_event(std::string_view id) override;
    result<std::vector<event_view>> list_events(const event_filter& f, const page_request& page) override;
    result<std::vector<delivery_view>> list_deliveries(const delivery_filter& f, const page_request& page) override;
    result<std::optional<delivery_view>> get_delivery(std::int64_t id) override;
    result<std::vector<delivery_view>> list_dead_letters(const dead_letter_filter& f,
                                                         const page_request& page) override;
    result<std::optional<delivery_view>> get_dead_letter(std::int64_t id) override;
    result<std::vector<attempt_view>> list_attempts(std::string_view endpoint_id, const page_request& page) override;
    result<std::optional<tenant_view>> get_tenant(std::string_view id) override;
    result<std::vector<tenant_view>> list_tenants(const page_request& page) override;
    result<std::vector<token_view>> list_tokens(std::string_view tenant_id, const page_request& page) override;
    result<std::optional<token_view>> find_token(std::string_view token_hash) override;
    result<resource_owner> owner_of(const resource_ref& r) override;

private:
    // outbox_store_base's primitives; each throws pg::failure.
    std::optional<tenant_routes> load_routes(const std::optional<std::string>& tenant) override;
    void scan_routes(std::size_t max_tenants, const std::function<void(const route_row&)>& each) override;
    void end_streak(std::string_view endpoint_id) override;
    void extend_streak(std::string_view endpoint_id, std::int64_t started_ms) override;
    void mark_failing_reported(std::string_view endpoint_id) override;
    std::vector<dead_row> disable_and_kill_pending(std::string_view endpoint_id, std::string_view reason,
                                                   const std::string& why, std::int64_t now_ms) override;
    [[noreturn]] void fail(const std::string& message) override;
    // Before a group's commit: the statement that writes its row count changes as a row of
    // count_changes (empty: none), to travel with the commit.
    std::string counts_sql();
    // Folds count_changes into count_base, unless another instance is at it.
    void fold_count_changes();
    // Adds count_base and every row of count_changes to `into`.
    void read_counts(count_map& into);
    // Every endpoint's id and consecutive_failures, in creation order.
    std::vector<std::pair<std::string, std::int64_t>> endpoint_failures();
    // Counts the moves of requeue_sql's answer (endpoint_id, moved) into the row counts;
    // returns how many moved.
    std::int64_t requeue_moved(const pg::rows& moved);

    // One try of write_group, one transaction. With savepoints, every unit in its own, and
    // a commit; without, a commit when every unit succeeded, else a rollback at the first
    // that failed (false). Throws pg::failure for what fails the whole group.
    bool run_group(std::span<write_unit* const> units, std::int64_t now_ms, std::vector<status>& outcomes,
                   bool savepoints);
    // The endpoints an event gets a delivery for, and whether each is FIFO; none when its
    // tenant does not exist.
    struct fan_out {
        std::vector<std::string> endpoint_ids;
        std::vector<std::int64_t> endpoint_seqs;
        std::vector<bool> fifo;
    };
    std::optional<fan_out> fan_out_of(const new_event& event);
    struct staged_event;
    // Writes the events and their deliveries in one statement, in order, and marks those
    // written (the others' ids were taken).
    void write_events(std::span<staged_event> events, std::int64_t now_ms);

    // The connection, made again if the last one was lost. Throws pg::failure.
    pg::connection& db();
    // Runs f (which uses db()) in one read-only transaction, so a page is one snapshot; a
    // failure becomes a storage error.
    template <class F>
    auto read_snapshot(F&& f) -> decltype(f());

    // The statement of a run of successes of deliveries (no id twice), for record_attempts
    // and record_attempt; their effects appended to `out`, in order.
    void record_successes(std::span<const attempt_record* const> run, const health_policy& health,
                          std::int64_t now_ms, std::vector<attempt_effects>& out);
    // The first statement of a group: its mark, and the endpoints that transactions from
    // routes_mark_ on changed (mark and rows of routes_changed_sql()).
    std::string routes_changed_sql() const;
    // Forgets the cached routes of the tenants whose endpoints another connection changed,
    // as that statement's rows tell; every tenant's after a deletion.
    void refresh_routes(const pg::rows& changed);
    bool endpoint_exists(std::string_view id);
    bool tenant_exists(std::string_view id);
    // The tenant of an existing endpoint (none: a platform endpoint).
    std::optional<std::string> endpoint_tenant(std::string_view id);
    // Calls take(secret in clear, created_at, expires_at) for each of the endpoint's secrets
    // valid at now_ms, newest first; an error when one does not decrypt (never sign with it).
    status read_secrets(std::string_view endpoint_id, std::int64_t now_ms,
                        const std::function<void(std::string, std::int64_t, std::optional<std::int64_t>)>& take);
    // Deletes events that no delivery or dead letter refers to any more.
    void delete_orphan_events(const std::vector<std::int64_t>& seqs);
    // Deletes up to `limit` rows chosen by select_sql ($1 cutoff, $2 limit; returns id,
    // event_seq[, endpoint_id]) from `table`, their attempts and orphaned events.
    // dead_letters: the rows are dead letters, counted out of their endpoints' (column 2).
    // Returns how many.
    std::int64_t purge_rows(const char* select_sql, const char* table, std::int64_t cutoff_ms, std::size_t limit,
                            bool dead_letters);

    std::string url_;
    std::unique_ptr<pg::connection> db_;
    // The events the group's units staged, on a run without savepoints (with savepoints, a
    // failing unit's events must be undone alone, so each is written by its own statement);
    // emptied when the run ends.
    struct staged_event {
        const new_event* event = nullptr;
        std::int64_t due_ms = 0;
        fan_out routes;
        bool written = false;  // the staged statement inserted it (else: a duplicate)
    };
    std::vector<staged_event> staged_;
    std::unordered_map<std::string_view, std::size_t> staged_ids_;  // event id -> its index in staged_
    // Where refresh_routes last read the endpoints, and the revisions of the endpoints it
    // read as changed then: seen again unchanged (a transaction that was running kept the
    // horizon back), they cost no tenant its routes.
    scan_mark routes_mark_;
    boost::unordered_flat_map<std::string, std::int64_t, string_hash, std::equal_to<>> routes_recent_;
};

}  // namespace webhookd::detail
