#pragma once
// The SQLite outbox's class, shared by its two sources: sqlite_outbox_store.cpp (ingest,
// dispatcher, retention) and sqlite_admin.cpp (the admin API). Internal to src/store.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "store/outbox_store_base.hpp"
#include "store/sqlite.hpp"
#include "store/wal_checkpointer.hpp"
#include "webhookd/config.hpp"

namespace webhookd::detail {

// The tenant token lookup: one read of the unique index on token_hash (its query plan is
// tested, so that it never becomes a scan).
inline constexpr std::string_view find_token_sql =
    "SELECT id, seq, tenant_id, description, created_at, expires_at FROM tenant_tokens WHERE token_hash = ?";

// The earliest next_attempt_at of the pending deliveries of the endpoint whose seq is the
// SQL expression `endpoint` (NULL: none): one seek into each range of
// deliveries_endpoint_due, first attempts and retries, however long the endpoint's backlog.
// The per-endpoint indexes of pending deliveries are keyed by the endpoint's seq, which
// pending deliveries hold as endpoint_seq (migration 0011).
inline std::string next_due_sql(std::string_view endpoint) {
    auto range = [&](const char* retries) {
        return "IFNULL((SELECT MIN(next_attempt_at) FROM deliveries INDEXED BY deliveries_endpoint_due "
               "WHERE endpoint_seq = " +
               std::string(endpoint) + " AND state = 'pending' AND attempts > 0 = " + retries +
               "), 9223372036854775807)";
    };
    return "NULLIF(MIN(" + range("0") + ", " + range("1") + "), 9223372036854775807)";
}

// The head of a FIFO endpoint's queue, `endpoint` as above: its pending delivery with the
// lowest id (parked ones aside), in one seek into deliveries_fifo_head, which holds the
// deliveries of FIFO endpoints only. `column`: what to select of it.
inline std::string fifo_head_sql(std::string_view endpoint, std::string_view column) {
    return "SELECT " + std::string(column) +
           " FROM deliveries INDEXED BY deliveries_fifo_head WHERE endpoint_seq = " + std::string(endpoint) +
           " AND ordered = 1 AND state = 'pending' AND next_attempt_at IS NOT NULL ORDER BY id LIMIT 1";
}

// Whether endpoint `id_sql`'s deliveries are `ordered` now (1 or 0), for the statements
// that make a delivery pending again.
inline std::string ordered_sql(std::string_view id_sql) {
    return "COALESCE((SELECT ordering = 'fifo' FROM endpoints WHERE id = " + std::string(id_sql) + "), 0)";
}

// The seq of endpoint `id_sql` (NULL: none), for the statements that make a delivery
// pending again (its endpoint_seq) or that find an endpoint's pending deliveries.
inline std::string endpoint_seq_sql(std::string_view id_sql) {
    return "(SELECT seq FROM endpoints WHERE id = " + std::string(id_sql) + ")";
}

// The seq that endpoint `id_sql` has, or had if it was deleted (NULL: it never existed, or
// its deliveries were gone before migration 0013): the key of its deliveries in
// deliveries_endpoint, which lists a deleted endpoint's too.
inline std::string endpoint_history_seq_sql(std::string_view id_sql) {
    return "COALESCE(" + endpoint_seq_sql(id_sql) + ", (SELECT seq FROM retired_endpoints WHERE id = " +
           std::string(id_sql) + "))";
}

// The seq of a new endpoint `id_sql`: the one the id had if an endpoint was deleted under it
// (its history and its new deliveries are one list), or one above every seq in use or
// retired, so that no endpoint's deliveries are ever keyed like another's.
inline std::string new_endpoint_seq_sql(std::string_view id_sql) {
    return "COALESCE((SELECT seq FROM retired_endpoints WHERE id = " + std::string(id_sql) +
           "), MAX((SELECT COALESCE(MAX(seq), 0) FROM endpoints), (SELECT COALESCE(MAX(seq), 0) FROM "
           "retired_endpoints)) + 1)";
}

// The events of tenant `id_sql` (none if it does not exist), as a condition on events
// `alias`: a range of events_tenant, which is keyed by the tenant's seq (migration 0012).
inline std::string events_of_tenant_sql(std::string_view alias, std::string_view id_sql) {
    return std::string(alias) + ".tenant_seq = (SELECT seq FROM tenants WHERE id = " + std::string(id_sql) + ")";
}

// The pending deliveries of the existing endpoint `id_sql`, as a condition of a statement on
// deliveries INDEXED BY deliveries_endpoint_due: a range of that index, not every delivery
// the endpoint ever had.
inline std::string pending_of_sql(std::string_view id_sql) {
    return "endpoint_seq = " + endpoint_seq_sql(id_sql) + " AND endpoint_id = " + std::string(id_sql) +
           " AND state = 'pending'";
}

// When the endpoint can send next: next_due_sql, or for a FIFO endpoint (`ordering`: the
// SQL expression of its ordering) its head's due time, as nothing else of it may go first.
inline std::string next_due_sql(std::string_view endpoint, std::string_view ordering) {
    return "CASE WHEN " + std::string(ordering) + " = 'fifo' THEN (" + fifo_head_sql(endpoint, "next_attempt_at") +
           ") ELSE " + next_due_sql(endpoint) + " END";
}

inline error storage_error(const sqlite::failure& e) {
    return error{e.transient() ? error_code::storage_unavailable : error_code::storage_error, e.what()};
}

// PRAGMA secure_delete = ON while it lives, then the connection's mode before (read at
// construction). Scoped around every write to endpoint_secrets, so that the space a secret
// leaves behind (deleted, moved, or replaced by its sealed form) is zeroed, whatever the
// SQLite build's default. Throws sqlite::failure from the constructor only.
class secure_delete_scope {
public:
    explicit secure_delete_scope(sqlite::connection& db);
    ~secure_delete_scope();
    secure_delete_scope(const secure_delete_scope&) = delete;
    secure_delete_scope& operator=(const secure_delete_scope&) = delete;

private:
    sqlite::connection& db_;
    std::int64_t before_;
};

class sqlite_outbox_store final : public outbox_store_base {
public:
    // synchronous: the configured mode (full), which durable commits use. secrets: the
    // key that endpoint secrets are sealed with (storage.secret_key_file), or null to store
    // them in clear.
    sqlite_outbox_store(std::unique_ptr<sqlite::connection> db, sync_mode synchronous,
                        std::shared_ptr<const secret_box> secrets);

    void write_group(std::span<write_unit* const> units, std::int64_t now_ms) override;
    result<ingest_outcome> insert_event(const new_event& event, std::int64_t now_ms, std::int64_t due_ms) override;
    result<std::vector<endpoint_claim>> claim(std::span<const claim_order> orders, std::size_t room,
                                              std::int64_t now_ms, std::int64_t lease_until_ms,
                                              std::string_view owner) override;
    result<attempt_effects> record_attempt(const attempt_record& a, const health_policy& health,
                                           std::int64_t now_ms) override;
    result<endpoint_scan> scan_endpoints(const scan_mark& seen, std::int64_t now_ms, std::int64_t sweep_after_seq,
                                         std::size_t sweep_limit) override;
    status park(std::int64_t delivery_id, std::string_view reason, std::int64_t now_ms) override;
    result<std::int64_t> release_leases(std::int64_t now_ms) override;
    result<std::int64_t> release(std::span<const std::int64_t> delivery_ids, std::string_view owner,
                                 std::int64_t now_ms) override;
    result<std::int64_t> purge_dead_letters(std::int64_t cutoff_ms, std::size_t limit) override;
    result<std::int64_t> purge_delivered(std::int64_t cutoff_ms, std::size_t limit) override;
    result<outbox_counts> counts() override;
    result<outbox_counts> recount() override;
    status heartbeat(std::int64_t now_ms) override;

    // Admin API (sqlite_admin.cpp).
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
    // outbox_store_base's primitives (routes here, health in sqlite_health.cpp); each
    // throws sqlite::failure.
    std::optional<tenant_routes> load_routes(const std::optional<std::string>& tenant) override;
    void scan_routes(std::size_t max_tenants, const std::function<void(const route_row&)>& each) override;
    // The endpoint's health as outbox_store_base's rules read it.
    std::optional<endpoint_health> read_health(std::string_view endpoint_id);
    void end_streak(std::string_view endpoint_id) override;
    void extend_streak(std::string_view endpoint_id, std::int64_t started_ms) override;
    void mark_failing_reported(std::string_view endpoint_id) override;
    std::vector<dead_row> disable_and_kill_pending(std::string_view endpoint_id, std::string_view reason,
                                                   const std::string& why, std::int64_t now_ms) override;
    [[noreturn]] void fail(const std::string& message) override;
    // Before a group's commit: its row count changes as a row of count_changes, and the
    // fold of those rows into count_base when one is due.
    void write_counts();
    // Adds count_base and every row of count_changes to `into`.
    void read_counts(count_map& into);
    // Every endpoint's id and consecutive_failures, in creation order.
    std::vector<std::pair<std::string, std::int64_t>> endpoint_failures();

    bool endpoint_exists(std::string_view id);
    void scrub_wal();
    // Calls take(secret in clear, created_at, expires_at) for each of the endpoint's secrets
    // valid at now_ms, newest first; an error when one does not decrypt (never sign with it).
    status read_secrets(std::string_view endpoint_id, std::int64_t now_ms,
                        const std::function<void(std::string, std::int64_t, std::optional<std::int64_t>)>& take);
    // Adds e's secrets valid at now_ms (read_secrets).
    status load_secrets(endpoint_view& e, std::int64_t now_ms);
    void load_attempts(delivery_view& d);
    // The one row `sql` selects by id (?1), with its attempts, in one read transaction.
    result<std::optional<delivery_view>> read_one_delivery(const std::string& sql, std::int64_t id);
    std::vector<delivery_view> read_deliveries(const std::string& sql, const std::vector<std::string>& text_args,
                                               const std::vector<std::int64_t>& int_args);
    // One try of write_group, one transaction. With savepoints, every unit in its own, and
    // a commit; without, a commit when every unit succeeded, else a rollback at the first
    // that failed. Throws sqlite::failure for what fails the whole group.
    enum class group_try { committed, unit_failed, rolled_back };
    group_try run_group(std::span<write_unit* const> units, std::int64_t now_ms, std::vector<status>& outcomes,
                        bool savepoints);
    // Forgets the cached routes when another connection committed (once per group).
    void refresh_routes();  // throws sqlite::failure
    // The tenant of an existing endpoint (none: a platform endpoint).
    std::optional<std::string> endpoint_tenant(std::string_view id);
    // The tenant's seq; none when it does not exist.
    std::optional<std::int64_t> tenant_seq(std::string_view id);
    bool tenant_exists(std::string_view id) { return tenant_seq(id).has_value(); }
    std::int64_t data_version();
    // Deletes events that no delivery or dead letter refers to any more.
    void delete_orphan_events(const std::vector<std::int64_t>& seqs);
    // Deletes up to `limit` rows chosen by select_sql (?1 cutoff, ?2 limit; returns id,
    // event_seq[, endpoint_id]) with delete_sql (?1 id), their attempts and orphaned events.
    // dead_letters: the rows are dead letters, counted out of their endpoints' (column 2).
    // Returns how many.
    std::int64_t purge_rows(const char* select_sql, const char* delete_sql, std::int64_t cutoff_ms, std::size_t limit,
                            bool dead_letters);

    std::unique_ptr<sqlite::connection> db_;
    // Started by the first write_group: only the writer's store checkpoints. Declared after
    // db_, so destroyed first.
    std::unique_ptr<sqlite::wal_checkpointer> checkpointer_;
    bool checkpointer_tried_ = false;
    sync_mode synchronous_;   // the configured mode, for durable commits
    sync_mode current_sync_;  // the connection's mode now
    // PRAGMA data_version when the cached routes were last valid: a write to endpoints
    // through this store forgets its tenant's routes; a commit of another connection, seen
    // as a new data_version, forgets them all.
    std::int64_t routes_version_ = -1;
    // A secret was deleted in this group: after the commit, scrub_wal() leaves no old
    // frame holding it.
    bool scrub_wal_ = false;
};

}  // namespace webhookd::detail
