#include "store/sqlite_outbox_store.hpp"

#include <algorithm>

#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "util/endpoint_matcher.hpp"
#include "store/migrations.hpp"
#include "store/sqlite.hpp"
#include "store/sqlite_store_impl.hpp"

namespace webhookd {

namespace detail {

namespace {

// The WAL's size, in pages, at which a background checkpoint starts, and at which the
// writer checkpoints itself because the background one fell behind (wal_checkpointer.hpp).
// SQLite's automatic checkpoint starts at 1,000 pages, in the committing thread.
constexpr std::size_t checkpoint_start_pages = 4000;
constexpr std::size_t checkpoint_backstop_pages = 64000;

}  // namespace

secure_delete_scope::secure_delete_scope(sqlite::connection& db) : db_(db) {
    auto& q = db_.prepare("PRAGMA secure_delete");
    q.step();
    before_ = q.int64(0);
    q.reset();
    db_.prepare("PRAGMA secure_delete = ON").run();
}

secure_delete_scope::~secure_delete_scope() {
    if (before_ == 1) return;
    try {
        db_.prepare(before_ == 2 ? "PRAGMA secure_delete = FAST" : "PRAGMA secure_delete = OFF").run();
    } catch (const sqlite::failure&) {
        // Left on: slower deletes, nothing worse.
    }
}

sqlite_outbox_store::sqlite_outbox_store(std::unique_ptr<sqlite::connection> db, sync_mode synchronous,
                                         std::shared_ptr<const secret_box> secrets)
    : outbox_store_base(std::move(secrets)), db_(std::move(db)), synchronous_(synchronous), current_sync_(synchronous_) {}

std::int64_t sqlite_outbox_store::data_version() {
    auto& v = db_->prepare("PRAGMA data_version");
    v.step();
    std::int64_t version = v.int64(0);
    v.reset();
    return version;
}

void sqlite_outbox_store::refresh_routes() {
    // Another connection's commit may have changed any endpoint: forget every tenant's.
    std::int64_t version = data_version();
    if (version == routes_version_) return;
    forget_all_routes();
    routes_version_ = version;
}

std::optional<tenant_routes> sqlite_outbox_store::load_routes(const std::optional<std::string>& tenant) {
    tenant_routes fresh;
    if (tenant) {
        auto seq = tenant_seq(*tenant);
        if (!seq) return std::nullopt;
        fresh.tenant_seq = *seq;
    }
    // The platform's endpoints, or one tenant's through endpoints_tenant.
    auto& q = tenant ? db_->prepare("SELECT id, seq, event_patterns, ordering = 'fifo' FROM endpoints "
                                    "WHERE tenant_id = ? AND enabled = 1 ORDER BY seq")
                     : db_->prepare("SELECT id, seq, event_patterns, ordering = 'fifo' FROM endpoints "
                                    "WHERE tenant_id IS NULL AND enabled = 1 ORDER BY seq");
    if (tenant) q.bind(1, *tenant);
    while (q.step()) fresh.endpoints.push_back(make_route(q.text(0), q.int64(1), q.text_view(2), q.int64(3) != 0));
    q.reset();
    return fresh;
}

void sqlite_outbox_store::scan_routes(std::size_t max_tenants, const std::function<void(const route_row&)>& each) {
    auto& q = db_->prepare(
        "SELECT t.id, t.seq, e.id, e.seq, e.event_patterns, e.ordering = 'fifo' "
        "FROM (SELECT id, seq FROM tenants ORDER BY seq LIMIT ?) t "
        "LEFT JOIN endpoints e ON e.tenant_id = t.id AND e.enabled = 1 ORDER BY t.id, e.seq");
    q.bind(1, static_cast<std::int64_t>(max_tenants));
    while (q.step()) {
        route_row r{q.text_view(0), q.int64(1), std::nullopt, 0, {}, false};
        if (!q.is_null(2)) {
            r.endpoint = q.text_view(2);
            r.seq = q.int64(3);
            r.patterns_json = q.text_view(4);
            r.fifo = q.int64(5) != 0;
        }
        each(r);
    }
    q.reset();
}

void sqlite_outbox_store::write_group(std::span<write_unit* const> units, std::int64_t now_ms) {
    std::vector<status> outcomes(units.size(), status(ok_v));
    auto fail_all = [&](const error& e) {
        for (auto* u : units) u->done(e);
    };
    try {
        if (!checkpointer_tried_) {
            checkpointer_tried_ = true;
            try {
                checkpointer_ = std::make_unique<sqlite::wal_checkpointer>(*db_, checkpoint_start_pages,
                                                                           checkpoint_backstop_pages);
            } catch (const std::exception&) {
                // No connection or thread for it: SQLite's own automatic checkpoint stays.
            }
        }
        // Lazy groups commit without fsync (synchronous=NORMAL writes the WAL and syncs only
        // at checkpoints); any durable unit makes the whole group wait for its fsync.
        bool durable = std::any_of(units.begin(), units.end(), [](const write_unit* u) { return u->durable(); });
        sync_mode mode = durable || synchronous_ == sync_mode::off ? synchronous_ : sync_mode::normal;
        if (mode != current_sync_) {
            db_->exec("PRAGMA synchronous = " + std::string(to_string(mode)));
            current_sync_ = mode;
        }
        // First without savepoints (their statement journal was a tenth of an ingested
        // event's instructions): nearly every group succeeds whole. When a unit fails, that
        // try is rolled back and the group runs again with a savepoint per unit, so that
        // the failing unit alone is undone (one unit alone needs none: its rollback is the
        // transaction's).
        auto tried = run_group(units, now_ms, outcomes, false);
        if (tried == group_try::unit_failed && units.size() > 1) tried = run_group(units, now_ms, outcomes, true);
        if (tried == group_try::rolled_back) {
            scrub_wal_ = false;
            fail_all(outcomes.front().err());
            return;
        }
    } catch (const sqlite::failure& e) {
        scrub_wal_ = false;
        undo_try();  // the try that threw is rolled back
        fail_all(storage_error(e));
        return;
    }
    if (scrub_wal_) scrub_wal();
    for (std::size_t i = 0; i < units.size(); ++i) units[i]->done(outcomes[i]);
}

sqlite_outbox_store::group_try sqlite_outbox_store::run_group(std::span<write_unit* const> units,
                                                              std::int64_t now_ms, std::vector<status>& outcomes,
                                                              bool savepoints) {
    sqlite::transaction tx(*db_);
    refresh_routes();
    begin_try();
    for (std::size_t i = 0; i < units.size(); ++i) {
        if (savepoints) db_->prepare("SAVEPOINT unit").run();
        auto unit = begin_unit();
        try {
            outcomes[i] = units[i]->apply(*this, now_ms);
        } catch (const sqlite::failure& e) {
            outcomes[i] = storage_error(e);
        }
        if (sqlite3_get_autocommit(db_->handle())) {
            // SQLite rolled back the whole transaction (I/O error, full disk): every unit
            // applied so far is gone with it.
            error e = outcomes[i].ok() ? error{error_code::storage_unavailable, "transaction rolled back"}
                                       : outcomes[i].err();
            std::fill(outcomes.begin(), outcomes.end(), status(e));
            undo_try();
            return group_try::rolled_back;
        }
        if (!savepoints) {
            if (outcomes[i].ok()) continue;
            undo_try();
            scrub_wal_ = false;
            return group_try::unit_failed;  // tx rolls back
        }
        if (!outcomes[i].ok()) {
            db_->prepare("ROLLBACK TO unit").run();
            undo_unit(unit);
        }
        db_->prepare("RELEASE unit").run();
    }
    write_counts();
    tx.commit();
    return group_try::committed;
}

void sqlite_outbox_store::write_counts() {
    if (auto changes = take_group_counts(); !changes.empty()) {
        db_->prepare("INSERT INTO count_changes (changes) VALUES (?)").bind(1, changes).run();
    }
    if (!fold_counts_due()) return;
    count_map changes;
    auto& q = db_->prepare("SELECT changes FROM count_changes");
    while (q.step()) add_counts(changes, q.text_view(0));
    q.reset();
    auto& b = db_->prepare("SELECT counts FROM count_base");
    std::string folded = folded_counts(b.step() ? b.text_view(0) : std::string_view(), std::move(changes));
    b.reset();
    db_->prepare("INSERT OR REPLACE INTO count_base (id, counts) VALUES (1, ?)").bind(1, folded).run();
    db_->prepare("DELETE FROM count_changes").run();
}

void sqlite_outbox_store::read_counts(count_map& into) {
    for (const char* sql : {"SELECT counts FROM count_base", "SELECT changes FROM count_changes"}) {
        auto& q = db_->prepare(sql);
        while (q.step()) add_counts(into, q.text_view(0));
        q.reset();
    }
}

void sqlite_outbox_store::scrub_wal() {
    scrub_wal_ = false;
    // secure_delete zeroed the secret in the page's new version; older frames of the WAL
    // still hold it until they are overwritten. Copy every frame into the database file and
    // truncate the WAL, so no copy is left. Best effort: a reader in the middle of a query
    // keeps the WAL (it is truncated at the next deletion, or by the last close).
    try {
        std::unique_lock<std::mutex> hold;
        if (checkpointer_) hold = checkpointer_->hold();
        auto& cp = db_->prepare("PRAGMA wal_checkpoint(TRUNCATE)");
        cp.step();
        cp.reset();
    } catch (const sqlite::failure&) {
        // The deletion is committed; only the erasure of old frames waits.
    }
}

result<ingest_outcome> sqlite_outbox_store::insert_event(const new_event& event, std::int64_t now_ms,
                                                         std::int64_t due_ms) {
    const auto* routes = routes_for(event.tenant);
    if (!routes) return error{error_code::tenant_not_found, "tenant " + *event.tenant + " does not exist"};
    auto& ins = db_->prepare(
        "INSERT INTO events (id, type, timestamp, body, data_offset, created_at, tenant_id, tenant_seq) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING");
    ins.bind(1, event.id)
        .bind(2, event.type)
        .bind(3, event.timestamp)
        .bind_blob(4, event.body)
        .bind(5, static_cast<std::int64_t>(event.data_offset))
        .bind(6, now_ms)
        .bind_text(7, event.tenant)
        .bind(8, event.tenant ? std::optional(routes->tenant_seq) : std::nullopt)
        .run();
    if (db_->changes() == 0) {
        auto& q = db_->prepare(
            "SELECT e.id, e.type, e.timestamp, "
            "(SELECT COUNT(*) FROM deliveries d WHERE d.event_seq = e.seq) + "
            "(SELECT COUNT(*) FROM dead_letters l WHERE l.event_seq = e.seq), e.tenant_id "
            "FROM events e WHERE e.id = ?");
        q.bind(1, event.id);
        if (!q.step()) return error{error_code::storage_error, "duplicate event " + event.id + " vanished"};
        ingest_outcome out{q.text(0), std::nullopt, q.text(1), q.text(2), q.int64(3), true, {}, {}};
        if (!q.is_null(4)) out.tenant = q.text(4);
        q.reset();
        if (out.tenant != event.tenant) {
            // Never a silent duplicate: the second tenant's event would be dropped.
            return error{error_code::id_conflict,
                         "event id " + event.id + " is already taken by an event of " +
                             (out.tenant ? "another tenant" : "no tenant") + "; give this event another id"};
        }
        return out;
    }
    std::int64_t seq = db_->last_insert_rowid();
    ingest_outcome out{event.id, event.tenant, event.type, event.timestamp, 0, false, {}, {}};
    out.endpoint_ids.reserve(routes->endpoints.size());  // one allocation, not one per doubling
    out.endpoint_seqs.reserve(routes->endpoints.size());
    for (const auto& r : routes->endpoints) {
        if (!r.wants(event.type)) continue;
        db_->prepare(
               "INSERT INTO deliveries (event_seq, endpoint_id, endpoint_seq, next_attempt_at, created_at, ordered) "
               "VALUES (?, ?, ?, ?, ?, ?)")
            .bind(1, seq)
            .bind(2, r.id)
            .bind(3, r.seq)
            .bind(4, due_ms)
            .bind(5, now_ms)
            .bind(6, std::int64_t{r.fifo})
            .run();
        count_rows(r.id, 1, 0);
        ++out.deliveries;
        out.endpoint_ids.push_back(r.id);
        out.endpoint_seqs.push_back(r.seq);
    }
    return out;
}

result<std::vector<endpoint_claim>> sqlite_outbox_store::claim(std::span<const claim_order> orders, std::size_t room,
                                                               std::int64_t now_ms, std::int64_t lease_until_ms,
                                                               std::string_view owner) {
    // The orders the room reaches (each leases one delivery at least, if it has one due).
    std::vector<endpoint_claim> out;
    nlohmann::json seqs = nlohmann::json::array();  // of the unordered endpoints
    std::vector<std::size_t> unordered;            // their places in out
    std::unordered_map<std::int64_t, std::size_t> index;  // endpoint seq -> its place in out
    std::vector<std::int64_t> seq_of;                      // by place in out
    for (const auto& o : orders) {
        if (out.size() == room) break;
        auto seq = o.endpoint_seq;
        if (seq == 0) {
            // An order that names its endpoint by id only (seqs start at 1).
            auto& q = db_->prepare("SELECT seq FROM endpoints WHERE id = ?");
            q.bind(1, o.endpoint_id);
            if (q.step()) seq = q.int64(0);
            q.reset();
        }
        index.emplace(seq, out.size());
        seq_of.push_back(seq);
        if (!o.fifo) {
            unordered.push_back(out.size());
            seqs.push_back(seq);
        }
        out.push_back({o.endpoint_id, {}, std::nullopt});
    }
    if (out.empty()) return out;
    // The event of each claimed delivery: (place in out, index in its deliveries, event seq);
    // one list for the whole claim, as most endpoints have one or two due at a time.
    struct leased_event {
        std::size_t place, index;
        std::int64_t seq;
    };
    std::vector<leased_event> leased_events;
    // Collects what a leasing statement returns (id, event_seq, attempts, ladder_start[,
    // endpoint_seq]) for the endpoint at `place`, or for each row's own (column 4) without.
    auto lease_rows = [&](sqlite::statement& q, std::optional<std::size_t> place) {
        std::size_t leased = 0;
        while (q.step()) {
            auto i = place ? *place : index.at(q.int64(4));
            claimed_delivery d;
            d.id = q.int64(0);
            d.endpoint_id = out[i].endpoint_id;
            d.attempt = static_cast<int>(q.int64(2)) + 1;
            d.ladder_attempt = d.attempt - static_cast<int>(q.int64(3));
            d.lease_until_ms = lease_until_ms;
            leased_events.push_back({i, out[i].deliveries.size(), q.int64(1)});
            out[i].deliveries.push_back(std::move(d));
            ++leased;
        }
        q.reset();
        return leased;
    };
    std::size_t left = room;

    // 0. FIFO endpoints: the head of the queue, when it is due and not leased (a leased
    //    delivery is due when its lease ends); then when the head is due, which is when the
    //    endpoint can send next.
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (!orders[i].fifo) continue;
        if (orders[i].limit > 0 && left > 0) {
            static const std::string take =
                "UPDATE deliveries SET next_attempt_at = ?1, lease_owner = ?2, lease_expires_at = ?1 WHERE id = (" +
                fifo_head_sql("?3", "id") + ") AND next_attempt_at <= ?4 RETURNING id, event_seq, attempts, ladder_start";
            auto& q = db_->prepare(take);
            q.bind(1, lease_until_ms).bind(2, owner).bind(3, seq_of[i]).bind(4, now_ms);
            left -= lease_rows(q, i);
        }
        static const std::string head_due = fifo_head_sql("?", "next_attempt_at");
        auto& q = db_->prepare(head_due);
        q.bind(1, seq_of[i]);
        if (q.step()) out[i].next_due = q.int64(0);
        q.reset();
    }

    // 1. The oldest due first attempt of every endpoint, in one statement: with thousands
    //    of tenants most endpoints have one or two due at a time, and a statement per
    //    endpoint was most of a claim's cost.
    {
        auto& q = db_->prepare(
            "UPDATE deliveries SET next_attempt_at = ?1, lease_owner = ?2, lease_expires_at = ?1 WHERE id IN ("
            "SELECT (SELECT id FROM deliveries INDEXED BY deliveries_endpoint_due WHERE endpoint_seq = o.value "
            "AND state = 'pending' AND attempts > 0 = 0 AND next_attempt_at <= ?4 ORDER BY next_attempt_at LIMIT 1) "
            "FROM json_each(?3) o) "
            "RETURNING id, event_seq, attempts, ladder_start, endpoint_seq");
        nlohmann::json heads = nlohmann::json::array();
        for (auto i : unordered) {
            if (orders[i].limit > 0) heads.push_back(seq_of[i]);
        }
        q.bind(1, lease_until_ms).bind(2, owner).bind(3, heads.dump()).bind(4, now_ms);
        left -= lease_rows(q, std::nullopt);
    }

    // 2. Which endpoints have more due (first attempts or retries), and when the others are
    //    due next.
    static const std::string next_due = "SELECT " + next_due_sql("o.value") + " FROM json_each(?) o ORDER BY o.key";
    auto read_next_due = [&](const nlohmann::json& of, const std::vector<std::size_t>& places) {
        auto& nd = db_->prepare(next_due);
        nd.bind(1, of.dump());
        for (auto i : places) {
            if (!nd.step()) break;
            out[i].next_due = nd.is_null(0) ? std::nullopt : std::optional<std::int64_t>(nd.int64(0));
        }
        nd.reset();
    };
    read_next_due(seqs, unordered);

    // 3. The rest, for each endpoint with more due: first attempts then retries, each oldest
    //    due first, each a range of deliveries_endpoint_due, in one statement. The retries'
    //    part runs only when the first attempts leave room.
    nlohmann::json again = nlohmann::json::array();
    std::vector<std::size_t> again_places;
    for (auto i : unordered) {
        if (left == 0) break;
        auto& c = out[i];
        if (!c.next_due || *c.next_due > now_ms || c.deliveries.size() >= orders[i].limit) continue;
        auto& q = db_->prepare(
            "UPDATE deliveries SET next_attempt_at = ?1, lease_owner = ?2, lease_expires_at = ?1 WHERE id IN ("
            "SELECT id FROM (SELECT id FROM deliveries INDEXED BY deliveries_endpoint_due WHERE endpoint_seq = ?3 "
            "AND state = 'pending' AND attempts > 0 = 0 AND next_attempt_at <= ?4 ORDER BY next_attempt_at LIMIT ?5) "
            "UNION ALL "
            "SELECT id FROM (SELECT id FROM deliveries INDEXED BY deliveries_endpoint_due WHERE endpoint_seq = ?3 "
            "AND state = 'pending' AND attempts > 0 = 1 AND next_attempt_at <= ?4 ORDER BY next_attempt_at LIMIT ?5) "
            "LIMIT ?5) "
            "RETURNING id, event_seq, attempts, ladder_start");
        q.bind(1, lease_until_ms).bind(2, owner).bind(3, seq_of[i]).bind(4, now_ms).bind(
            5, static_cast<std::int64_t>(std::min(orders[i].limit - c.deliveries.size(), left)));
        left -= std::min(left, lease_rows(q, i));
        again.push_back(seq_of[i]);
        again_places.push_back(i);
    }
    if (!again_places.empty()) read_next_due(again, again_places);

    // 4. The events, each read once (an event's deliveries to several endpoints share it).
    std::unordered_map<std::int64_t, std::size_t> event_of;  // seq -> index in events
    struct event_row {
        std::string id, type, envelope;
        std::int64_t created_ms;
        std::size_t data_offset;
    };
    std::vector<event_row> events;
    nlohmann::json wanted = nlohmann::json::array();
    for (const auto& l : leased_events) wanted.push_back(l.seq);
    if (wanted.empty()) return out;
    auto& ev = db_->prepare(
        "SELECT seq, id, type, created_at, body, data_offset FROM events "
        "WHERE seq IN (SELECT value FROM json_each(?))");
    ev.bind(1, wanted.dump());
    while (ev.step()) {
        event_of.emplace(ev.int64(0), events.size());
        events.push_back({ev.text(1), ev.text(2), ev.text(4), ev.int64(3), static_cast<std::size_t>(ev.int64(5))});
    }
    ev.reset();
    bool orphans = false;
    for (const auto& l : leased_events) {
        auto& d = out[l.place].deliveries[l.index];
        auto it = event_of.find(l.seq);
        if (it == event_of.end()) {
            d.id = 0;  // no event: nothing to send (dropped below)
            orphans = true;
            continue;
        }
        const auto& e = events[it->second];
        d.event_id = e.id;
        d.event_type = e.type;
        d.event_created_ms = e.created_ms;
        d.envelope = e.envelope;
        d.data_offset = e.data_offset;
    }
    auto first_attempt = [](const claimed_delivery& d) { return d.attempt == 1; };
    for (auto& c : out) {
        if (orphans) std::erase_if(c.deliveries, [](const claimed_delivery& d) { return d.id == 0; });
        // Within each endpoint, first attempts first (RETURNING promises no order).
        if (!std::is_partitioned(c.deliveries.begin(), c.deliveries.end(), first_attempt)) {
            std::stable_partition(c.deliveries.begin(), c.deliveries.end(), first_attempt);
        }
    }
    return out;
}

result<attempt_effects> sqlite_outbox_store::record_attempt(const attempt_record& a, const health_policy& health,
                                                            std::int64_t now_ms) {
    attempt_effects fx;
    auto snippet = std::span<const char>(a.response_snippet.data(), a.response_snippet.size());
    std::optional<std::int64_t> code;
    if (a.status_code) code.emplace(a.status_code);
    if (a.delivery_id == 0) {
        // A test event: logged against the endpoint, never retried.
    } else if (a.delivered) {
        db_->prepare(
               "UPDATE deliveries SET state = 'delivered', attempts = ?2, delivered_at = ?3, next_attempt_at = NULL, "
               "lease_owner = NULL, lease_expires_at = NULL, last_attempt_at = ?4, last_status = ?5, last_error = NULL "
               "WHERE id = ?1 AND state = 'pending'")
            .bind(1, a.delivery_id)
            .bind(2, std::int64_t{a.attempt})
            .bind(3, now_ms)
            .bind(4, a.started_ms)
            .bind(5, code)
            .run();
        count_rows(a.endpoint_id, -db_->changes(), 0);
    } else if (a.dead) {
        db_->prepare(
               "INSERT INTO dead_letters (id, event_seq, endpoint_id, attempts, created_at, died_at, last_status, "
               "last_error, last_response) SELECT id, event_seq, endpoint_id, ?2, created_at, ?3, ?4, ?5, ?6 "
               "FROM deliveries WHERE id = ?1 AND state = 'pending'")
            .bind(1, a.delivery_id)
            .bind(2, std::int64_t{a.attempt})
            .bind(3, now_ms)
            .bind(4, code)
            .bind(5, a.error)
            .bind_blob(6, snippet)
            .run();
        if (db_->changes() > 0) {
            db_->prepare("DELETE FROM deliveries WHERE id = ? AND state = 'pending'").bind(1, a.delivery_id).run();
            count_rows(a.endpoint_id, -1, 1);
        }
    } else {
        db_->prepare(
               "UPDATE deliveries SET attempts = ?2, next_attempt_at = ?3, lease_owner = NULL, lease_expires_at = NULL, "
               "last_attempt_at = ?4, last_status = ?5, last_error = ?6 WHERE id = ?1 AND state = 'pending'")
            .bind(1, a.delivery_id)
            .bind(2, std::int64_t{a.attempt})
            .bind(3, a.next_attempt_ms)
            .bind(4, a.started_ms)
            .bind(5, code)
            .bind(6, a.error)
            .run();
    }
    if (a.delivery_id != 0) {
        // A delivery that is gone (its endpoint was deleted while the attempt was out) keeps no log.
        if (db_->changes() == 0) return fx;
        auto h = read_health(a.endpoint_id);
        if (a.dead) emit_exhausted(a, now_ms, fx, h);
        apply_health(a, health, now_ms, fx, std::move(h));
    }
    db_->prepare(
           "INSERT INTO attempts (delivery_id, endpoint_id, attempt, started_at, duration_us, outcome, status_code, "
           "error, response_snippet) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .bind(1, a.delivery_id ? std::optional<std::int64_t>(a.delivery_id) : std::nullopt)
        .bind(2, a.endpoint_id)
        .bind(3, std::int64_t{a.attempt})
        .bind(4, a.started_ms)
        .bind(5, a.duration_us)
        .bind(6, to_string(a.outcome))
        .bind(7, code)
        .bind(8, a.error)
        .bind_blob(9, snippet)
        .run();
    return fx;
}

result<endpoint_scan> sqlite_outbox_store::scan_endpoints(const scan_mark& seen, std::int64_t now_ms,
                                                          std::int64_t sweep_after_seq, std::size_t sweep_limit) {
    endpoint_scan out;
    {
        auto& q = db_->prepare(
            "SELECT (SELECT COALESCE(MAX(revision), 0) FROM endpoints), "
            "(SELECT COALESCE(MAX(value), 0) FROM daemon_state WHERE key = 'endpoint_deletions')");
        q.step();
        out.mark = {q.int64(0), q.int64(1)};
        q.reset();
    }
    // After a deletion, every endpoint: the caller learns which ones are gone.
    out.complete = seen.deletions != out.mark.deletions || seen.revision < 0;
    if (out.complete || out.mark.revision > seen.revision) {
        static const std::string changed = "SELECT id, url, body_mode, signature_format, signature_header, headers, "
                                           "enabled, paused_at, " + next_due_sql("endpoints.seq", "endpoints.ordering") +
                                           ", tenant_id, rate_limit, ordering, seq "
                                           "FROM endpoints WHERE revision > ? ORDER BY seq";
        auto& q = db_->prepare(changed);
        q.bind(1, out.complete ? std::int64_t{-1} : seen.revision);
        while (q.step()) {
            endpoint_record e;
            e.id = q.text(0);
            e.url = q.text(1);
            e.body_mode = q.text(2);
            e.signature_format = q.text(3);
            e.signature_header = q.text(4);
            e.headers_json = q.text(5);
            e.enabled = q.int64(6) != 0;
            if (!q.is_null(7)) e.paused_at_ms = q.int64(7);
            if (!q.is_null(8)) e.next_due_ms = q.int64(8);
            if (!q.is_null(9)) e.tenant = q.text(9);
            if (!q.is_null(10)) e.rate_limit = q.int64(10);
            e.fifo = q.text_view(11) == "fifo";
            e.seq = q.int64(12);
            out.changed.push_back(std::move(e));
        }
        q.reset();
    }
    for (auto& e : out.changed) {
        // Never sign with a secret that did not decrypt: the whole scan fails instead.
        auto st = read_secrets(e.id, now_ms,
                               [&](std::string secret, std::int64_t, std::optional<std::int64_t> expires) {
                                   e.secrets.push_back(std::move(secret));
                                   e.secret_expires_ms.push_back(expires);
                               });
        if (!st) return st.err();
    }
    if (sweep_limit > 0) {
        static const std::string sweep =
            "SELECT seq, id, " + next_due_sql("endpoints.seq", "endpoints.ordering") +
            " FROM endpoints WHERE seq > ? ORDER BY seq LIMIT ?";
        auto& q = db_->prepare(sweep);
        q.bind(1, sweep_after_seq).bind(2, static_cast<std::int64_t>(sweep_limit));
        std::size_t swept = 0;
        while (q.step()) {
            ++swept;
            out.sweep_next = q.int64(0);
            if (!q.is_null(2)) out.due.emplace_back(q.text(1), q.int64(2));
        }
        q.reset();
        if (swept < sweep_limit) out.sweep_next = 0;  // the end: the next sweep starts over
    }
    return out;
}

status sqlite_outbox_store::park(std::int64_t delivery_id, std::string_view reason, std::int64_t now_ms) {
    db_->prepare(
           "UPDATE deliveries SET next_attempt_at = NULL, lease_owner = NULL, lease_expires_at = NULL, "
           "last_attempt_at = COALESCE(last_attempt_at, ?3), last_error = ?2 WHERE id = ?1 AND state = 'pending'")
        .bind(1, delivery_id)
        .bind(2, reason)
        .bind(3, now_ms)
        .run();
    return ok_v;
}

result<std::int64_t> sqlite_outbox_store::release_leases(std::int64_t now_ms) {
    db_->prepare(
           "UPDATE deliveries INDEXED BY deliveries_leased SET next_attempt_at = ?, lease_owner = NULL, "
           "lease_expires_at = NULL WHERE lease_owner IS NOT NULL AND state = 'pending'")
        .bind(1, now_ms)
        .run();
    return db_->changes();
}

result<std::int64_t> sqlite_outbox_store::release(std::span<const std::int64_t> delivery_ids, std::string_view owner,
                                                  std::int64_t now_ms) {
    auto& q = db_->prepare(
        "UPDATE deliveries SET next_attempt_at = ?3, lease_owner = NULL, lease_expires_at = NULL "
        "WHERE id = ?1 AND lease_owner = ?2 AND state = 'pending'");
    std::int64_t released = 0;
    for (auto id : delivery_ids) {
        q.bind(1, id).bind(2, owner).bind(3, now_ms).run();
        released += db_->changes();
        q.reset();
    }
    return released;
}

void sqlite_outbox_store::delete_orphan_events(const std::vector<std::int64_t>& seqs) {
    auto& del = db_->prepare(
        "DELETE FROM events WHERE seq = ?1 AND NOT EXISTS (SELECT 1 FROM deliveries WHERE event_seq = ?1) "
        "AND NOT EXISTS (SELECT 1 FROM dead_letters WHERE event_seq = ?1)");
    for (auto seq : seqs) {
        del.bind(1, seq).run();
        del.reset();
    }
}

std::int64_t sqlite_outbox_store::purge_rows(const char* select_sql, const char* delete_sql, std::int64_t cutoff_ms,
                                             std::size_t limit, bool dead_letters) {
    auto& q = db_->prepare(select_sql);
    q.bind(1, cutoff_ms).bind(2, static_cast<std::int64_t>(limit));
    std::vector<std::int64_t> ids, seqs;
    while (q.step()) {
        ids.push_back(q.int64(0));
        seqs.push_back(q.int64(1));
        if (dead_letters) count_rows(q.text_view(2), 0, -1);
    }
    q.reset();
    for (auto id : ids) {
        db_->prepare("DELETE FROM attempts WHERE delivery_id = ?").bind(1, id).run();
        db_->prepare(delete_sql).bind(1, id).run();
    }
    delete_orphan_events(seqs);
    return static_cast<std::int64_t>(ids.size());
}

result<std::int64_t> sqlite_outbox_store::purge_dead_letters(std::int64_t cutoff_ms, std::size_t limit) {
    return purge_rows("SELECT id, event_seq, endpoint_id FROM dead_letters WHERE died_at < ? ORDER BY died_at LIMIT ?",
                      "DELETE FROM dead_letters WHERE id = ?", cutoff_ms, limit, true);
}

result<std::int64_t> sqlite_outbox_store::purge_delivered(std::int64_t cutoff_ms, std::size_t limit) {
    auto purged = purge_rows(
        "SELECT id, event_seq FROM deliveries INDEXED BY deliveries_delivered WHERE state = 'delivered' "
        "AND delivered_at < ? ORDER BY delivered_at LIMIT ?",
        "DELETE FROM deliveries WHERE id = ?", cutoff_ms, limit, false);
    // Events that never had a delivery (no endpoint matched) age out the same way; with
    // them goes their id's duplicate protection.
    auto& orphans = db_->prepare(
        "SELECT seq FROM events INDEXED BY events_created WHERE created_at < ?1 "
        "AND NOT EXISTS (SELECT 1 FROM deliveries WHERE event_seq = events.seq) "
        "AND NOT EXISTS (SELECT 1 FROM dead_letters WHERE event_seq = events.seq) ORDER BY created_at LIMIT ?2");
    orphans.bind(1, cutoff_ms).bind(2, static_cast<std::int64_t>(limit));
    std::vector<std::int64_t> lonely;
    while (orphans.step()) lonely.push_back(orphans.int64(0));
    orphans.reset();
    delete_orphan_events(lonely);
    return purged + static_cast<std::int64_t>(lonely.size());
}

status sqlite_outbox_store::heartbeat(std::int64_t now_ms) {
    db_->prepare("INSERT INTO daemon_state (key, value) VALUES ('heartbeat', ?) "
                 "ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(1, now_ms)
        .run();
    return ok_v;
}

}  // namespace detail

namespace {

// Start-up check and one-time upgrade of endpoint_secrets (see open_sqlite_outbox). Throws
// sqlite::failure.
result<std::int64_t> seal_stored_secrets(sqlite::connection& db, const secret_box* box) {
    struct row {
        std::string endpoint_id;
        std::int64_t created_at;
        std::string secret;
    };
    std::vector<row> clear;
    {
        sqlite::transaction tx(db);
        auto& q = db.prepare("SELECT endpoint_id, created_at, secret FROM endpoint_secrets ORDER BY endpoint_id, created_at");
        std::optional<error> refused;
        while (!refused && q.step()) {
            auto id = q.text(0);
            auto stored = q.text_view(2);
            if (auto seal = detail::needs_sealing(box, id, stored); !seal) {
                refused = seal.err();
            } else if (*seal) {
                clear.push_back({std::move(id), q.int64(1), std::string(stored)});
            }
        }
        q.reset();
        if (refused) return *refused;
        if (clear.empty()) {
            tx.commit();
            return std::int64_t{0};
        }
        // In place, in this one transaction, with the clear bytes zeroed where they were.
        detail::secure_delete_scope scrub(db);
        auto& up = db.prepare("UPDATE endpoint_secrets SET secret = ?3 WHERE endpoint_id = ?1 AND created_at = ?2");
        for (auto& r : clear) {
            auto sealed = box->seal(r.secret, r.endpoint_id);
            if (!sealed) return sealed.err();
            up.bind(1, r.endpoint_id).bind(2, r.created_at).bind(3, *sealed).run();
            up.reset();
        }
        tx.commit();
    }
    // The WAL may still hold pages with the clear secrets (frames of an earlier run that
    // were not checkpointed, and the pages this upgrade replaced): copy every frame into the
    // database file and truncate the WAL to zero bytes.
    auto& cp = db.prepare("PRAGMA wal_checkpoint(TRUNCATE)");
    cp.step();
    bool busy = cp.int64(0) != 0;
    cp.reset();
    if (busy) {
        return error{error_code::storage_unavailable,
                     "endpoint secrets were encrypted, but the WAL could not be truncated: another process "
                     "has the database open; stop it and start again"};
    }
    return static_cast<std::int64_t>(clear.size());
}

}  // namespace

result<std::unique_ptr<outbox_store>> open_sqlite_outbox(const storage_config& cfg,
                                                         std::shared_ptr<const secret_box> secrets,
                                                         std::int64_t* sealed) {
    try {
        auto db = std::make_unique<sqlite::connection>(cfg.path);
        sqlite3_busy_timeout(db->handle(), static_cast<int>(cfg.busy_timeout.count()));
        db->exec("PRAGMA journal_mode = WAL");
        db->exec("PRAGMA synchronous = " + std::string(to_string(cfg.synchronous)));
        db->exec("PRAGMA foreign_keys = ON");
        // Statement journals (each write unit runs in a savepoint) in memory: on disk, every
        // group commit created, wrote page by page and deleted a temp file, which was half
        // the writer's time. They only serve rolling back one unit; durability is the WAL's.
        db->exec("PRAGMA temp_store = MEMORY");
        // 64 MiB of page cache instead of 2: with tens of thousands of endpoints, the
        // index pages a group or a claim touches are scattered, and a 2 MiB cache read
        // twice as many pages back from the OS (bench/run tenants). Pages are allocated
        // as they are read: a small database uses little of it.
        db->exec("PRAGMA cache_size = -65536");
        auto version = migrate(*db, detail::embedded_migrations());
        if (!version) return version.err();
        auto count = seal_stored_secrets(*db, secrets.get());
        if (!count) return count.err();
        if (sealed) *sealed = *count;
        return std::unique_ptr<outbox_store>(
            std::make_unique<detail::sqlite_outbox_store>(std::move(db), cfg.synchronous, std::move(secrets)));
    } catch (const sqlite::failure& e) {
        return error{error_code::storage_unavailable, e.what()};
    }
}

}  // namespace webhookd
