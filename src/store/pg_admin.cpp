// The PostgreSQL outbox's admin API half: endpoint settings and secrets, tenants and their
// tokens, the delivery log, dead letters and the gauges. Writes run inside the writer's
// group transaction (they throw pg::failure, which write_group turns into the unit's
// error); reads run each in one read-only REPEATABLE READ transaction, so a page is one
// snapshot. Other instances may write at the same time: where a write reads before it
// changes, it locks the row (FOR UPDATE) or lets one statement decide (ON CONFLICT,
// DELETE ... RETURNING).

#include <algorithm>
#include <cstdint>
#include <limits>

#include "store/pg_store_impl.hpp"

namespace webhookd::detail {

namespace {

error not_found(std::string_view what, std::string_view id) {
    return error{error_code::not_found, std::string(what) + " " + std::string(id) + " does not exist"};
}

// A statement's parameters, numbered in the order they are added.
struct param_list {
    std::vector<pg::param> values;

    // Adds one; returns its placeholder ($1, $2, ...).
    std::string add(pg::param p) {
        values.push_back(std::move(p));
        return "$" + std::to_string(values.size());
    }
};

// A WHERE clause built from optional filters (their values go to a param_list).
struct where_clause {
    std::string sql;

    void add(std::string_view condition) {
        sql += sql.empty() ? " WHERE " : " AND ";
        sql += condition;
    }
};

// A count as a bigint parameter; one beyond bigint means no limit.
std::int64_t bigint(std::size_t n) {
    return static_cast<std::int64_t>(
        std::min<std::size_t>(n, static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())));
}

// One keyset page, newest first: `columns` with the filters of w, the rows whose `key` is
// below the page's cursor, at most its limit, each read by read(rows, i).
template <class Read>
auto read_page(pg::connection& db, std::string_view columns, where_clause w, param_list p, std::string_view key,
               const page_request& page, Read read) {
    if (page.after) w.add(std::string(key) + " < " + p.add(page.after->id));
    auto r = db.query(std::string(columns) + w.sql + " ORDER BY " + std::string(key) + " DESC LIMIT " +
                          p.add(bigint(page.limit)),
                      p.values);
    std::vector<decltype(read(r, 0))> out;
    for (int i = 0; i < r.size(); ++i) out.push_back(read(r, i));
    return out;
}

std::optional<int> optional_int(const pg::rows& r, int row, int col) {
    if (r.is_null(row, col)) return std::nullopt;
    return static_cast<int>(r.int64(row, col));
}
std::string text_or_empty(const pg::rows& r, int row, int col) {
    return r.is_null(row, col) ? std::string() : std::string(r.text(row, col));
}

// Columns of a delivery row, the same for both tables (see delivery_columns / dead_columns).
delivery_view read_delivery_row(const pg::rows& r, int i) {
    delivery_view d;
    d.id = r.int64(i, 0);
    d.status = r.text(i, 1);
    d.event_id = r.text(i, 2);
    d.event_type = r.text(i, 3);
    d.endpoint_id = r.text(i, 4);
    d.attempts = static_cast<int>(r.int64(i, 5));
    d.created_ms = r.int64(i, 6);
    d.next_attempt_ms = r.optional_int64(i, 7);
    d.last_attempt_ms = r.optional_int64(i, 8);
    d.last_status = optional_int(r, i, 9);
    d.last_error = text_or_empty(r, i, 10);
    d.delivered_ms = r.optional_int64(i, 11);
    d.died_ms = r.optional_int64(i, 12);
    d.last_response = r.is_null(i, 13) ? std::string() : r.bytes(i, 13);
    d.tenant = r.optional_text(i, 14);
    return d;
}

// In a UNION ALL of both, PostgreSQL types the NULL columns of the first from the second's
// (died_at bigint, last_response bytea).
constexpr const char* delivery_columns =
    "SELECT d.id, d.state, e.id, e.type, d.endpoint_id, d.attempts, d.created_at, d.next_attempt_at, "
    "d.last_attempt_at, d.last_status, d.last_error, d.delivered_at, NULL, NULL, e.tenant_id "
    "FROM deliveries d JOIN events e ON e.seq = d.event_seq";
constexpr const char* dead_columns =
    "SELECT d.id, 'dead', e.id, e.type, d.endpoint_id, d.attempts, d.created_at, NULL, d.died_at, "
    "d.last_status, d.last_error, NULL, d.died_at, d.last_response, e.tenant_id "
    "FROM dead_letters d JOIN events e ON e.seq = d.event_seq";

// The conditions of an event-type filter on events e: exact, "prefix.*" or "*".
void add_type_filter(where_clause& w, param_list& p, const std::optional<std::string>& type) {
    if (!type || *type == "*") return;
    if (type->ends_with(".*")) {
        // "booking.*": types that start with "booking." and go on (as the endpoint matcher).
        auto n = p.add(static_cast<std::int64_t>(type->size() - 1));
        w.add("substr(e.type, 1, " + n + "::integer) = " + p.add(type->substr(0, type->size() - 1)));
        w.add("length(e.type) > " + n + "::integer");
    } else {
        w.add("e.type = " + p.add(*type));
    }
}

std::vector<delivery_view> read_deliveries(pg::connection& db, const std::string& sql,
                                           const std::vector<pg::param>& params) {
    auto r = db.query(sql, params);
    std::vector<delivery_view> out;
    out.reserve(static_cast<std::size_t>(r.size()));
    for (int i = 0; i < r.size(); ++i) out.push_back(read_delivery_row(r, i));
    return out;
}

constexpr const char* attempt_columns =
    "SELECT id, delivery_id, endpoint_id, attempt, started_at, duration_us, outcome, status_code, error, "
    "response_snippet FROM attempts";

attempt_view read_attempt_row(const pg::rows& r, int i) {
    return {r.int64(i, 0),
            r.optional_int64(i, 1),
            std::string(r.text(i, 2)),
            static_cast<int>(r.int64(i, 3)),
            r.int64(i, 4),
            r.int64(i, 5),
            std::string(r.text(i, 6)),
            optional_int(r, i, 7),
            text_or_empty(r, i, 8),
            r.is_null(i, 9) ? std::string() : r.bytes(i, 9)};
}

void load_attempts(pg::connection& db, delivery_view& d) {
    auto r = db.query(std::string(attempt_columns) + " WHERE delivery_id = $1 ORDER BY attempt, id", {d.id});
    for (int i = 0; i < r.size(); ++i) d.attempt_log.push_back(read_attempt_row(r, i));
}

// The one row `sql` selects by id ($1), with its attempts.
std::optional<delivery_view> read_one_delivery(pg::connection& db, const std::string& sql, std::int64_t id) {
    auto rows = read_deliveries(db, sql, {id});
    if (rows.empty()) return std::nullopt;
    load_attempts(db, rows.front());
    return std::move(rows.front());
}

// Moves the dead letters $1 (a bigint[]) back to the outbox, due at $2, with a fresh ladder
// and the same ids, and raises their endpoints' revisions so that every instance's next
// scan reads their due times. One statement: a dead letter another instance moved first is
// not moved twice. Returns how many moved of each endpoint (requeue_moved counts them).
constexpr const char* requeue_sql =
    "WITH moved AS (DELETE FROM dead_letters WHERE id = ANY($1::bigint[]) "
    "RETURNING id, event_seq, endpoint_id, attempts, created_at, died_at, last_status, last_error), "
    "queued AS (INSERT INTO deliveries (id, event_seq, endpoint_id, state, attempts, ladder_start, "
    "next_attempt_at, created_at, last_attempt_at, last_status, last_error, ordered) OVERRIDING SYSTEM VALUE "
    "SELECT id, event_seq, endpoint_id, 'pending', attempts, attempts, $2::bigint, created_at, died_at, "
    "last_status, last_error, COALESCE((SELECT p.ordering = 'fifo' FROM endpoints p WHERE p.id = moved.endpoint_id), "
    "false) FROM moved RETURNING endpoint_id), "
    "bumped AS (UPDATE endpoints SET revision = nextval('endpoint_revisions') "
    "WHERE id IN (SELECT endpoint_id FROM queued)) "
    "SELECT endpoint_id, count(*) FROM queued GROUP BY endpoint_id";

// read_secrets' take for an endpoint view: its valid secrets, newest first.
auto secrets_of(endpoint_view& e) {
    return [&e](std::string secret, std::int64_t created, std::optional<std::int64_t> expires) {
        e.secrets.push_back({std::move(secret), created, expires});
    };
}

}  // namespace

// Runs f in one read-only snapshot; a failure becomes a storage error.
template <class F>
auto pg_outbox_store::read_snapshot(F&& f) -> decltype(f()) {
    try {
        db().exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        auto r = f();
        db().exec("COMMIT");
        return r;
    } catch (const pg::failure& e) {
        try {
            db().exec("ROLLBACK");  // outside a transaction: a warning, not an error
        } catch (const pg::failure&) {
        }
        return storage_error(e);
    }
}

std::optional<std::string> pg_outbox_store::endpoint_tenant(std::string_view id) {
    auto r = db().query("SELECT tenant_id FROM endpoints WHERE id = $1", {id});
    if (r.empty()) return std::nullopt;
    return r.optional_text(0, 0);
}

bool pg_outbox_store::tenant_exists(std::string_view id) {
    return !db().query("SELECT 1 FROM tenants WHERE id = $1", {id}).empty();
}

bool pg_outbox_store::endpoint_exists(std::string_view id) {
    return !db().query("SELECT 1 FROM endpoints WHERE id = $1", {id}).empty();
}

// ---- Writes -------------------------------------------------------------------------------

status pg_outbox_store::create_endpoint(const std::string& id, const endpoint_settings& s, const std::string& secret,
                                        std::int64_t now_ms) {
    if (endpoint_exists(id)) return error{error_code::conflict, "endpoint " + id + " already exists"};
    if (s.tenant && !tenant_exists(*s.tenant)) {
        return error{error_code::tenant_not_found, "tenant " + *s.tenant + " does not exist"};
    }
    auto stored = stored_secret(id, secret);
    if (!stored) return stored.err();
    // seq comes from its identity column. ON CONFLICT: another instance created the id
    // since the check.
    auto created = db().query(
        "INSERT INTO endpoints (id, url, description, event_patterns, body_mode, signature_format, "
        "signature_header, headers, enabled, created_at, updated_at, tenant_id, rate_limit, ordering, "
        "disabled_reason, disabled_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::boolean, $10::bigint, $10, $11, "
        "$12::bigint, $13, CASE WHEN NOT $9 THEN 'manual' END, CASE WHEN NOT $9 THEN $10 END) "
        "ON CONFLICT (id) DO NOTHING",
        {id, s.url.value_or(""), s.description.value_or(""), s.patterns_json.value_or("[]"),
         s.body_mode.value_or("envelope"), s.signature_format.value_or("hex"),
         s.signature_header.value_or("X-Webhook-Signature"), s.headers_json.value_or("{}"), s.enabled.value_or(true),
         now_ms, s.tenant, s.rate_limit.value_or(std::nullopt), s.ordering.value_or("unordered")});
    if (created.affected() == 0) return error{error_code::conflict, "endpoint " + id + " already exists"};
    db().query("INSERT INTO endpoint_secrets (endpoint_id, secret, created_at) VALUES ($1, $2, $3)",
               {id, *stored, now_ms});
    forget_routes(s.tenant);  // refresh_routes sees other instances' writes, not this one's
    return ok_v;
}

status pg_outbox_store::update_endpoint(std::string_view id, const endpoint_settings& s, std::int64_t now_ms) {
    if (!endpoint_exists(id)) return not_found("endpoint", id);
    param_list p;
    std::string sql = "UPDATE endpoints SET updated_at = " + p.add(now_ms);
    auto set = [&](const char* column, const std::optional<std::string>& value) {
        if (!value) return;
        sql += std::string(", ") + column + " = " + p.add(*value);
    };
    set("url", s.url);
    set("description", s.description);
    set("event_patterns", s.patterns_json);
    set("body_mode", s.body_mode);
    set("signature_format", s.signature_format);
    set("signature_header", s.signature_header);
    set("headers", s.headers_json);
    if (s.rate_limit) sql += ", rate_limit = " + p.add(*s.rate_limit) + "::bigint";  // none: NULL, no limit
    set("ordering", s.ordering);
    if (s.enabled && *s.enabled) {
        // Enabled again: a clean slate (docs/operations.md, "Endpoint health"). SET reads the
        // row as it was, so `enabled` is the old value throughout.
        sql +=
            ", disabled_reason = NULL, disabled_at = NULL, "
            "consecutive_failures = CASE WHEN enabled THEN consecutive_failures ELSE 0 END, "
            "failing_since = CASE WHEN enabled THEN failing_since END, "
            "failing_reported = CASE WHEN enabled THEN failing_reported ELSE false END, enabled = true";
    } else if (s.enabled) {
        sql +=
            ", disabled_reason = CASE WHEN enabled THEN 'manual' ELSE disabled_reason END, "
            "disabled_at = CASE WHEN enabled THEN " +
            p.add(now_ms) + "::bigint ELSE disabled_at END, enabled = false";
    }
    sql += " WHERE id = " + p.add(id);
    db().query(sql, p.values);
    if (s.ordering) {
        // Its waiting deliveries join (or leave) the FIFO queue with it.
        db().query("UPDATE deliveries SET ordered = $1 WHERE endpoint_id = $2 AND state = 'pending'",
                   {*s.ordering == "fifo", id});
    }
    forget_routes(endpoint_tenant(id));
    return ok_v;
}

result<std::int64_t> pg_outbox_store::delete_endpoint(std::string_view id) {
    if (!endpoint_exists(id)) return not_found("endpoint", id);
    forget_routes(endpoint_tenant(id));
    db().query(
        "DELETE FROM attempts WHERE delivery_id IN "
        "(SELECT id FROM deliveries WHERE endpoint_id = $1 AND state = 'pending')",
        {id});
    std::int64_t cancelled =
        db().query("DELETE FROM deliveries WHERE endpoint_id = $1 AND state = 'pending'", {id}).affected();
    count_rows(id, -cancelled, 0);
    db().query("DELETE FROM endpoint_secrets WHERE endpoint_id = $1", {id});
    db().query("DELETE FROM endpoints WHERE id = $1", {id});
    return cancelled;
}

result<std::int64_t> pg_outbox_store::set_paused(std::string_view id, bool paused, std::int64_t now_ms) {
    // FOR UPDATE: a pause or resume by another instance waits, so a resume moves the
    // schedule once.
    auto r = db().query("SELECT paused_at FROM endpoints WHERE id = $1 FOR UPDATE", {id});
    if (r.empty()) return not_found("endpoint", id);
    std::optional<std::int64_t> paused_at = r.optional_int64(0, 0);
    std::int64_t moved = 0;
    if (paused && !paused_at) {
        db().query("UPDATE endpoints SET paused_at = $2, updated_at = $2 WHERE id = $1", {id, now_ms});
    } else if (!paused && paused_at) {
        // Each delivery not yet due at the pause gets back the wait it had left then (from
        // the pause, or from when it was scheduled if that was later). One with no wait
        // left (made during the pause, due at once) is due as it is, and is not rewritten.
        moved = db().query(
                        "UPDATE deliveries SET next_attempt_at = $3::bigint + next_attempt_at - "
                        "GREATEST($2::bigint, created_at, COALESCE(last_attempt_at, 0)) "
                        "WHERE endpoint_id = $1 AND state = 'pending' AND next_attempt_at > $2 "
                        "AND lease_owner IS NULL "
                        "AND next_attempt_at > GREATEST($2::bigint, created_at, COALESCE(last_attempt_at, 0))",
                        {id, *paused_at, now_ms})
                    .affected();
        db().query("UPDATE endpoints SET paused_at = NULL, updated_at = $2 WHERE id = $1", {id, now_ms});
    }
    return moved;
}

status pg_outbox_store::rotate_secret(std::string_view id, const std::string& secret, std::int64_t grace_until_ms,
                                      std::int64_t now_ms, std::size_t max_previous) {
    // FOR UPDATE: two rotations of one endpoint (from two instances) go one after the other.
    if (db().query("SELECT 1 FROM endpoints WHERE id = $1 FOR UPDATE", {id}).empty()) {
        return not_found("endpoint", id);
    }
    auto stored = stored_secret(id, secret);
    if (!stored) return stored.err();
    db().query(
        "UPDATE endpoint_secrets SET expires_at = $2 WHERE endpoint_id = $1 "
        "AND (expires_at IS NULL OR expires_at > $2)",
        {id, grace_until_ms});
    // Expired secrets go; of the previous ones, the newest max_previous stay.
    db().query("DELETE FROM endpoint_secrets WHERE endpoint_id = $1 AND expires_at <= $2", {id, now_ms});
    db().query(
        "DELETE FROM endpoint_secrets WHERE endpoint_id = $1 AND created_at NOT IN "
        "(SELECT created_at FROM endpoint_secrets WHERE endpoint_id = $1 ORDER BY created_at DESC LIMIT $2)",
        {id, bigint(max_previous)});
    // created_at is part of the key: two rotations in one millisecond still get two rows.
    db().query(
        "INSERT INTO endpoint_secrets (endpoint_id, secret, created_at) VALUES ($1, $2, "
        "GREATEST($3::bigint, (SELECT COALESCE(MAX(created_at), 0) + 1 FROM endpoint_secrets WHERE endpoint_id = $1)))",
        {id, *stored, now_ms});
    db().query("UPDATE endpoints SET updated_at = $2 WHERE id = $1", {id, now_ms});
    return ok_v;
}

std::int64_t pg_outbox_store::requeue_moved(const pg::rows& moved) {
    std::int64_t n = 0;
    for (int i = 0; i < moved.size(); ++i) {
        count_rows(moved.text(i, 0), moved.int64(i, 1), -moved.int64(i, 1));
        n += moved.int64(i, 1);
    }
    return n;
}

status pg_outbox_store::requeue_dead_letter(std::int64_t id, std::int64_t now_ms) {
    auto name = "dlv_" + std::to_string(id);
    auto r = db().query("SELECT endpoint_id FROM dead_letters WHERE id = $1", {id});
    if (r.empty()) return not_found("dead letter", name);
    std::string endpoint_id(r.text(0, 0));
    if (!endpoint_exists(endpoint_id)) {
        return error{error_code::conflict, "endpoint " + endpoint_id + " of dead letter " + name +
                                               " was deleted: there is nowhere to send it"};
    }
    // Due now: the dispatcher's next scan reads the endpoint again, with its due time.
    if (requeue_moved(db().query(requeue_sql, {pg::array().add(id), now_ms})) == 0) {
        return not_found("dead letter", name);  // another instance moved it
    }
    return ok_v;
}

status pg_outbox_store::retry_delivery(std::int64_t id, std::int64_t now_ms) {
    auto name = "dlv_" + std::to_string(id);
    auto r = db().query(
        "SELECT d.state, d.endpoint_id, p.enabled FROM deliveries d LEFT JOIN endpoints p ON p.id = d.endpoint_id "
        "WHERE d.id = $1 UNION ALL "
        "SELECT 'dead', d.endpoint_id, p.enabled FROM dead_letters d LEFT JOIN endpoints p ON p.id = d.endpoint_id "
        "WHERE d.id = $1",
        {id});
    if (r.empty()) return not_found("delivery", name);
    std::string state(r.text(0, 0));
    std::string endpoint_id(r.text(0, 1));
    std::optional<bool> enabled;
    if (!r.is_null(0, 2)) enabled = r.boolean(0, 2);
    if (state == "pending") return error{error_code::conflict, "delivery " + name + " is pending: it is sent already"};
    if (!enabled) {
        return error{error_code::conflict,
                     "endpoint " + endpoint_id + " of delivery " + name + " was deleted: there is nowhere to send it"};
    }
    if (!*enabled) {
        return error{error_code::conflict,
                     "endpoint " + endpoint_id + " of delivery " + name + " is disabled: enable it first"};
    }
    if (state == "dead") return requeue_dead_letter(id, now_ms);
    auto resent = db().query(
                          "UPDATE deliveries SET state = 'pending', ladder_start = attempts, next_attempt_at = $2, "
                          "delivered_at = NULL, lease_owner = NULL, lease_expires_at = NULL, ordered = "
                          "COALESCE((SELECT p.ordering = 'fifo' FROM endpoints p WHERE p.id = deliveries.endpoint_id), "
                          "false) WHERE id = $1 AND state = 'delivered'",
                          {id, now_ms})
                      .affected();
    count_rows(endpoint_id, resent, 0);
    db().query("UPDATE endpoints SET revision = nextval('endpoint_revisions') WHERE id = $1", {endpoint_id});
    return ok_v;
}

result<requeue_result> pg_outbox_store::requeue_dead_letters(const dead_letter_filter& f, std::int64_t now_ms,
                                                             bool dry_run) {
    where_clause w;
    param_list p;
    if (f.tenant) w.add("e.tenant_id = " + p.add(*f.tenant));
    if (f.endpoint_id) w.add("d.endpoint_id = " + p.add(*f.endpoint_id));
    add_type_filter(w, p, f.event_type);
    if (f.since_ms) w.add("d.died_at >= " + p.add(*f.since_ms));
    if (f.until_ms) w.add("d.died_at < " + p.add(*f.until_ms));
    auto r = db().query(
        "SELECT d.id, EXISTS (SELECT 1 FROM endpoints p WHERE p.id = d.endpoint_id) "
        "FROM dead_letters d JOIN events e ON e.seq = d.event_seq" +
            w.sql,
        p.values);
    pg::array ids;
    requeue_result out;
    for (int i = 0; i < r.size(); ++i) {
        if (r.boolean(i, 1)) {
            ids.add(r.int64(i, 0));
        } else {
            ++out.skipped;
        }
    }
    out.requeued = static_cast<std::int64_t>(ids.size());
    if (dry_run || ids.empty()) return out;
    // All in one statement, as requeue_dead_letter moves one.
    out.requeued = requeue_moved(db().query(requeue_sql, {ids, now_ms}));
    return out;
}

status pg_outbox_store::delete_dead_letter(std::int64_t id) {
    auto gone = db().query("DELETE FROM dead_letters WHERE id = $1 RETURNING endpoint_id", {id});
    if (gone.empty()) return not_found("dead letter", "dlv_" + std::to_string(id));
    count_rows(gone.text(0, 0), 0, -1);
    db().query("DELETE FROM attempts WHERE delivery_id = $1", {id});
    return ok_v;
}

// ---- Tenants and their tokens -------------------------------------------------------------

status pg_outbox_store::create_tenant(const std::string& id, const tenant_settings& s, std::int64_t now_ms) {
    // seq comes from its identity column. ON CONFLICT: the id is taken, maybe by another
    // instance a moment ago.
    auto created = db().query(
        "INSERT INTO tenants (id, name, metadata, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) "
        "ON CONFLICT (id) DO NOTHING",
        {id, s.name.value_or(""), s.metadata_json.value_or("{}"), now_ms});
    if (created.affected() == 0) return error{error_code::conflict, "tenant " + id + " already exists"};
    return ok_v;  // no route entry to forget: an unknown tenant is never cached
}

status pg_outbox_store::update_tenant(std::string_view id, const tenant_settings& s, std::int64_t now_ms) {
    if (!tenant_exists(id)) return not_found("tenant", id);
    db().query(
        "UPDATE tenants SET name = COALESCE($2::text, name), metadata = COALESCE($3::text, metadata), "
        "updated_at = $4 WHERE id = $1",
        {id, s.name, s.metadata_json, now_ms});
    return ok_v;
}

result<std::int64_t> pg_outbox_store::delete_tenant(std::string_view id) {
    if (!tenant_exists(id)) return not_found("tenant", id);
    // Its history first (the attempts of its endpoints, test sends included; the deliveries
    // and dead letters of its events; the events), then each endpoint as delete_endpoint
    // does, then its tokens and itself. A later tenant of the same id starts empty.
    db().query("DELETE FROM attempts WHERE endpoint_id IN (SELECT id FROM endpoints WHERE tenant_id = $1)", {id});
    for (const char* table : {"deliveries", "dead_letters"}) {
        bool dead = std::string_view(table) == "dead_letters";
        auto gone = db().query(std::string("WITH gone AS (DELETE FROM ") + table +
                                   " WHERE event_seq IN (SELECT seq FROM events WHERE tenant_id = $1) RETURNING "
                                   "endpoint_id, " + (dead ? "'dead'" : "state") +
                                   " AS state) SELECT endpoint_id, state, count(*) FROM gone GROUP BY 1, 2",
                               {id});
        for (int i = 0; i < gone.size(); ++i) {
            auto n = gone.int64(i, 2);
            count_rows(gone.text(i, 0), gone.text(i, 1) == "pending" ? -n : 0, gone.text(i, 1) == "dead" ? -n : 0);
        }
    }
    db().query("DELETE FROM events WHERE tenant_id = $1", {id});
    std::vector<std::string> endpoints;
    auto r = db().query("SELECT id FROM endpoints WHERE tenant_id = $1", {id});
    for (int i = 0; i < r.size(); ++i) endpoints.emplace_back(r.text(i, 0));
    for (const auto& e : endpoints) {
        if (auto d = delete_endpoint(e); !d) return d.err();
    }
    db().query("DELETE FROM tenant_tokens WHERE tenant_id = $1", {id});
    db().query("DELETE FROM tenants WHERE id = $1", {id});
    forget_routes(std::string(id));
    return static_cast<std::int64_t>(endpoints.size());
}

status pg_outbox_store::create_token(const token_record& t) {
    if (!tenant_exists(t.tenant_id)) return not_found("tenant", t.tenant_id);
    db().query(
        "INSERT INTO tenant_tokens (id, tenant_id, token_hash, description, created_at, expires_at) VALUES "
        "($1, $2, $3, $4, $5, $6)",
        {t.id, t.tenant_id, t.token_hash, t.description, t.created_ms, t.expires_ms});
    return ok_v;
}

status pg_outbox_store::revoke_token(std::string_view tenant_id, std::string_view token_id) {
    if (!tenant_exists(tenant_id)) return not_found("tenant", tenant_id);
    if (db().query("DELETE FROM tenant_tokens WHERE id = $1 AND tenant_id = $2", {token_id, tenant_id}).affected() ==
        0) {
        return not_found("token", token_id);
    }
    return ok_v;
}

// ---- Reads --------------------------------------------------------------------------------

status pg_outbox_store::read_secrets(
    std::string_view endpoint_id, std::int64_t now_ms,
    const std::function<void(std::string, std::int64_t, std::optional<std::int64_t>)>& take) {
    auto r = db().query(
        "SELECT secret, created_at, expires_at FROM endpoint_secrets WHERE endpoint_id = $1 "
        "AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at DESC",
        {endpoint_id, now_ms});
    for (int i = 0; i < r.size(); ++i) {
        auto secret = clear_secret(endpoint_id, r.text(i, 0));
        if (!secret) return secret.err();
        take(std::move(secret).value(), r.int64(i, 1), r.optional_int64(i, 2));
    }
    return ok_v;
}

namespace {

endpoint_view read_endpoint_row(const pg::rows& r, int i) {
    endpoint_view e;
    e.id = r.text(i, 0);
    e.seq = r.int64(i, 1);
    e.url = r.text(i, 2);
    e.description = r.text(i, 3);
    e.patterns_json = r.text(i, 4);
    e.body_mode = r.text(i, 5);
    e.signature_format = r.text(i, 6);
    e.signature_header = r.text(i, 7);
    e.headers_json = r.text(i, 8);
    e.enabled = r.boolean(i, 9);
    e.paused_ms = r.optional_int64(i, 10);
    e.created_ms = r.int64(i, 11);
    e.updated_ms = r.int64(i, 12);
    e.consecutive_failures = r.int64(i, 13);
    e.failing_since_ms = r.optional_int64(i, 14);
    e.tenant = r.optional_text(i, 15);
    e.disabled_reason = r.optional_text(i, 16);
    e.disabled_ms = r.optional_int64(i, 17);
    e.rate_limit = r.optional_int64(i, 18);
    e.ordering = r.text(i, 19);
    e.deliveries_pending = r.int64(i, 20);
    return e;
}

constexpr const char* endpoint_columns =
    "SELECT id, seq, url, description, event_patterns, body_mode, signature_format, signature_header, headers, "
    "enabled, paused_at, created_at, updated_at, consecutive_failures, failing_since, tenant_id, disabled_reason, "
    "disabled_at, rate_limit, ordering, "
    "(SELECT count(*) FROM deliveries WHERE deliveries.endpoint_id = endpoints.id AND state = 'pending') "
    "FROM endpoints";

}  // namespace

result<std::optional<endpoint_view>> pg_outbox_store::get_endpoint(std::string_view id, std::int64_t now_ms) {
    return read_snapshot([&]() -> result<std::optional<endpoint_view>> {
        auto r = db().query(std::string(endpoint_columns) + " WHERE id = $1", {id});
        if (r.empty()) return std::optional<endpoint_view>();
        auto e = read_endpoint_row(r, 0);
        if (auto st = read_secrets(e.id, now_ms, secrets_of(e)); !st) return st.err();
        return std::optional<endpoint_view>(std::move(e));
    });
}

result<std::vector<endpoint_view>> pg_outbox_store::list_endpoints(const endpoint_filter& f, const page_request& page,
                                                                   std::int64_t now_ms) {
    return read_snapshot([&]() -> result<std::vector<endpoint_view>> {
        where_clause w;
        param_list p;
        if (f.tenant) w.add("tenant_id = " + p.add(*f.tenant));
        if (page.after) w.add("seq < " + p.add(page.after->id));
        auto r = db().query(
            std::string(endpoint_columns) + w.sql + " ORDER BY seq DESC LIMIT " + p.add(bigint(page.limit)), p.values);
        std::vector<endpoint_view> out;
        for (int i = 0; i < r.size(); ++i) out.push_back(read_endpoint_row(r, i));
        for (auto& e : out) {
            if (auto st = read_secrets(e.id, now_ms, secrets_of(e)); !st) return st.err();
        }
        return out;
    });
}

result<std::optional<event_view>> pg_outbox_store::get_event(std::string_view id) {
    return read_snapshot([&]() -> result<std::optional<event_view>> {
        auto r = db().query(
            "SELECT seq, id, type, timestamp, body, data_offset, created_at, tenant_id FROM events WHERE id = $1",
            {id});
        if (r.empty()) return std::optional<event_view>();
        std::int64_t seq = r.int64(0, 0);
        event_view ev;
        ev.id = r.text(0, 1);
        ev.type = r.text(0, 2);
        ev.timestamp = r.text(0, 3);
        ev.body = r.bytes(0, 4);
        ev.data_offset = static_cast<std::size_t>(r.int64(0, 5));
        ev.created_ms = r.int64(0, 6);
        ev.tenant = r.optional_text(0, 7);
        ev.deliveries = read_deliveries(db(),
                                        std::string(delivery_columns) + " WHERE d.event_seq = $1 UNION ALL " +
                                            dead_columns + " WHERE d.event_seq = $1 ORDER BY 1",
                                        {seq});
        return std::optional<event_view>(std::move(ev));
    });
}

result<std::vector<event_view>> pg_outbox_store::list_events(const event_filter& f, const page_request& page) {
    return read_snapshot([&]() -> result<std::vector<event_view>> {
        where_clause w;
        param_list p;
        if (f.tenant) w.add("e.tenant_id = " + p.add(*f.tenant));
        add_type_filter(w, p, f.event_type);
        if (f.since_ms) w.add("e.created_at >= " + p.add(*f.since_ms));
        if (f.until_ms) w.add("e.created_at < " + p.add(*f.until_ms));
        if (page.after) w.add("e.seq < " + p.add(page.after->id));
        auto r = db().query("SELECT e.seq, e.id, e.type, e.timestamp, e.created_at, e.tenant_id FROM events e" + w.sql +
                                " ORDER BY e.seq DESC LIMIT " + p.add(bigint(page.limit)),
                            p.values);
        std::vector<event_view> out;
        for (int i = 0; i < r.size(); ++i) {
            event_view ev;
            ev.seq = r.int64(i, 0);
            ev.id = r.text(i, 1);
            ev.type = r.text(i, 2);
            ev.timestamp = r.text(i, 3);
            ev.created_ms = r.int64(i, 4);
            ev.tenant = r.optional_text(i, 5);
            out.push_back(std::move(ev));
        }
        return out;
    });
}

result<std::vector<delivery_view>> pg_outbox_store::list_deliveries(const delivery_filter& f,
                                                                    const page_request& page) {
    return read_snapshot([&]() -> result<std::vector<delivery_view>> {
        param_list p;  // both arms' values, numbered across them
        auto arm = [&](const char* columns, bool dead) {
            where_clause w;
            if (f.tenant) w.add("e.tenant_id = " + p.add(*f.tenant));
            if (!dead && f.status) w.add("d.state = " + p.add(*f.status));
            if (f.endpoint_id) w.add("d.endpoint_id = " + p.add(*f.endpoint_id));
            add_type_filter(w, p, f.event_type);
            if (f.event_id) w.add("e.id = " + p.add(*f.event_id));
            if (f.since_ms) w.add("d.created_at >= " + p.add(*f.since_ms));
            if (f.until_ms) w.add("d.created_at < " + p.add(*f.until_ms));
            if (page.after) w.add("d.id < " + p.add(page.after->id));
            return std::string(columns) + w.sql;
        };
        std::string sql;
        if (!f.status || *f.status != "dead") sql = arm(delivery_columns, false);
        if (!f.status || *f.status == "dead") {
            auto s = arm(dead_columns, true);
            sql = sql.empty() ? s : sql + " UNION ALL " + s;
        }
        sql += " ORDER BY 1 DESC LIMIT " + p.add(bigint(page.limit));
        return read_deliveries(db(), sql, p.values);
    });
}

result<std::optional<delivery_view>> pg_outbox_store::get_delivery(std::int64_t id) {
    return read_snapshot([&]() -> result<std::optional<delivery_view>> {
        return read_one_delivery(
            db(), std::string(delivery_columns) + " WHERE d.id = $1 UNION ALL " + dead_columns + " WHERE d.id = $1",
            id);
    });
}

result<std::vector<delivery_view>> pg_outbox_store::list_dead_letters(const dead_letter_filter& f,
                                                                      const page_request& page) {
    return read_snapshot([&]() -> result<std::vector<delivery_view>> {
        where_clause w;
        param_list p;
        if (f.tenant) w.add("e.tenant_id = " + p.add(*f.tenant));
        if (f.endpoint_id) w.add("d.endpoint_id = " + p.add(*f.endpoint_id));
        add_type_filter(w, p, f.event_type);
        if (f.since_ms) w.add("d.died_at >= " + p.add(*f.since_ms));
        if (f.until_ms) w.add("d.died_at < " + p.add(*f.until_ms));
        if (page.after) {
            auto died = p.add(page.after->primary);
            w.add("(d.died_at < " + died + " OR (d.died_at = " + died + " AND d.id < " + p.add(page.after->id) + "))");
        }
        return read_deliveries(db(),
                               std::string(dead_columns) + w.sql + " ORDER BY d.died_at DESC, d.id DESC LIMIT " +
                                   p.add(bigint(page.limit)),
                               p.values);
    });
}

result<std::optional<delivery_view>> pg_outbox_store::get_dead_letter(std::int64_t id) {
    return read_snapshot([&]() -> result<std::optional<delivery_view>> {
        return read_one_delivery(db(), std::string(dead_columns) + " WHERE d.id = $1", id);
    });
}

result<std::vector<attempt_view>> pg_outbox_store::list_attempts(std::string_view endpoint_id,
                                                                 const page_request& page) {
    return read_snapshot([&]() -> result<std::vector<attempt_view>> {
        where_clause w;
        param_list p;
        w.add("endpoint_id = " + p.add(endpoint_id));
        return read_page(db(), attempt_columns, w, p, "id", page, read_attempt_row);
    });
}

namespace {

constexpr const char* tenant_columns = "SELECT id, seq, name, metadata, created_at, updated_at FROM tenants";

tenant_view read_tenant_row(const pg::rows& r, int i) {
    return {std::string(r.text(i, 0)), r.int64(i, 1), std::string(r.text(i, 2)),
            std::string(r.text(i, 3)), r.int64(i, 4), r.int64(i, 5)};
}

constexpr const char* token_columns =
    "SELECT id, seq, tenant_id, description, created_at, expires_at FROM tenant_tokens";

token_view read_token_row(const pg::rows& r, int i) {
    return {std::string(r.text(i, 0)), r.int64(i, 1), std::string(r.text(i, 2)),
            std::string(r.text(i, 3)), r.int64(i, 4), r.optional_int64(i, 5)};
}

}  // namespace

result<std::optional<tenant_view>> pg_outbox_store::get_tenant(std::string_view id) {
    return read_snapshot([&]() -> result<std::optional<tenant_view>> {
        auto r = db().query(std::string(tenant_columns) + " WHERE id = $1", {id});
        std::optional<tenant_view> out;
        if (!r.empty()) out = read_tenant_row(r, 0);
        return out;
    });
}

result<std::vector<tenant_view>> pg_outbox_store::list_tenants(const page_request& page) {
    return read_snapshot([&]() -> result<std::vector<tenant_view>> {
        return read_page(db(), tenant_columns, {}, {}, "seq", page, read_tenant_row);
    });
}

result<std::vector<token_view>> pg_outbox_store::list_tokens(std::string_view tenant_id, const page_request& page) {
    return read_snapshot([&]() -> result<std::vector<token_view>> {
        where_clause w;
        param_list p;
        w.add("tenant_id = " + p.add(tenant_id));
        return read_page(db(), token_columns, w, p, "seq", page, read_token_row);
    });
}

result<std::optional<token_view>> pg_outbox_store::find_token(std::string_view token_hash) {
    return read_snapshot([&]() -> result<std::optional<token_view>> {
        // One read of the unique index on token_hash.
        auto r = db().query(std::string(token_columns) + " WHERE token_hash = $1", {token_hash});
        std::optional<token_view> out;
        if (!r.empty()) out = read_token_row(r, 0);
        return out;
    });
}

result<resource_owner> pg_outbox_store::owner_of(const resource_ref& r) {
    return read_snapshot([&]() -> result<resource_owner> {
        const char* sql = nullptr;
        switch (r.kind) {
            case resource_kind::endpoint:
                sql = "SELECT tenant_id FROM endpoints WHERE id = $1";
                break;
            case resource_kind::event:
                sql = "SELECT tenant_id FROM events WHERE id = $1";
                break;
            case resource_kind::delivery:
                sql =
                    "SELECT e.tenant_id FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id = $1 "
                    "UNION ALL SELECT e.tenant_id FROM dead_letters d JOIN events e ON e.seq = d.event_seq "
                    "WHERE d.id = $1";
                break;
            case resource_kind::dead_letter:
                sql = "SELECT e.tenant_id FROM dead_letters d JOIN events e ON e.seq = d.event_seq WHERE d.id = $1";
                break;
        }
        bool by_name = r.kind == resource_kind::endpoint || r.kind == resource_kind::event;
        auto rows = db().query(sql, {by_name ? pg::param(r.id) : pg::param(r.number)});
        resource_owner out;
        if (!rows.empty()) {
            out.exists = true;
            out.tenant = rows.optional_text(0, 0);
        }
        return out;
    });
}

result<outbox_counts> pg_outbox_store::counts() {
    return read_snapshot([&]() -> result<outbox_counts> {
        // The counts as of the last fold, plus every group's changes since.
        count_map counts;
        read_counts(counts);
        return gauges_of(counts, endpoint_failures());
    });
}

result<outbox_counts> pg_outbox_store::recount() {
    return read_snapshot([&]() -> result<outbox_counts> {
        count_map counts;
        auto p = db().query("SELECT endpoint_id, count(*) FROM deliveries WHERE state = 'pending' GROUP BY endpoint_id");
        for (int i = 0; i < p.size(); ++i) counts[std::string(p.text(i, 0))].pending += p.int64(i, 1);
        auto d = db().query("SELECT endpoint_id, count(*) FROM dead_letters GROUP BY endpoint_id");
        for (int i = 0; i < d.size(); ++i) counts[std::string(d.text(i, 0))].dead += d.int64(i, 1);
        return gauges_of(counts, endpoint_failures());
    });
}

std::vector<std::pair<std::string, std::int64_t>> pg_outbox_store::endpoint_failures() {
    std::vector<std::pair<std::string, std::int64_t>> out;
    auto q = db().query("SELECT id, consecutive_failures FROM endpoints ORDER BY seq");
    for (int i = 0; i < q.size(); ++i) out.emplace_back(std::string(q.text(i, 0)), q.int64(i, 1));
    return out;
}

}  // namespace webhookd::detail
