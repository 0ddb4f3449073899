// The SQLite primitives of endpoint health (outbox_store_base.hpp has the rules): reads
// and writes of an endpoint's streak, and the disable that makes its pending deliveries
// dead letters, all inside the transaction that records the attempt.

#include <sqlite3.h>

#include "store/sqlite.hpp"
#include "store/sqlite_store_impl.hpp"

namespace webhookd::detail {

std::optional<endpoint_health> sqlite_outbox_store::read_health(std::string_view endpoint_id) {
    auto& q = db_->prepare(
        "SELECT enabled, consecutive_failures, failing_since, failing_reported, tenant_id, url FROM endpoints "
        "WHERE id = ?");
    q.bind(1, endpoint_id);
    if (!q.step()) {
        q.reset();
        return std::nullopt;
    }
    endpoint_health h;
    h.enabled = q.int64(0) != 0;
    h.consecutive_failures = q.int64(1);
    if (!q.is_null(2)) h.failing_since_ms = q.int64(2);
    h.failing_reported = q.int64(3) != 0;
    if (!q.is_null(4)) h.tenant = q.text(4);
    h.url = q.text(5);
    q.reset();
    return h;
}

void sqlite_outbox_store::end_streak(std::string_view endpoint_id) {
    db_->prepare("UPDATE endpoints SET consecutive_failures = 0, failing_since = NULL, failing_reported = 0 WHERE id = ?")
        .bind(1, endpoint_id)
        .run();
}

void sqlite_outbox_store::extend_streak(std::string_view endpoint_id, std::int64_t started_ms) {
    db_->prepare(
           "UPDATE endpoints SET consecutive_failures = consecutive_failures + 1, "
           "failing_since = coalesce(failing_since, ?2) WHERE id = ?1")
        .bind(1, endpoint_id)
        .bind(2, started_ms)
        .run();
}

void sqlite_outbox_store::mark_failing_reported(std::string_view endpoint_id) {
    db_->prepare("UPDATE endpoints SET failing_reported = 1 WHERE id = ?").bind(1, endpoint_id).run();
}

std::vector<dead_row> sqlite_outbox_store::disable_and_kill_pending(std::string_view endpoint_id,
                                                                    std::string_view reason, const std::string& why,
                                                                    std::int64_t now_ms) {
    db_->prepare(
           "UPDATE endpoints SET enabled = 0, disabled_reason = ?2, disabled_at = ?3, updated_at = ?3 "
           "WHERE id = ?1")
        .bind(1, endpoint_id)
        .bind(2, reason)
        .bind(3, now_ms)
        .run();
    // Its pending deliveries, leased ones included: nothing keeps hammering the receiver,
    // and a bulk retry replays them once it is enabled again.
    static const std::string pending =
        "SELECT d.id, e.id, e.type, d.attempts, d.last_status, d.last_error FROM deliveries d INDEXED BY "
        "deliveries_endpoint_due JOIN events e ON e.seq = d.event_seq WHERE " + pending_of_sql("?1") +
        " ORDER BY d.id";
    auto& select = db_->prepare(pending);
    select.bind(1, endpoint_id);
    std::vector<dead_row> dead;
    while (select.step()) {
        dead.push_back({select.int64(0), select.text(1), select.text(2), select.int64(3),
                        select.is_null(4) ? 0 : static_cast<int>(select.int64(4)),
                        select.is_null(5) ? std::string() : select.text(5)});
    }
    select.reset();
    static const std::string move =
        "INSERT INTO dead_letters (id, event_seq, endpoint_id, attempts, created_at, died_at, last_status, "
        "last_error, last_response) SELECT id, event_seq, endpoint_id, attempts, created_at, ?2, last_status, "
        "?3 || coalesce(' (last attempt: ' || last_error || ')', ''), '' "
        "FROM deliveries INDEXED BY deliveries_endpoint_due WHERE " + pending_of_sql("?1");
    db_->prepare(move).bind(1, endpoint_id).bind(2, now_ms).bind(3, "endpoint_disabled: " + why).run();
    count_rows(endpoint_id, -db_->changes(), db_->changes());
    static const std::string remove =
        "DELETE FROM deliveries INDEXED BY deliveries_endpoint_due WHERE " + pending_of_sql("?1");
    db_->prepare(remove).bind(1, endpoint_id).run();
    return dead;
}

void sqlite_outbox_store::fail(const std::string& message) { throw sqlite::failure(SQLITE_ERROR, message); }

}  // namespace webhookd::detail
