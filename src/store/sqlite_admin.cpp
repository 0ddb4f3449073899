// The SQLite outbox's admin API half: endpoint settings and secrets, the delivery log and
// dead letters. Writes run inside the writer's group transaction (they throw
// sqlite::failure, which write_group turns into the unit's error); reads run on a
// connection of their own, each in one read transaction so a page is one snapshot.

#include <sqlite3.h>

#include <variant>

#include "store/sqlite_store_impl.hpp"

namespace webhookd::detail {

namespace {

error not_found(std::string_view what, std::string_view id) {
    return error{error_code::not_found, std::string(what) + " " + std::string(id) + " does not exist"};
}

// A WHERE clause built from optional filters, with its bind values in order.
struct where_clause {
    std::string sql;
    std::vector<std::variant<std::int64_t, std::string>> args;

    void add(std::string_view condition) {
        sql += sql.empty() ? " WHERE " : " AND ";
        sql += condition;
    }
    // A condition with a value for each of its `?`, in order.
    template <class... T>
    void add(std::string_view condition, T... values) {
        add(condition);
        (args.emplace_back(std::move(values)), ...);
    }
    // Binds args from index `first`; returns the next free index.
    int bind(sqlite::statement& q, int first = 1) const {
        for (const auto& a : args) {
            std::visit([&](const auto& v) { q.bind(first, v); }, a);
            ++first;
        }
        return first;
    }
};

std::optional<int> optional_int(const sqlite::statement& q, int col) {
    if (q.is_null(col)) return std::nullopt;
    return static_cast<int>(q.int64(col));
}
std::optional<std::int64_t> optional_int64(const sqlite::statement& q, int col) {
    if (q.is_null(col)) return std::nullopt;
    return q.int64(col);
}

// Columns of a delivery row, the same for both tables (see delivery_columns / dead_columns).
delivery_view read_delivery_row(const sqlite::statement& q) {
    delivery_view d;
    d.id = q.int64(0);
    d.status = q.text(1);
    d.event_id = q.text(2);
    d.event_type = q.text(3);
    d.endpoint_id = q.text(4);
    d.attempts = static_cast<int>(q.int64(5));
    d.created_ms = q.int64(6);
    d.next_attempt_ms = optional_int64(q, 7);
    d.last_attempt_ms = optional_int64(q, 8);
    d.last_status = optional_int(q, 9);
    d.last_error = q.is_null(10) ? "" : q.text(10);
    d.delivered_ms = optional_int64(q, 11);
    d.died_ms = optional_int64(q, 12);
    d.last_response = q.is_null(13) ? "" : q.text(13);
    if (!q.is_null(14)) d.tenant = q.text(14);
    return d;
}

constexpr const char* delivery_columns =
    "SELECT d.id, d.state, e.id, e.type, d.endpoint_id, d.attempts, d.created_at, d.next_attempt_at, "
    "d.last_attempt_at, d.last_status, d.last_error, d.delivered_at, NULL, NULL, e.tenant_id "
    "FROM deliveries d JOIN events e ON e.seq = d.event_seq";
constexpr const char* dead_columns =
    "SELECT d.id, 'dead', e.id, e.type, d.endpoint_id, d.attempts, d.created_at, NULL, d.died_at, "
    "d.last_status, d.last_error, NULL, d.died_at, d.last_response, e.tenant_id "
    "FROM dead_letters d JOIN events e ON e.seq = d.event_seq";

// The conditions of an event-type filter on events e: exact, "prefix.*" or "*".
void add_type_filter(where_clause& w, const std::optional<std::string>& type) {
    if (!type || *type == "*") return;
    if (type->ends_with(".*")) {
        // "booking.*": types that start with "booking." and go on (as the endpoint matcher).
        auto n = static_cast<std::int64_t>(type->size() - 1);
        w.add("substr(e.type, 1, ?) = ?", n);
        w.args.emplace_back(type->substr(0, type->size() - 1));
        w.add("length(e.type) > ?", n);
    } else {
        w.add("e.type = ?", *type);
    }
}

// Runs f in one read transaction; a failure becomes a storage error.
template <class F>
auto read_snapshot(sqlite::connection& db, F&& f) -> decltype(f()) {
    try {
        db.exec("BEGIN");
        auto r = f();
        db.exec("COMMIT");
        return r;
    } catch (const sqlite::failure& e) {
        if (!sqlite3_get_autocommit(db.handle())) {
            try {
                db.exec("ROLLBACK");
            } catch (const sqlite::failure&) {
            }
        }
        return storage_error(e);
    }
}

}  // namespace

std::optional<std::string> sqlite_outbox_store::endpoint_tenant(std::string_view id) {
    auto& q = db_->prepare("SELECT tenant_id FROM endpoints WHERE id = ?");
    q.bind(1, id);
    std::optional<std::string> tenant;
    if (q.step() && !q.is_null(0)) tenant = q.text(0);
    q.reset();
    return tenant;
}

std::optional<std::int64_t> sqlite_outbox_store::tenant_seq(std::string_view id) {
    auto& q = db_->prepare("SELECT seq FROM tenants WHERE id = ?");
    q.bind(1, id);
    std::optional<std::int64_t> seq;
    if (q.step()) seq = q.int64(0);
    q.reset();
    return seq;
}

bool sqlite_outbox_store::endpoint_exists(std::string_view id) {
    auto& q = db_->prepare("SELECT 1 FROM endpoints WHERE id = ?");
    q.bind(1, id);
    bool found = q.step();
    q.reset();
    return found;
}

// ---- Writes -------------------------------------------------------------------------------

status sqlite_outbox_store::create_endpoint(const std::string& id, const endpoint_settings& s,
                                            const std::string& secret, std::int64_t now_ms) {
    if (endpoint_exists(id)) return error{error_code::conflict, "endpoint " + id + " already exists"};
    if (s.tenant && !tenant_exists(*s.tenant)) {
        return error{error_code::tenant_not_found, "tenant " + *s.tenant + " does not exist"};
    }
    auto stored = stored_secret(id, secret);
    if (!stored) return stored.err();
    static const std::string insert =
        "INSERT INTO endpoints (id, seq, url, description, event_patterns, body_mode, signature_format, "
        "signature_header, headers, enabled, created_at, updated_at, tenant_id, rate_limit, ordering, "
        "disabled_reason, disabled_at) VALUES (?1, " + new_endpoint_seq_sql("?1") + ", ?2, ?3, ?4, "
        "?5, ?6, ?7, ?8, ?9, ?10, ?10, ?11, ?12, ?13, CASE ?9 WHEN 0 THEN 'manual' END, "
        "CASE ?9 WHEN 0 THEN ?10 END)";
    db_->prepare(insert)
        .bind(1, id)
        .bind(2, s.url.value_or(""))
        .bind(3, s.description.value_or(""))
        .bind(4, s.patterns_json.value_or("[]"))
        .bind(5, s.body_mode.value_or("envelope"))
        .bind(6, s.signature_format.value_or("hex"))
        .bind(7, s.signature_header.value_or("X-Webhook-Signature"))
        .bind(8, s.headers_json.value_or("{}"))
        .bind(9, std::int64_t{s.enabled.value_or(true) ? 1 : 0})
        .bind(10, now_ms)
        .bind_text(11, s.tenant)
        .bind(12, s.rate_limit.value_or(std::nullopt))
        .bind(13, s.ordering.value_or("unordered"))
        .run();
    secure_delete_scope scrub(*db_);
    db_->prepare("INSERT INTO endpoint_secrets (endpoint_id, secret, created_at) VALUES (?, ?, ?)")
        .bind(1, id)
        .bind(2, *stored)
        .bind(3, now_ms)
        .run();
    forget_routes(s.tenant);  // this connection's own writes do not move data_version
    return ok_v;
}

status sqlite_outbox_store::update_endpoint(std::string_view id, const endpoint_settings& s, std::int64_t now_ms) {
    if (!endpoint_exists(id)) return not_found("endpoint", id);
    std::string sql = "UPDATE endpoints SET updated_at = ?";
    where_clause values;  // only its bind list: the SET values in order
    values.args.emplace_back(now_ms);
    auto set = [&](const char* column, const auto& value) {
        if (!value) return;
        sql += std::string(", ") + column + " = ?";
        values.args.emplace_back(*value);
    };
    set("url", s.url);
    set("description", s.description);
    set("event_patterns", s.patterns_json);
    set("body_mode", s.body_mode);
    set("signature_format", s.signature_format);
    set("signature_header", s.signature_header);
    set("headers", s.headers_json);
    if (s.rate_limit && *s.rate_limit) {
        sql += ", rate_limit = ?";
        values.args.emplace_back(**s.rate_limit);
    } else if (s.rate_limit) {
        sql += ", rate_limit = NULL";
    }
    set("ordering", s.ordering);
    if (s.enabled && *s.enabled) {
        // Enabled again: a clean slate (docs/operations.md, "Endpoint health"). SET reads the
        // row as it was, so `enabled` is the old value throughout.
        sql += ", disabled_reason = NULL, disabled_at = NULL, "
               "consecutive_failures = CASE enabled WHEN 0 THEN 0 ELSE consecutive_failures END, "
               "failing_since = CASE enabled WHEN 0 THEN NULL ELSE failing_since END, "
               "failing_reported = CASE enabled WHEN 0 THEN 0 ELSE failing_reported END, enabled = 1";
    } else if (s.enabled) {
        sql += ", disabled_reason = CASE enabled WHEN 1 THEN 'manual' ELSE disabled_reason END, "
               "disabled_at = CASE enabled WHEN 1 THEN ? ELSE disabled_at END, enabled = 0";
        values.args.emplace_back(now_ms);
    }
    sql += " WHERE id = ?";
    values.args.emplace_back(std::string(id));
    auto& q = db_->prepare(sql);
    values.bind(q);
    q.run();
    if (s.ordering) {
        // Its waiting deliveries join (or leave) the FIFO queue with it.
        static const std::string reorder =
            "UPDATE deliveries INDEXED BY deliveries_endpoint_due SET ordered = ?1 WHERE " + pending_of_sql("?2");
        db_->prepare(reorder)
            .bind(1, std::int64_t{*s.ordering == "fifo"})
            .bind(2, id)
            .run();
    }
    forget_routes(endpoint_tenant(id));
    return ok_v;
}

result<std::int64_t> sqlite_outbox_store::delete_endpoint(std::string_view id) {
    if (!endpoint_exists(id)) return not_found("endpoint", id);
    forget_routes(endpoint_tenant(id));
    static const std::string forget_attempts =
        "DELETE FROM attempts WHERE delivery_id IN "
        "(SELECT id FROM deliveries INDEXED BY deliveries_endpoint_due WHERE " + pending_of_sql("?1") + ")";
    db_->prepare(forget_attempts).bind(1, id).run();
    static const std::string cancel =
        "DELETE FROM deliveries INDEXED BY deliveries_endpoint_due WHERE " + pending_of_sql("?1");
    db_->prepare(cancel).bind(1, id).run();
    std::int64_t cancelled = db_->changes();
    count_rows(id, -cancelled, 0);
    {
        secure_delete_scope scrub(*db_);
        db_->prepare("DELETE FROM endpoint_secrets WHERE endpoint_id = ?").bind(1, id).run();
        scrub_wal_ = true;
    }
    // Its seq stays its own: the key of its delivered history in deliveries_endpoint.
    db_->prepare("INSERT OR IGNORE INTO retired_endpoints (id, seq) SELECT id, seq FROM endpoints WHERE id = ?")
        .bind(1, id)
        .run();
    db_->prepare("DELETE FROM endpoints WHERE id = ?").bind(1, id).run();
    return cancelled;
}

result<std::int64_t> sqlite_outbox_store::set_paused(std::string_view id, bool paused, std::int64_t now_ms) {
    auto& q = db_->prepare("SELECT paused_at FROM endpoints WHERE id = ?");
    q.bind(1, id);
    if (!q.step()) {
        q.reset();
        return not_found("endpoint", id);
    }
    std::optional<std::int64_t> paused_at = optional_int64(q, 0);
    q.reset();
    std::int64_t moved = 0;
    if (paused && !paused_at) {
        db_->prepare("UPDATE endpoints SET paused_at = ?2, updated_at = ?2 WHERE id = ?1").bind(1, id).bind(2, now_ms).run();
    } else if (!paused && paused_at) {
        // Each delivery not yet due at the pause gets back the wait it had left then (from
        // the pause, or from when it was scheduled if that was later). One with no wait
        // left (made during the pause, due at once) is due as it is, and is not rewritten.
        static const std::string resume =
            "UPDATE deliveries INDEXED BY deliveries_endpoint_due "
            "SET next_attempt_at = ?3 + next_attempt_at - MAX(?2, created_at, COALESCE(last_attempt_at, 0)) "
            "WHERE " + pending_of_sql("?1") + " AND next_attempt_at > ?2 AND lease_owner IS NULL "
            "AND next_attempt_at > MAX(?2, created_at, COALESCE(last_attempt_at, 0))";
        db_->prepare(resume)
            .bind(1, id)
            .bind(2, *paused_at)
            .bind(3, now_ms)
            .run();
        moved = db_->changes();
        db_->prepare("UPDATE endpoints SET paused_at = NULL, updated_at = ?2 WHERE id = ?1").bind(1, id).bind(2, now_ms).run();
    }
    return moved;
}

status sqlite_outbox_store::rotate_secret(std::string_view id, const std::string& secret, std::int64_t grace_until_ms,
                                          std::int64_t now_ms, std::size_t max_previous) {
    if (!endpoint_exists(id)) return not_found("endpoint", id);
    auto stored = stored_secret(id, secret);
    if (!stored) return stored.err();
    secure_delete_scope scrub(*db_);
    scrub_wal_ = true;  // the secrets this rotation drops
    db_->prepare(
           "UPDATE endpoint_secrets SET expires_at = ?2 WHERE endpoint_id = ?1 "
           "AND (expires_at IS NULL OR expires_at > ?2)")
        .bind(1, id)
        .bind(2, grace_until_ms)
        .run();
    // Expired secrets go; of the previous ones, the newest max_previous stay.
    db_->prepare("DELETE FROM endpoint_secrets WHERE endpoint_id = ?1 AND expires_at <= ?2")
        .bind(1, id)
        .bind(2, now_ms)
        .run();
    db_->prepare(
           "DELETE FROM endpoint_secrets WHERE endpoint_id = ?1 AND created_at NOT IN "
           "(SELECT created_at FROM endpoint_secrets WHERE endpoint_id = ?1 ORDER BY created_at DESC LIMIT ?2)")
        .bind(1, id)
        .bind(2, static_cast<std::int64_t>(max_previous))
        .run();
    // created_at is part of the key: two rotations in one millisecond still get two rows.
    db_->prepare(
           "INSERT INTO endpoint_secrets (endpoint_id, secret, created_at) VALUES (?1, ?2, "
           "MAX(?3, (SELECT COALESCE(MAX(created_at), 0) + 1 FROM endpoint_secrets WHERE endpoint_id = ?1)))")
        .bind(1, id)
        .bind(2, *stored)
        .bind(3, now_ms)
        .run();
    db_->prepare("UPDATE endpoints SET updated_at = ?2 WHERE id = ?1").bind(1, id).bind(2, now_ms).run();
    return ok_v;
}

status sqlite_outbox_store::requeue_dead_letter(std::int64_t id, std::int64_t now_ms) {
    auto& q = db_->prepare("SELECT endpoint_id FROM dead_letters WHERE id = ?");
    q.bind(1, id);
    if (!q.step()) {
        q.reset();
        return not_found("dead letter", "dlv_" + std::to_string(id));
    }
    auto endpoint_id = q.text(0);
    q.reset();
    if (!endpoint_exists(endpoint_id)) {
        return error{error_code::conflict, "endpoint " + endpoint_id + " of dead letter dlv_" + std::to_string(id) +
                                     " was deleted: there is nowhere to send it"};
    }
    static const std::string requeue =
        "INSERT INTO deliveries (id, event_seq, endpoint_id, endpoint_seq, state, attempts, ladder_start, "
        "next_attempt_at, created_at, last_attempt_at, last_status, last_error, ordered) SELECT id, event_seq, "
        "endpoint_id, " + endpoint_seq_sql("dead_letters.endpoint_id") + ", 'pending', attempts, attempts, ?2, "
        "created_at, died_at, last_status, last_error, " + ordered_sql("endpoint_id") +
        " FROM dead_letters WHERE id = ?1";
    db_->prepare(requeue)
        .bind(1, id)
        .bind(2, now_ms)
        .run();
    db_->prepare("DELETE FROM dead_letters WHERE id = ?").bind(1, id).run();
    count_rows(endpoint_id, 1, -1);
    // Due now: the dispatcher's next scan reads the endpoint again, with its due time.
    db_->prepare("UPDATE endpoints SET revision = (SELECT MAX(revision) FROM endpoints) + 1 WHERE id = ?")
        .bind(1, endpoint_id)
        .run();
    return ok_v;
}

status sqlite_outbox_store::retry_delivery(std::int64_t id, std::int64_t now_ms) {
    auto name = "dlv_" + std::to_string(id);
    auto& q = db_->prepare(
        "SELECT d.state, d.endpoint_id, p.enabled FROM deliveries d LEFT JOIN endpoints p ON p.id = d.endpoint_id "
        "WHERE d.id = ?1 UNION ALL "
        "SELECT 'dead', d.endpoint_id, p.enabled FROM dead_letters d LEFT JOIN endpoints p ON p.id = d.endpoint_id "
        "WHERE d.id = ?1");
    q.bind(1, id);
    if (!q.step()) {
        q.reset();
        return not_found("delivery", name);
    }
    auto state = q.text(0);
    auto endpoint_id = q.text(1);
    std::optional<bool> enabled;
    if (!q.is_null(2)) enabled = q.int64(2) != 0;
    q.reset();
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
    static const std::string resend =
        "UPDATE deliveries SET state = 'pending', ladder_start = attempts, next_attempt_at = ?2, "
        "delivered_at = NULL, lease_owner = NULL, lease_expires_at = NULL, ordered = " +
        ordered_sql("endpoint_id") + ", endpoint_seq = " + endpoint_seq_sql("deliveries.endpoint_id") +
        " WHERE id = ?1";
    db_->prepare(resend)
        .bind(1, id)
        .bind(2, now_ms)
        .run();
    count_rows(endpoint_id, db_->changes(), 0);
    db_->prepare("UPDATE endpoints SET revision = (SELECT MAX(revision) FROM endpoints) + 1 WHERE id = ?")
        .bind(1, endpoint_id)
        .run();
    return ok_v;
}

result<requeue_result> sqlite_outbox_store::requeue_dead_letters(const dead_letter_filter& f, std::int64_t now_ms,
                                                                 bool dry_run) {
    where_clause w;
    if (f.tenant) w.add(events_of_tenant_sql("e", "?"), *f.tenant);
    if (f.endpoint_id) w.add("d.endpoint_id = ?", *f.endpoint_id);
    add_type_filter(w, f.event_type);
    if (f.since_ms) w.add("d.died_at >= ?", *f.since_ms);
    if (f.until_ms) w.add("d.died_at < ?", *f.until_ms);
    auto& q = db_->prepare(
        "SELECT d.id, EXISTS (SELECT 1 FROM endpoints p WHERE p.id = d.endpoint_id) "
        "FROM dead_letters d JOIN events e ON e.seq = d.event_seq" + w.sql);
    w.bind(q);
    std::vector<std::int64_t> ids;
    requeue_result out;
    while (q.step()) {
        if (q.int64(1)) {
            ids.push_back(q.int64(0));
        } else {
            ++out.skipped;
        }
    }
    q.reset();
    out.requeued = static_cast<std::int64_t>(ids.size());
    if (dry_run) return out;
    for (auto id : ids) {
        if (auto st = requeue_dead_letter(id, now_ms); !st) return st.err();
    }
    return out;
}

status sqlite_outbox_store::delete_dead_letter(std::int64_t id) {
    auto& del = db_->prepare("DELETE FROM dead_letters WHERE id = ? RETURNING endpoint_id");
    del.bind(1, id);
    bool found = del.step();
    if (found) count_rows(del.text_view(0), 0, -1);
    del.reset();
    if (!found) return not_found("dead letter", "dlv_" + std::to_string(id));
    db_->prepare("DELETE FROM attempts WHERE delivery_id = ?").bind(1, id).run();
    return ok_v;
}

// ---- Tenants and their tokens -------------------------------------------------------------

status sqlite_outbox_store::create_tenant(const std::string& id, const tenant_settings& s, std::int64_t now_ms) {
    if (tenant_exists(id)) return error{error_code::conflict, "tenant " + id + " already exists"};
    db_->prepare(
           "INSERT INTO tenants (id, seq, name, metadata, created_at, updated_at) VALUES "
           "(?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM tenants), ?2, ?3, ?4, ?4)")
        .bind(1, id)
        .bind(2, s.name.value_or(""))
        .bind(3, s.metadata_json.value_or("{}"))
        .bind(4, now_ms)
        .run();
    return ok_v;  // no route entry to forget: an unknown tenant is never cached
}

status sqlite_outbox_store::update_tenant(std::string_view id, const tenant_settings& s, std::int64_t now_ms) {
    if (!tenant_exists(id)) return not_found("tenant", id);
    db_->prepare(
           "UPDATE tenants SET name = COALESCE(?2, name), metadata = COALESCE(?3, metadata), updated_at = ?4 "
           "WHERE id = ?1")
        .bind(1, id)
        .bind_text(2, s.name)
        .bind_text(3, s.metadata_json)
        .bind(4, now_ms)
        .run();
    return ok_v;
}

result<std::int64_t> sqlite_outbox_store::delete_tenant(std::string_view id) {
    if (!tenant_exists(id)) return not_found("tenant", id);
    // Its history first (the attempts of its endpoints, test sends included; the deliveries
    // and dead letters of its events; the events), then each endpoint as delete_endpoint
    // does, then its tokens and itself. A later tenant of the same id starts empty.
    db_->prepare("DELETE FROM attempts WHERE endpoint_id IN (SELECT id FROM endpoints WHERE tenant_id = ?)")
        .bind(1, id)
        .run();
    for (const char* table : {"deliveries", "dead_letters"}) {
        bool dead = std::string_view(table) == "dead_letters";
        auto& del = db_->prepare(std::string("DELETE FROM ") + table +
                                 " WHERE event_seq IN (SELECT seq FROM events e INDEXED BY events_tenant WHERE " +
                                 events_of_tenant_sql("e", "?1") + ")"
                                 " RETURNING endpoint_id, " + (dead ? "'dead'" : "state"));
        del.bind(1, id);
        while (del.step()) {
            auto state = del.text_view(1);
            count_rows(del.text_view(0), state == "pending" ? -1 : 0, state == "dead" ? -1 : 0);
        }
        del.reset();
    }
    db_->prepare("DELETE FROM events INDEXED BY events_tenant WHERE " + events_of_tenant_sql("events", "?"))
        .bind(1, id)
        .run();
    std::vector<std::string> endpoints;
    auto& q = db_->prepare("SELECT id FROM endpoints WHERE tenant_id = ?");
    q.bind(1, id);
    while (q.step()) endpoints.push_back(q.text(0));
    q.reset();
    for (const auto& e : endpoints) {
        if (auto r = delete_endpoint(e); !r) return r.err();
    }
    db_->prepare("DELETE FROM tenant_tokens WHERE tenant_id = ?").bind(1, id).run();
    db_->prepare("DELETE FROM tenants WHERE id = ?").bind(1, id).run();
    forget_routes(std::string(id));
    return static_cast<std::int64_t>(endpoints.size());
}

status sqlite_outbox_store::create_token(const token_record& t) {
    if (!tenant_exists(t.tenant_id)) return not_found("tenant", t.tenant_id);
    db_->prepare(
           "INSERT INTO tenant_tokens (id, seq, tenant_id, token_hash, description, created_at, expires_at) VALUES "
           "(?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM tenant_tokens), ?2, ?3, ?4, ?5, ?6)")
        .bind(1, t.id)
        .bind(2, t.tenant_id)
        .bind(3, t.token_hash)
        .bind(4, t.description)
        .bind(5, t.created_ms)
        .bind(6, t.expires_ms)
        .run();
    return ok_v;
}

status sqlite_outbox_store::revoke_token(std::string_view tenant_id, std::string_view token_id) {
    if (!tenant_exists(tenant_id)) return not_found("tenant", tenant_id);
    db_->prepare("DELETE FROM tenant_tokens WHERE id = ? AND tenant_id = ?").bind(1, token_id).bind(2, tenant_id).run();
    if (db_->changes() == 0) return not_found("token", token_id);
    return ok_v;
}

// ---- Reads --------------------------------------------------------------------------------

status sqlite_outbox_store::read_secrets(
    std::string_view endpoint_id, std::int64_t now_ms,
    const std::function<void(std::string, std::int64_t, std::optional<std::int64_t>)>& take) {
    auto& q = db_->prepare(
        "SELECT secret, created_at, expires_at FROM endpoint_secrets WHERE endpoint_id = ? "
        "AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at DESC");
    q.bind(1, endpoint_id).bind(2, now_ms);
    while (q.step()) {
        auto secret = clear_secret(endpoint_id, q.text_view(0));
        if (!secret) {
            q.reset();
            return secret.err();
        }
        take(std::move(secret).value(), q.int64(1), optional_int64(q, 2));
    }
    q.reset();
    return ok_v;
}

status sqlite_outbox_store::load_secrets(endpoint_view& e, std::int64_t now_ms) {
    return read_secrets(e.id, now_ms,
                        [&](std::string secret, std::int64_t created, std::optional<std::int64_t> expires) {
                            e.secrets.push_back({std::move(secret), created, expires});
                        });
}

namespace {

constexpr const char* attempt_columns =
    "SELECT id, delivery_id, endpoint_id, attempt, started_at, duration_us, outcome, status_code, error, "
    "response_snippet FROM attempts";

attempt_view read_attempt_row(const sqlite::statement& q) {
    return {q.int64(0), optional_int64(q, 1), q.text(2), static_cast<int>(q.int64(3)), q.int64(4),
            q.int64(5), q.text(6), optional_int(q, 7), q.is_null(8) ? "" : q.text(8),
            q.is_null(9) ? "" : q.text(9)};
}

}  // namespace

void sqlite_outbox_store::load_attempts(delivery_view& d) {
    auto& q = db_->prepare(std::string(attempt_columns) + " WHERE delivery_id = ? ORDER BY attempt, id");
    q.bind(1, d.id);
    while (q.step()) d.attempt_log.push_back(read_attempt_row(q));
    q.reset();
}

namespace {

endpoint_view read_endpoint_row(const sqlite::statement& q) {
    endpoint_view e;
    e.id = q.text(0);
    e.seq = q.int64(1);
    e.url = q.text(2);
    e.description = q.text(3);
    e.patterns_json = q.text(4);
    e.body_mode = q.text(5);
    e.signature_format = q.text(6);
    e.signature_header = q.text(7);
    e.headers_json = q.text(8);
    e.enabled = q.int64(9) != 0;
    e.paused_ms = optional_int64(q, 10);
    e.created_ms = q.int64(11);
    e.updated_ms = q.int64(12);
    e.consecutive_failures = q.int64(13);
    e.failing_since_ms = optional_int64(q, 14);
    if (!q.is_null(15)) e.tenant = q.text(15);
    if (!q.is_null(16)) e.disabled_reason = q.text(16);
    e.disabled_ms = optional_int64(q, 17);
    e.rate_limit = optional_int64(q, 18);
    e.ordering = q.text(19);
    e.deliveries_pending = q.int64(20);
    return e;
}

constexpr const char* endpoint_columns =
    "SELECT id, seq, url, description, event_patterns, body_mode, signature_format, signature_header, headers, "
    "enabled, paused_at, created_at, updated_at, consecutive_failures, failing_since, tenant_id, disabled_reason, "
    "disabled_at, rate_limit, ordering, "
    "(SELECT COUNT(*) FROM deliveries INDEXED BY deliveries_endpoint_due "
    "WHERE deliveries.endpoint_seq = endpoints.seq AND state = 'pending') FROM endpoints";

}  // namespace

result<std::optional<endpoint_view>> sqlite_outbox_store::get_endpoint(std::string_view id, std::int64_t now_ms) {
    return read_snapshot(*db_, [&]() -> result<std::optional<endpoint_view>> {
        auto& q = db_->prepare(std::string(endpoint_columns) + " WHERE id = ?");
        q.bind(1, id);
        if (!q.step()) {
            q.reset();
            return std::optional<endpoint_view>();
        }
        auto e = read_endpoint_row(q);
        q.reset();
        if (auto st = load_secrets(e, now_ms); !st) return st.err();
        return std::optional<endpoint_view>(std::move(e));
    });
}

result<std::vector<endpoint_view>> sqlite_outbox_store::list_endpoints(const endpoint_filter& f,
                                                                      const page_request& page, std::int64_t now_ms) {
    return read_snapshot(*db_, [&]() -> result<std::vector<endpoint_view>> {
        where_clause w;
        if (f.tenant) w.add("tenant_id = ?", *f.tenant);
        if (page.after) w.add("seq < ?", page.after->id);
        auto& q = db_->prepare(std::string(endpoint_columns) + w.sql + " ORDER BY seq DESC LIMIT ?");
        q.bind(w.bind(q), static_cast<std::int64_t>(page.limit));
        std::vector<endpoint_view> out;
        while (q.step()) out.push_back(read_endpoint_row(q));
        q.reset();
        for (auto& e : out) {
            if (auto st = load_secrets(e, now_ms); !st) return st.err();
        }
        return out;
    });
}

std::vector<delivery_view> sqlite_outbox_store::read_deliveries(const std::string& sql,
                                                                const std::vector<std::string>& text_args,
                                                                const std::vector<std::int64_t>& int_args) {
    auto& q = db_->prepare(sql);
    int i = 1;
    for (const auto& t : text_args) q.bind(i++, t);
    for (auto n : int_args) q.bind(i++, n);
    std::vector<delivery_view> out;
    while (q.step()) out.push_back(read_delivery_row(q));
    q.reset();
    return out;
}

result<std::optional<event_view>> sqlite_outbox_store::get_event(std::string_view id) {
    return read_snapshot(*db_, [&]() -> result<std::optional<event_view>> {
        auto& q = db_->prepare(
            "SELECT seq, id, type, timestamp, body, data_offset, created_at, tenant_id FROM events WHERE id = ?");
        q.bind(1, id);
        if (!q.step()) {
            q.reset();
            return std::optional<event_view>();
        }
        std::int64_t seq = q.int64(0);
        event_view ev{q.text(1), q.text(2), q.text(3), q.text(4), static_cast<std::size_t>(q.int64(5)),
                      q.int64(6), std::nullopt, {}};
        if (!q.is_null(7)) ev.tenant = q.text(7);
        q.reset();
        ev.deliveries = read_deliveries(std::string(delivery_columns) + " WHERE d.event_seq = ?1 UNION ALL " +
                                            dead_columns + " WHERE d.event_seq = ?1 ORDER BY 1",
                                        {}, {seq});
        return std::optional<event_view>(std::move(ev));
    });
}

result<std::vector<event_view>> sqlite_outbox_store::list_events(const event_filter& f, const page_request& page) {
    return read_snapshot(*db_, [&]() -> result<std::vector<event_view>> {
        where_clause w;
        if (f.tenant) w.add(events_of_tenant_sql("e", "?"), *f.tenant);
        add_type_filter(w, f.event_type);
        if (f.since_ms) w.add("e.created_at >= ?", *f.since_ms);
        if (f.until_ms) w.add("e.created_at < ?", *f.until_ms);
        if (page.after) w.add("e.seq < ?", page.after->id);
        auto& q = db_->prepare("SELECT e.seq, e.id, e.type, e.timestamp, e.created_at, e.tenant_id FROM events e" +
                               w.sql + " ORDER BY e.seq DESC LIMIT ?");
        q.bind(w.bind(q), static_cast<std::int64_t>(page.limit));
        std::vector<event_view> out;
        while (q.step()) {
            event_view ev;
            ev.seq = q.int64(0);
            ev.id = q.text(1);
            ev.type = q.text(2);
            ev.timestamp = q.text(3);
            ev.created_ms = q.int64(4);
            if (!q.is_null(5)) ev.tenant = q.text(5);
            out.push_back(std::move(ev));
        }
        q.reset();
        return out;
    });
}

result<std::vector<delivery_view>> sqlite_outbox_store::list_deliveries(const delivery_filter& f,
                                                                        const page_request& page) {
    return read_snapshot(*db_, [&]() -> result<std::vector<delivery_view>> {
        auto arm = [&](const char* columns, bool dead) {
            where_clause w;
            if (f.tenant) w.add(events_of_tenant_sql("e", "?"), *f.tenant);
            if (!dead && f.status) w.add("d.state = ?", *f.status);
            if (f.endpoint_id && dead) w.add("d.endpoint_id = ?", *f.endpoint_id);
            if (f.endpoint_id && !dead) {
                // A range of deliveries_endpoint, keyed by the endpoint's seq, which a deleted
                // endpoint keeps (migration 0013). The id as well: a program that creates
                // endpoints itself may hand out a retired seq again.
                w.add("d.endpoint_seq = " + endpoint_history_seq_sql("?") + " AND d.endpoint_id = ?",
                      *f.endpoint_id, *f.endpoint_id, *f.endpoint_id);
            }
            add_type_filter(w, f.event_type);
            if (f.event_id) w.add("e.id = ?", *f.event_id);
            if (f.since_ms) w.add("d.created_at >= ?", *f.since_ms);
            if (f.until_ms) w.add("d.created_at < ?", *f.until_ms);
            if (page.after) w.add("d.id < ?", page.after->id);
            return std::make_pair(std::string(columns) + w.sql, w);
        };
        std::vector<where_clause> binds;
        std::string sql;
        if (!f.status || *f.status != "dead") {
            auto [s, w] = arm(delivery_columns, false);
            sql = s;
            binds.push_back(w);
        }
        if (!f.status || *f.status == "dead") {
            auto [s, w] = arm(dead_columns, true);
            sql = sql.empty() ? s : sql + " UNION ALL " + s;
            binds.push_back(w);
        }
        sql += " ORDER BY 1 DESC LIMIT ?";
        auto& q = db_->prepare(sql);
        int i = 1;
        for (const auto& w : binds) i = w.bind(q, i);
        q.bind(i, static_cast<std::int64_t>(page.limit));
        std::vector<delivery_view> out;
        while (q.step()) out.push_back(read_delivery_row(q));
        q.reset();
        return out;
    });
}

result<std::optional<delivery_view>> sqlite_outbox_store::read_one_delivery(const std::string& sql, std::int64_t id) {
    return read_snapshot(*db_, [&]() -> result<std::optional<delivery_view>> {
        auto rows = read_deliveries(sql, {}, {id});
        if (rows.empty()) return std::optional<delivery_view>();
        load_attempts(rows.front());
        return std::optional<delivery_view>(std::move(rows.front()));
    });
}

result<std::optional<delivery_view>> sqlite_outbox_store::get_delivery(std::int64_t id) {
    return read_one_delivery(
        std::string(delivery_columns) + " WHERE d.id = ?1 UNION ALL " + dead_columns + " WHERE d.id = ?1", id);
}

result<std::vector<delivery_view>> sqlite_outbox_store::list_dead_letters(const dead_letter_filter& f,
                                                                          const page_request& page) {
    return read_snapshot(*db_, [&]() -> result<std::vector<delivery_view>> {
        where_clause w;
        if (f.tenant) w.add(events_of_tenant_sql("e", "?"), *f.tenant);
        if (f.endpoint_id) w.add("d.endpoint_id = ?", *f.endpoint_id);
        add_type_filter(w, f.event_type);
        if (f.since_ms) w.add("d.died_at >= ?", *f.since_ms);
        if (f.until_ms) w.add("d.died_at < ?", *f.until_ms);
        if (page.after) {
            w.add("(d.died_at < ? OR (d.died_at = ? AND d.id < ?))", page.after->primary);
            w.args.emplace_back(page.after->primary);
            w.args.emplace_back(page.after->id);
        }
        auto& q = db_->prepare(std::string(dead_columns) + w.sql + " ORDER BY d.died_at DESC, d.id DESC LIMIT ?");
        q.bind(w.bind(q), static_cast<std::int64_t>(page.limit));
        std::vector<delivery_view> out;
        while (q.step()) out.push_back(read_delivery_row(q));
        q.reset();
        return out;
    });
}

result<std::optional<delivery_view>> sqlite_outbox_store::get_dead_letter(std::int64_t id) {
    return read_one_delivery(std::string(dead_columns) + " WHERE d.id = ?1", id);
}

result<std::vector<attempt_view>> sqlite_outbox_store::list_attempts(std::string_view endpoint_id,
                                                                     const page_request& page) {
    return read_snapshot(*db_, [&]() -> result<std::vector<attempt_view>> {
        where_clause w;
        w.add("endpoint_id = ?", std::string(endpoint_id));
        if (page.after) w.add("id < ?", page.after->id);
        auto& q = db_->prepare(std::string(attempt_columns) + w.sql + " ORDER BY id DESC LIMIT ?");
        q.bind(w.bind(q), static_cast<std::int64_t>(page.limit));
        std::vector<attempt_view> out;
        while (q.step()) out.push_back(read_attempt_row(q));
        q.reset();
        return out;
    });
}

namespace {

constexpr const char* tenant_columns = "SELECT id, seq, name, metadata, created_at, updated_at FROM tenants";

tenant_view read_tenant_row(const sqlite::statement& q) {
    return {q.text(0), q.int64(1), q.text(2), q.text(3), q.int64(4), q.int64(5)};
}

// find_token_sql without its condition.
const std::string token_columns(find_token_sql.substr(0, find_token_sql.find(" WHERE")));

token_view read_token_row(const sqlite::statement& q) {
    return {q.text(0), q.int64(1), q.text(2), q.text(3), q.int64(4), optional_int64(q, 5)};
}

}  // namespace

result<std::optional<tenant_view>> sqlite_outbox_store::get_tenant(std::string_view id) {
    return read_snapshot(*db_, [&]() -> result<std::optional<tenant_view>> {
        auto& q = db_->prepare(std::string(tenant_columns) + " WHERE id = ?");
        q.bind(1, id);
        std::optional<tenant_view> out;
        if (q.step()) out = read_tenant_row(q);
        q.reset();
        return out;
    });
}

result<std::vector<tenant_view>> sqlite_outbox_store::list_tenants(const page_request& page) {
    return read_snapshot(*db_, [&]() -> result<std::vector<tenant_view>> {
        where_clause w;
        if (page.after) w.add("seq < ?", page.after->id);
        auto& q = db_->prepare(std::string(tenant_columns) + w.sql + " ORDER BY seq DESC LIMIT ?");
        q.bind(w.bind(q), static_cast<std::int64_t>(page.limit));
        std::vector<tenant_view> out;
        while (q.step()) out.push_back(read_tenant_row(q));
        q.reset();
        return out;
    });
}

result<std::vector<token_view>> sqlite_outbox_store::list_tokens(std::string_view tenant_id, const page_request& page) {
    return read_snapshot(*db_, [&]() -> result<std::vector<token_view>> {
        where_clause w;
        w.add("tenant_id = ?", std::string(tenant_id));
        if (page.after) w.add("seq < ?", page.after->id);
        auto& q = db_->prepare(token_columns + w.sql + " ORDER BY seq DESC LIMIT ?");
        q.bind(w.bind(q), static_cast<std::int64_t>(page.limit));
        std::vector<token_view> out;
        while (q.step()) out.push_back(read_token_row(q));
        q.reset();
        return out;
    });
}

result<std::optional<token_view>> sqlite_outbox_store::find_token(std::string_view token_hash) {
    try {
        // One statement, one read of the unique index on token_hash: no transaction needed.
        auto& q = db_->prepare(std::string(find_token_sql));
        q.bind(1, token_hash);
        std::optional<token_view> out;
        if (q.step()) out = read_token_row(q);
        q.reset();
        return out;
    } catch (const sqlite::failure& e) {
        return storage_error(e);
    }
}

result<resource_owner> sqlite_outbox_store::owner_of(const resource_ref& r) {
    try {
        const char* sql = nullptr;
        switch (r.kind) {
        case resource_kind::endpoint: sql = "SELECT tenant_id FROM endpoints WHERE id = ?"; break;
        case resource_kind::event: sql = "SELECT tenant_id FROM events WHERE id = ?"; break;
        case resource_kind::delivery:
            sql = "SELECT e.tenant_id FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id = ?1 "
                  "UNION ALL SELECT e.tenant_id FROM dead_letters d JOIN events e ON e.seq = d.event_seq "
                  "WHERE d.id = ?1";
            break;
        case resource_kind::dead_letter:
            sql = "SELECT e.tenant_id FROM dead_letters d JOIN events e ON e.seq = d.event_seq WHERE d.id = ?";
            break;
        }
        auto& q = db_->prepare(sql);
        if (r.kind == resource_kind::endpoint || r.kind == resource_kind::event) {
            q.bind(1, r.id);
        } else {
            q.bind(1, r.number);
        }
        resource_owner out;
        if (q.step()) {
            out.exists = true;
            if (!q.is_null(0)) out.tenant = q.text(0);
        }
        q.reset();
        return out;
    } catch (const sqlite::failure& e) {
        return storage_error(e);
    }
}

result<outbox_counts> sqlite_outbox_store::counts() {
    return read_snapshot(*db_, [&]() -> result<outbox_counts> {
        // The counts as of the last fold, plus every group's changes since.
        count_map counts;
        read_counts(counts);
        return gauges_of(counts, endpoint_failures());
    });
}

result<outbox_counts> sqlite_outbox_store::recount() {
    return read_snapshot(*db_, [&]() -> result<outbox_counts> {
        // One pass over the partial index of pending deliveries, already in endpoint order
        // (the planner would pick deliveries_state and read every row). Grouped by id too:
        // a count of the rows as they are, whatever their endpoint_seq says.
        count_map counts;
        auto& p = db_->prepare(
            "SELECT endpoint_id, COUNT(*) FROM deliveries INDEXED BY deliveries_endpoint_due "
            "WHERE state = 'pending' GROUP BY endpoint_seq, endpoint_id");
        while (p.step()) counts[p.text(0)].pending += p.int64(1);
        p.reset();
        auto& d = db_->prepare("SELECT endpoint_id, COUNT(*) FROM dead_letters GROUP BY endpoint_id");
        while (d.step()) counts[d.text(0)].dead += d.int64(1);
        d.reset();
        return gauges_of(counts, endpoint_failures());
    });
}

std::vector<std::pair<std::string, std::int64_t>> sqlite_outbox_store::endpoint_failures() {
    std::vector<std::pair<std::string, std::int64_t>> out;
    auto& q = db_->prepare("SELECT id, consecutive_failures FROM endpoints ORDER BY seq");
    while (q.step()) out.emplace_back(q.text(0), q.int64(1));
    q.reset();
    return out;
}

}  // namespace webhookd::detail
