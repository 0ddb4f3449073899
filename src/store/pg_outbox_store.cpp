// The PostgreSQL outbox: ingest, the dispatcher's claims and outcomes, retention, and the
// primitives of endpoint health. Every write runs inside the writer's group transaction
// (write_group); several instances may write at once, so claims lock what they lease and
// skip what another instance has locked, and nothing is cached without a check against
// the data.

#include "store/pg_outbox_store.hpp"

#include <algorithm>

#include <boost/unordered/unordered_flat_set.hpp>

#include "store/migrations.hpp"
#include "store/pg_store_impl.hpp"
#include "util/endpoint_matcher.hpp"

namespace webhookd {

namespace detail {

// The earliest next_attempt_at of endpoint `e`'s pending deliveries (NULL: none): one
// seek into each range of deliveries_endpoint_due, first attempts and retries, however
// long the backlog. For a FIFO endpoint (`fifo` true) its head's instead, as nothing else
// of it may go first. Not min() with `(attempts > 0) = false`: PostgreSQL rewrites that
// into `attempts <= 0`, which matches no column of the index, and read the endpoint's
// whole range (2.8 ms with 14,000 deliveries pending). The first seek finds the first
// attempts' earliest, or the retries' when there are none; the second, the retries'.
std::string pg_next_due_sql(std::string_view e, std::string_view fifo) {
    auto seek = [&](const char* retries, const char* order) {
        return "(SELECT next_attempt_at FROM deliveries WHERE endpoint_id = " + std::string(e) +
               " AND state = 'pending'" + retries + " ORDER BY " + order + "next_attempt_at LIMIT 1)";
    };
    return "CASE WHEN " + std::string(fifo) +
           " THEN (SELECT next_attempt_at FROM deliveries WHERE endpoint_id = " + std::string(e) +
           " AND ordered AND state = 'pending' AND next_attempt_at IS NOT NULL ORDER BY id LIMIT 1) ELSE LEAST(" +
           seek("", "(attempts > 0), ") + ", " + seek(" AND (attempts > 0)", "") + ") END";
}

namespace {

// The first key of every endpoint's claim lock (pg_try_advisory_xact_lock(class, hash of
// the id)): "wh" and 1. The two-key space is apart from the migrations' one-key lock.
constexpr int claim_lock_class = 0x7768'0001;

// What a claim returns of each leased delivery and its event.
constexpr const char* claimed_columns =
    "RETURNING d.id, d.endpoint_id, d.attempts, d.ladder_start, e.id, e.type, e.created_at, e.body, e.data_offset";

claimed_delivery read_claimed(const pg::rows& r, int i, std::int64_t lease_until_ms) {
    claimed_delivery d;
    d.id = r.int64(i, 0);
    d.endpoint_id = r.text(i, 1);
    d.attempt = static_cast<int>(r.int64(i, 2)) + 1;
    d.ladder_attempt = d.attempt - static_cast<int>(r.int64(i, 3));
    d.lease_until_ms = lease_until_ms;
    d.event_id = r.text(i, 4);
    d.event_type = r.text(i, 5);
    d.event_created_ms = r.int64(i, 6);
    d.envelope = r.bytes(i, 7);
    d.data_offset = static_cast<std::size_t>(r.int64(i, 8));
    return d;
}

}  // namespace

pg_outbox_store::pg_outbox_store(std::string url, std::shared_ptr<const secret_box> secrets)
    : outbox_store_base(std::move(secrets)), url_(std::move(url)) {
    db();
}

pg::connection& pg_outbox_store::db() {
    if (!db_ || !db_->ok()) {
        db_.reset();
        db_ = std::make_unique<pg::connection>(url_);
    }
    return *db_;
}

void pg_outbox_store::fail(const std::string& message) { throw pg::failure("XX000", message); }

namespace {

// The horizon (the mark's revision), the deletion count, and the next transaction id. The
// horizon is taken in the same snapshot as whatever the caller reads next, or an earlier
// one: a change that snapshot does not see is by a transaction at or above it.
constexpr const char* read_mark_sql =
    "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, "
    "COALESCE((SELECT value FROM daemon_state WHERE key = 'endpoint_deletions'), 0), "
    "pg_snapshot_xmax(pg_current_snapshot())::text::bigint";

scan_mark mark_of(const pg::rows& r) { return {r.int64(0, 0), r.int64(0, 1)}; }

// Whether a mark read earlier cannot be trusted against this read: none yet, or a horizon
// past the server's next transaction (a database restored into another cluster, whose
// transaction ids started again lower), where reading from it would miss changes.
bool mark_unknown(const scan_mark& earlier, const pg::rows& now) {
    return earlier.revision < 0 || earlier.revision > now.int64(0, 2);
}

}  // namespace

std::string pg_outbox_store::routes_changed_sql() const {
    // The first group reads no rows: it has no routes to forget.
    if (routes_mark_.revision < 0) return read_mark_sql;
    return "SELECT m.*, e.id, e.revision, e.tenant_id FROM (" + std::string(read_mark_sql) +
           ") m LEFT JOIN endpoints e ON e.revision_xid >= '" + std::to_string(routes_mark_.revision) + "'::xid8";
}

void pg_outbox_store::refresh_routes(const pg::rows& changed) {
    // Any instance may have changed an endpoint. Its row is read here until no transaction
    // that was running before the change is left; only a revision not seen before costs
    // its tenant the cached routes.
    bool unknown = mark_unknown(routes_mark_, changed);
    auto mark = mark_of(changed);
    if (unknown || mark.deletions != routes_mark_.deletions) {
        forget_all_routes();
        routes_recent_.clear();
    }
    bool rows = routes_mark_.revision >= 0;  // routes_changed_sql read the changed rows
    routes_mark_ = mark;
    if (!rows || (routes_recent_.empty() && changed.is_null(0, 3))) return;  // nearly always
    decltype(routes_recent_) recent;
    for (int i = 0; i < changed.size() && !changed.is_null(i, 3); ++i) {
        auto id = changed.text(i, 3);
        auto revision = changed.int64(i, 4);
        if (auto it = routes_recent_.find(id); it == routes_recent_.end() || it->second != revision) {
            forget_routes(changed.optional_text(i, 5));
        }
        recent.emplace(std::string(id), revision);
    }
    routes_recent_ = std::move(recent);
}

std::optional<tenant_routes> pg_outbox_store::load_routes(const std::optional<std::string>& tenant) {
    // (PostgreSQL keys a tenant's events by its id: tenant_seq stays 0.)
    if (tenant && !tenant_exists(*tenant)) return std::nullopt;
    auto r = tenant ? db().query("SELECT id, event_patterns, ordering = 'fifo', seq FROM endpoints "
                                 "WHERE tenant_id = $1 AND enabled ORDER BY seq",
                                 {*tenant})
                    : db().query("SELECT id, event_patterns, ordering = 'fifo', seq FROM endpoints "
                                 "WHERE tenant_id IS NULL AND enabled ORDER BY seq");
    tenant_routes out;
    for (int i = 0; i < r.size(); ++i) {
        out.endpoints.push_back(make_route(std::string(r.text(i, 0)), r.int64(i, 3), r.text(i, 1), r.boolean(i, 2)));
    }
    return out;
}

void pg_outbox_store::scan_routes(std::size_t max_tenants, const std::function<void(const route_row&)>& each) {
    auto r = db().query(
        "SELECT t.id, e.id, e.event_patterns, e.ordering = 'fifo', e.seq "
        "FROM (SELECT id FROM tenants ORDER BY seq LIMIT $1) t "
        "LEFT JOIN endpoints e ON e.tenant_id = t.id AND e.enabled ORDER BY t.id, e.seq",
        {std::to_string(max_tenants)});
    for (int i = 0; i < r.size(); ++i) {
        route_row row{r.text(i, 0), 0, std::nullopt, 0, {}, false};
        if (!r.is_null(i, 1)) {
            row.endpoint = r.text(i, 1);
            row.seq = r.int64(i, 4);
            row.patterns_json = r.text(i, 2);
            row.fifo = r.boolean(i, 3);
        }
        each(row);
    }
}

void pg_outbox_store::write_group(std::span<write_unit* const> units, std::int64_t now_ms) {
    std::vector<status> outcomes(units.size(), status(ok_v));
    // First without savepoints, a round trip less per unit: nearly every group succeeds
    // whole. When a unit fails, that try is rolled back and the group runs again with a
    // savepoint per unit, so that the failing unit alone is undone (one unit alone needs
    // none: its rollback is the transaction's). Instances writing at once can deadlock (two
    // groups recording outcomes of the same endpoints in another order): PostgreSQL aborts
    // one transaction, which is then run again whole, as nothing of it was stored.
    bool savepoints = false;
    for (int deadlocks = 0;;) {
        try {
            if (run_group(units, now_ms, outcomes, savepoints) || units.size() == 1) break;
            savepoints = true;
        } catch (const pg::failure& e) {
            undo_try();
            if ((e.sqlstate == "40P01" || e.sqlstate == "40001") && ++deadlocks < 3) continue;
            for (auto* u : units) u->done(storage_error(e));
            return;
        }
    }
    for (std::size_t i = 0; i < units.size(); ++i) units[i]->done(outcomes[i]);
}

bool pg_outbox_store::run_group(std::span<write_unit* const> units, std::int64_t now_ms,
                                std::vector<status>& outcomes, bool savepoints) {
    auto& c = db();
    // A group of lazy units only (leases, outcomes, sweeps) does not wait for the WAL's
    // flush: PostgreSQL keeps commits in order, so the next durable commit's flush covers
    // it (write_unit::durable). The savepoint commands travel together with each other and
    // with the transaction's: one round trip where there would be three.
    bool lazy = std::none_of(units.begin(), units.end(), [](const write_unit* u) { return u->durable(); });
    bool open = false;  // whether the transaction began
    struct forget_staged {
        pg_outbox_store& store;
        ~forget_staged() {
            store.staged_.clear();  // it points into the units
            store.staged_ids_.clear();
        }
    } forget{*this};
    try {
        // The transaction begins and the endpoints' changes are read in one round trip.
        auto changed = c.exec(std::string(lazy ? "BEGIN; SET LOCAL synchronous_commit = off; " : "BEGIN; ") +
                              routes_changed_sql());
        open = true;
        refresh_routes(changed);
        begin_try();
        if (!savepoints) {
            for (auto* u : units) u->stage(*this, now_ms);
            write_events(staged_, now_ms);
        }
        std::string next = savepoints ? "SAVEPOINT unit" : "";
        for (std::size_t i = 0; i < units.size(); ++i) {
            if (!next.empty()) c.exec(next);
            auto unit = begin_unit();
            try {
                outcomes[i] = units[i]->apply(*this, now_ms);
            } catch (const pg::failure& e) {
                // A lost connection, a server going down or a deadlock takes the whole group.
                if (e.transient() || !c.ok()) throw;
                outcomes[i] = storage_error(e);
            }
            if (!savepoints) {
                if (outcomes[i].ok()) continue;
                undo_try();
                open = false;
                c.exec("ROLLBACK");
                return false;
            }
            if (!outcomes[i].ok()) undo_unit(unit);
            next = outcomes[i].ok() ? "RELEASE SAVEPOINT unit" : "ROLLBACK TO SAVEPOINT unit; RELEASE SAVEPOINT unit";
            if (i + 1 < units.size()) next += "; SAVEPOINT unit";
        }
        if (fold_counts_due()) {
            if (!next.empty()) c.exec(next);  // out of the last unit's savepoint first
            next.clear();
            fold_count_changes();
        }
        if (!next.empty()) next += "; ";
        next += counts_sql();  // in the commit's round trip
        open = false;
        c.exec(next + "COMMIT");
        return true;
    } catch (const pg::failure&) {
        if (open) {
            try {
                c.exec("ROLLBACK");
            } catch (const pg::failure&) {
                // The connection is gone; so is the transaction.
            }
        }
        throw;
    }
}

std::string pg_outbox_store::counts_sql() {
    auto changes = take_group_counts();
    if (changes.empty()) return {};
    // As an escaped literal: the statement travels with the commit, without parameters.
    std::string sql = "INSERT INTO count_changes (changes) VALUES (E'";
    for (char ch : changes) {
        if (ch == '\'' || ch == '\\') sql += ch;
        sql += ch;
    }
    return sql + "'); ";
}

void pg_outbox_store::fold_count_changes() {
    // One instance folds at a time (the lock, "webhcnts" in ASCII, is held until the
    // commit); rows of groups not committed yet are not seen, so not deleted: the next
    // fold takes them.
    auto& c = db();
    if (!c.query("SELECT pg_try_advisory_xact_lock(8603390863645504627)").boolean(0, 0)) return;
    count_map changes;
    auto moved = c.query("DELETE FROM count_changes RETURNING changes");
    for (int i = 0; i < moved.size(); ++i) add_counts(changes, moved.text(i, 0));
    auto base = c.query("SELECT counts FROM count_base");
    auto folded = folded_counts(base.empty() ? std::string_view() : base.text(0, 0), std::move(changes));
    c.query("INSERT INTO count_base (id, counts) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET counts = EXCLUDED.counts",
            {folded});
}

void pg_outbox_store::read_counts(count_map& into) {
    if (auto base = db().query("SELECT counts FROM count_base"); !base.empty()) add_counts(into, base.text(0, 0));
    auto changes = db().query("SELECT changes FROM count_changes");
    for (int i = 0; i < changes.size(); ++i) add_counts(into, changes.text(i, 0));
}

std::optional<pg_outbox_store::fan_out> pg_outbox_store::fan_out_of(const new_event& event) {
    const auto* routes = routes_for(event.tenant);
    if (!routes) return std::nullopt;
    fan_out out;
    for (const auto& r : routes->endpoints) {
        if (!r.wants(event.type)) continue;
        out.endpoint_ids.push_back(r.id);
        out.endpoint_seqs.push_back(r.seq);
        out.fifo.push_back(r.fifo);
    }
    return out;
}

void pg_outbox_store::stage_events(std::span<const new_event> events, std::int64_t /*now_ms*/, std::int64_t due_ms) {
    for (const auto& e : events) {
        // A repeated id is left to insert_event, which finds it a duplicate of the first;
        // an unknown tenant too, which fails the unit.
        if (staged_ids_.contains(e.id)) continue;
        auto routes = fan_out_of(e);
        if (!routes) continue;
        staged_ids_.emplace(e.id, staged_.size());
        staged_.push_back({&e, due_ms, std::move(*routes)});
    }
}

void pg_outbox_store::write_events(std::span<staged_event> events, std::int64_t now_ms) {
    if (events.empty()) return;
    pg::array ids, types, timestamps, offsets, tenants, route_events, route_endpoints, route_dues, route_fifo;
    pg::bytea_array bodies;
    std::unordered_map<std::string_view, staged_event*> by_id;
    for (auto& s : events) {
        const auto& e = *s.event;
        by_id.emplace(e.id, &s);
        ids.add(e.id);
        types.add(e.type);
        timestamps.add(e.timestamp);
        bodies.add(e.body);
        offsets.add(static_cast<std::int64_t>(e.data_offset));
        tenants.add_or_null(e.tenant);
        for (std::size_t i = 0; i < s.routes.endpoint_ids.size(); ++i) {
            route_events.add(e.id);
            route_endpoints.add(s.routes.endpoint_ids[i]);
            route_dues.add(s.due_ms);
            route_fifo.add(static_cast<bool>(s.routes.fifo[i]));
        }
    }
    // Events take their seq, and deliveries their id, in the order given: a FIFO
    // endpoint's deliveries are sent in id order.
    auto written = db().query(
        "WITH ev AS (INSERT INTO events (id, type, timestamp, body, data_offset, created_at, tenant_id) "
        "SELECT id, type, ts, body, off, $7, tenant "
        "FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bigint[], $6::text[]) "
        "WITH ORDINALITY AS i(id, type, ts, body, off, tenant, n) ORDER BY n "
        "ON CONFLICT (id) DO NOTHING RETURNING id, seq), "
        "dl AS (INSERT INTO deliveries (event_seq, endpoint_id, next_attempt_at, created_at, ordered) "
        "SELECT ev.seq, r.endpoint_id, r.due, $7, r.fifo "
        "FROM unnest($8::text[], $9::text[], $10::bigint[], $11::boolean[]) "
        "WITH ORDINALITY AS r(event_id, endpoint_id, due, fifo, n) JOIN ev ON ev.id = r.event_id ORDER BY r.n) "
        "SELECT id FROM ev",
        {ids, types, timestamps, bodies, offsets, tenants, now_ms, route_events, route_endpoints, route_dues,
         route_fifo});
    for (int i = 0; i < written.size(); ++i) {
        if (auto it = by_id.find(written.text(i, 0)); it != by_id.end()) it->second->written = true;
    }
}

result<ingest_outcome> pg_outbox_store::insert_event(const new_event& event, std::int64_t now_ms,
                                                     std::int64_t due_ms) {
    // The staged event itself, not a later one with its id (a duplicate of it); any other
    // is written now, alone.
    staged_event alone;
    staged_event* s = &alone;
    if (auto it = staged_ids_.find(event.id); it != staged_ids_.end() && staged_[it->second].event == &event) {
        s = &staged_[it->second];
    } else {
        auto routes = fan_out_of(event);
        if (!routes) return error{error_code::tenant_not_found, "tenant " + *event.tenant + " does not exist"};
        alone = {&event, due_ms, std::move(*routes)};
        write_events({&alone, 1}, now_ms);
    }
    if (s->written) {
        for (const auto& id : s->routes.endpoint_ids) count_rows(id, 1, 0);
        auto n = static_cast<std::int64_t>(s->routes.endpoint_ids.size());
        return ingest_outcome{event.id, event.tenant, event.type, event.timestamp, n, false,
                              std::move(s->routes.endpoint_ids), std::move(s->routes.endpoint_seqs)};
    }
    auto q = db().query(
        "SELECT e.id, e.type, e.timestamp, "
        "(SELECT count(*) FROM deliveries d WHERE d.event_seq = e.seq) + "
        "(SELECT count(*) FROM dead_letters l WHERE l.event_seq = e.seq), e.tenant_id "
        "FROM events e WHERE e.id = $1",
        {event.id});
    if (q.empty()) return error{error_code::storage_error, "duplicate event " + event.id + " vanished"};
    ingest_outcome dup{std::string(q.text(0, 0)), q.optional_text(0, 4), std::string(q.text(0, 1)),
                       std::string(q.text(0, 2)), q.int64(0, 3), true, {}, {}};
    if (dup.tenant != event.tenant) {
        // Never a silent duplicate: the second tenant's event would be dropped.
        return error{error_code::id_conflict, "event id " + event.id + " is already taken by an event of " +
                                                  (dup.tenant ? "another tenant" : "no tenant") +
                                                  "; give this event another id"};
    }
    return dup;
}

result<std::vector<endpoint_claim>> pg_outbox_store::claim(std::span<const claim_order> orders, std::size_t room,
                                                           std::int64_t now_ms, std::int64_t lease_until_ms,
                                                           std::string_view owner) {
    // The orders the room reaches (each leases one delivery at least, if it has one due).
    std::vector<endpoint_claim> out;
    for (const auto& o : orders) {
        if (out.size() == room) break;
        out.push_back({o.endpoint_id, {}, std::nullopt});
    }
    if (out.empty()) return out;
    std::size_t left = room;
    auto& c = db();
    std::unordered_map<std::string_view, std::size_t> index;  // endpoint id -> its place in out
    pg::array all, fifo;
    for (std::size_t i = 0; i < out.size(); ++i) {
        index.emplace(out[i].endpoint_id, i);
        all.add(out[i].endpoint_id);
        fifo.add(orders[i].fifo);
    }

    // 0. The orders' endpoints whose claim lock this transaction takes, so that one
    //    instance at a time claims for each: an advisory lock, tried and never waited for
    //    (an endpoint another instance is claiming for waits for the next claim), and apart
    //    from the endpoint's row, which outcomes and admin writes lock. With each, what all
    //    instances hold of it: its live leases, and its use of the current second of
    //    rate_limit. What each order may lease is what its own dispatcher asks, within both.
    const std::int64_t window = now_ms - now_ms % 1000;
    std::vector<std::size_t> limit(out.size(), 0);
    std::vector<bool> rated(out.size(), false);
    // An endpoint held back by another instance (its lock, the shared cap, or the rate)
    // is not due for this one before then: its dispatcher would claim again at once.
    constexpr std::int64_t held_retry_ms = 10;
    std::vector<std::int64_t> held_until(out.size(), now_ms + held_retry_ms);
    {
        // The locks first, the counts in a statement of their own: its snapshot, taken after
        // the locks, sees everything the last holder of each committed before releasing it.
        auto locked = c.query("SELECT array_agg(id) FROM unnest($1::text[]) AS id "
                              "WHERE pg_try_advisory_xact_lock($2, hashtext(id))",
                              {all, claim_lock_class});
        // Leases are counted up to the largest cap (what is past an order's cap leaves it no
        // room either way), in the order of deliveries_endpoint_leased: an index scan, which
        // marks the entries of rows that are gone as dead for the scans that follow. A
        // count of all used a bitmap scan, which does not, and read every lease an endpoint
        // had held since the last vacuum (0.5 ms a claim while 20,000 went out).
        std::int64_t counted = 1;
        for (std::size_t i = 0; i < out.size(); ++i) {
            counted = std::max(counted, static_cast<std::int64_t>(orders[i].shared_cap));
        }
        auto r = c.query(
            "SELECT e.id, e.rate_limit - CASE WHEN r.window_start = $2 THEN r.used ELSE 0 END, "
            "(SELECT count(*) FROM (SELECT 1 FROM deliveries d WHERE d.endpoint_id = e.id AND d.lease_owner IS NOT NULL "
            "AND d.lease_expires_at > $3 ORDER BY d.lease_expires_at LIMIT $4) AS leased) "
            "FROM endpoints e LEFT JOIN endpoint_rates r ON r.endpoint_id = e.id WHERE e.id = ANY($1::text[])",
            {locked.optional_text(0, 0).value_or("{}"), window, now_ms, counted});
        for (int k = 0; k < r.size(); ++k) {
            auto i = index.at(r.text(k, 0));
            auto lim = orders[i].limit;
            auto leased = static_cast<std::size_t>(r.int64(k, 2));
            if (orders[i].shared_cap > 0) lim = std::min(lim, orders[i].shared_cap > leased ? orders[i].shared_cap - leased : 0);
            if (auto rate_left = r.optional_int64(k, 1)) {
                rated[i] = true;
                if (*rate_left <= 0) held_until[i] = window + 1000;
                lim = std::min(lim, static_cast<std::size_t>(std::max<std::int64_t>(0, *rate_left)));
            }
            limit[i] = lim;
        }
    }

    // 1. FIFO endpoints: the head of the queue, when it is due. FOR UPDATE without SKIP
    //    LOCKED: the head is only ever locked briefly (an outcome being recorded), and the
    //    delivery behind it must never go instead.
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (!orders[i].fifo || limit[i] == 0 || left == 0) continue;
        auto r = c.query(std::string("UPDATE deliveries d SET next_attempt_at = $1, lease_owner = $2, "
                                     "lease_expires_at = $1 FROM events e WHERE d.id = (SELECT id FROM deliveries "
                                     "WHERE endpoint_id = $3 AND ordered AND state = 'pending' AND next_attempt_at "
                                     "IS NOT NULL ORDER BY id LIMIT 1 FOR UPDATE) AND d.next_attempt_at <= $4 "
                                     "AND e.seq = d.event_seq ") +
                             claimed_columns,
                         {lease_until_ms, owner, out[i].endpoint_id, now_ms});
        for (int k = 0; k < r.size(); ++k) out[i].deliveries.push_back(read_claimed(r, k, lease_until_ms));
        left -= std::min<std::size_t>(left, static_cast<std::size_t>(r.size()));
    }

    // 2. Every unordered endpoint's due deliveries in one statement, first attempts before
    //    retries, each oldest due first (the order of deliveries_endpoint_due). The room
    //    goes first to one delivery of each endpoint, in order, then to the rest of each in
    //    turn.
    pg::array ids, limits;
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (orders[i].fifo || limit[i] == 0) continue;
        ids.add(out[i].endpoint_id);
        limits.add(static_cast<std::int64_t>(limit[i]));
    }
    if (!ids.empty() && left > 0) {
        auto r = c.query(
            std::string(
                "WITH o AS (SELECT * FROM unnest($3::text[], $4::bigint[]) WITH ORDINALITY AS o(endpoint_id, lim, ord)), "
                "pick AS (SELECT x.id, x.rank FROM o CROSS JOIN LATERAL ("
                "SELECT id, row_number() OVER (ORDER BY retry, next_attempt_at) AS rank FROM ("
                "SELECT id, attempts > 0 AS retry, next_attempt_at FROM deliveries WHERE endpoint_id = o.endpoint_id "
                "AND state = 'pending' AND next_attempt_at <= $5 ORDER BY (attempts > 0), next_attempt_at "
                "LIMIT o.lim FOR UPDATE SKIP LOCKED) due) x "
                "ORDER BY x.rank > 1, o.ord, x.rank LIMIT $6) "
                "UPDATE deliveries d SET next_attempt_at = $1, lease_owner = $2, lease_expires_at = $1 "
                "FROM pick, events e WHERE d.id = pick.id AND e.seq = d.event_seq ") +
                claimed_columns + ", pick.rank",
            {lease_until_ms, owner, ids, limits, now_ms, static_cast<std::int64_t>(left)});
        std::vector<std::vector<std::pair<std::int64_t, claimed_delivery>>> ranked(out.size());
        for (int k = 0; k < r.size(); ++k) {
            ranked[index.at(r.text(k, 1))].emplace_back(r.int64(k, 9), read_claimed(r, k, lease_until_ms));
        }
        for (std::size_t i = 0; i < out.size(); ++i) {
            // RETURNING promises no order: each endpoint's in the order they were picked.
            std::sort(ranked[i].begin(), ranked[i].end(), [](const auto& a, const auto& b) { return a.first < b.first; });
            for (auto& [rank, d] : ranked[i]) out[i].deliveries.push_back(std::move(d));
        }
    }

    // 3. What the rate-limited endpoints used of this second, for every instance's next claim.
    pg::array rated_ids, used;
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (!rated[i] || out[i].deliveries.empty()) continue;
        rated_ids.add(out[i].endpoint_id);
        used.add(static_cast<std::int64_t>(out[i].deliveries.size()));
    }
    if (!rated_ids.empty()) {
        c.query(
            "INSERT INTO endpoint_rates (endpoint_id, window_start, used) "
            "SELECT u.id, $1, u.n FROM unnest($2::text[], $3::bigint[]) AS u(id, n) "
            "ON CONFLICT (endpoint_id) DO UPDATE SET used = CASE WHEN endpoint_rates.window_start = $1 "
            "THEN endpoint_rates.used + excluded.used ELSE excluded.used END, window_start = $1",
            {window, rated_ids, used});
    }

    // 4. When each endpoint can send next (its leased deliveries are due when their lease ends).
    static const std::string next_due = "SELECT " + pg_next_due_sql("o.endpoint_id", "o.fifo") +
                                        " FROM unnest($1::text[], $2::boolean[]) WITH ORDINALITY "
                                        "AS o(endpoint_id, fifo, ord) ORDER BY o.ord";
    auto due = c.query(next_due, {all, fifo});
    for (std::size_t i = 0; i < out.size() && i < static_cast<std::size_t>(due.size()); ++i) {
        out[i].next_due = due.optional_int64(static_cast<int>(i), 0);
        if (limit[i] < orders[i].limit && out[i].deliveries.empty() && out[i].next_due && *out[i].next_due < held_until[i]) {
            out[i].next_due = held_until[i];
        }
    }
    return out;
}

result<attempt_effects> pg_outbox_store::record_attempt(const attempt_record& a, const health_policy& health,
                                                        std::int64_t now_ms) {
    attempt_effects fx;
    std::optional<std::int64_t> code = a.status_code ? std::optional<std::int64_t>(a.status_code) : std::nullopt;
    std::optional<std::int64_t> delivery = a.delivery_id ? std::optional<std::int64_t>(a.delivery_id) : std::nullopt;
    std::vector<pg::param> params{delivery, a.endpoint_id, a.attempt, a.started_ms, a.duration_us,
                                  to_string(a.outcome), code, a.error, pg::param::bytes(a.response_snippet)};
    auto& c = db();
    if (a.delivery_id == 0) {
        // A test event: logged against the endpoint, never retried.
        c.query("INSERT INTO attempts (delivery_id, endpoint_id, attempt, started_at, duration_us, outcome, "
                "status_code, error, response_snippet) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                params);
        return fx;
    }
    if (a.delivered) {
        std::vector<attempt_effects> out;
        const attempt_record* run[] = {&a};
        record_successes(run, health, now_ms, out);
        return std::move(out.front());
    }
    // The decision ($10: now, or the next attempt's time), the attempt's log row, and the
    // endpoint's health for the rules that follow: one statement, one round trip. A delivery
    // that is gone (its endpoint was deleted while the attempt was out) keeps no log.
    static const auto statement = [](std::string_view decision) {
        return std::string("WITH ") + std::string(decision) +
               ", logged AS (INSERT INTO attempts (delivery_id, endpoint_id, attempt, started_at, duration_us, outcome, "
               "status_code, error, response_snippet) SELECT $1::bigint, $2::text, $3::integer, $4::bigint, "
               "$5::bigint, $6::text, $7::integer, $8::text, $9::bytea FROM d) "
               "SELECT (SELECT count(*) FROM d), e.enabled, e.consecutive_failures, e.failing_since, "
               "e.failing_reported, e.tenant_id, e.url FROM (SELECT 1) AS one LEFT JOIN endpoints e ON e.id = $2";
    };
    static const std::string dead = statement(
        "gone AS (DELETE FROM deliveries WHERE id = $1 AND state = 'pending' "
        "RETURNING id, event_seq, endpoint_id, created_at), "
        "d AS (INSERT INTO dead_letters (id, event_seq, endpoint_id, attempts, created_at, died_at, last_status, "
        "last_error, last_response) SELECT id, event_seq, endpoint_id, $3, created_at, $10, $7, $8, $9 FROM gone "
        "RETURNING 1)");
    static const std::string again = statement(
        "d AS (UPDATE deliveries SET attempts = $3, next_attempt_at = $10, lease_owner = NULL, lease_expires_at = NULL, "
        "last_attempt_at = $4, last_status = $7, last_error = $8 WHERE id = $1 AND state = 'pending' RETURNING 1)");
    params.emplace_back(a.dead ? now_ms : a.next_attempt_ms);
    auto r = c.query(a.dead ? dead : again, params);
    if (r.int64(0, 0) == 0) return fx;
    if (a.dead) count_rows(a.endpoint_id, -1, 1);
    std::optional<endpoint_health> h;
    if (!r.is_null(0, 1)) {
        h = endpoint_health{r.optional_text(0, 5), std::string(r.text(0, 6)), r.boolean(0, 1), r.int64(0, 2),
                            r.optional_int64(0, 3), r.boolean(0, 4)};
    }
    if (a.dead) emit_exhausted(a, now_ms, fx, h);
    apply_health(a, health, now_ms, fx, std::move(h));
    return fx;
}

result<std::vector<attempt_effects>> pg_outbox_store::record_attempts(std::span<const attempt_record* const> batch,
                                                                     const health_policy& health,
                                                                     std::int64_t now_ms) {
    // A dispatcher records what its attempts brought back together, nearly all successes;
    // one round trip each made a round trip's wait the cost of a delivery.
    std::vector<attempt_effects> out;
    out.reserve(batch.size());
    boost::unordered_flat_set<std::int64_t> ids;
    std::size_t i = 0;
    while (i < batch.size()) {
        ids.clear();
        std::size_t end = i;
        while (end < batch.size() && batch[end]->delivered && batch[end]->delivery_id != 0 &&
               ids.insert(batch[end]->delivery_id).second) {
            ++end;
        }
        if (end > i) {
            record_successes(batch.subspan(i, end - i), health, now_ms, out);
            i = end;
            continue;
        }
        auto fx = record_attempt(*batch[i], health, now_ms);
        if (!fx) return fx.err();
        out.push_back(std::move(*fx));
        ++i;
    }
    return out;
}

void pg_outbox_store::record_successes(std::span<const attempt_record* const> run, const health_policy& health,
                                       std::int64_t now_ms, std::vector<attempt_effects>& out) {
    // The decisions, the attempts' log rows (in the run's order) and the endpoints' health,
    // for every row of the arrays at once, as record_attempt's statements do for one.
    static const std::string statement =
        "WITH i AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::integer[], $4::bigint[], $5::bigint[], "
        "$6::text[], $7::integer[], $8::text[], $9::bytea[]) WITH ORDINALITY AS i(id, endpoint_id, attempt, started_at, "
        "duration_us, outcome, status_code, error, snippet, n)), "
        "d AS (UPDATE deliveries SET state = 'delivered', attempts = i.attempt, delivered_at = $10, "
        "next_attempt_at = NULL, lease_owner = NULL, lease_expires_at = NULL, last_attempt_at = i.started_at, "
        "last_status = i.status_code, last_error = NULL FROM i "
        "WHERE deliveries.id = i.id AND deliveries.state = 'pending' RETURNING deliveries.id), "
        "logged AS (INSERT INTO attempts (delivery_id, endpoint_id, attempt, started_at, duration_us, outcome, "
        "status_code, error, response_snippet) SELECT i.id, i.endpoint_id, i.attempt, i.started_at, i.duration_us, "
        "i.outcome, i.status_code, i.error, i.snippet FROM i JOIN d ON d.id = i.id ORDER BY i.n) "
        "SELECT d.id IS NOT NULL, e.enabled, e.consecutive_failures, e.failing_since, e.failing_reported, "
        "e.tenant_id, e.url FROM i LEFT JOIN d ON d.id = i.id LEFT JOIN endpoints e ON e.id = i.endpoint_id "
        "ORDER BY i.n";
    pg::array ids, endpoints, attempts, started, durations, outcomes, codes, errors;
    pg::bytea_array snippets;
    for (const auto* a : run) {
        ids.add(a->delivery_id);
        endpoints.add(a->endpoint_id);
        attempts.add(std::int64_t{a->attempt});
        started.add(a->started_ms);
        durations.add(a->duration_us);
        outcomes.add(to_string(a->outcome));
        codes.add_or_null(a->status_code ? std::optional<std::string>(std::to_string(a->status_code)) : std::nullopt);
        errors.add(a->error);
        snippets.add(a->response_snippet);
    }
    auto r = db().query(statement, {ids, endpoints, attempts, started, durations, outcomes, codes, errors, snippets, now_ms});
    if (r.size() != static_cast<int>(run.size())) fail("recording attempts: a row per attempt expected");
    // Read in one snapshot, an endpoint's health does not show the end of its streak by an
    // earlier success of the run: after one, it is known (apply_health's early return).
    boost::unordered_flat_set<std::string_view> ended;
    for (std::size_t k = 0; k < run.size(); ++k) {
        const auto& a = *run[k];
        auto row = static_cast<int>(k);
        auto& fx = out.emplace_back();
        if (!r.boolean(row, 0)) continue;  // gone meanwhile: no log, as record_attempt
        count_rows(a.endpoint_id, -1, 0);
        if (r.is_null(row, 1)) continue;  // its endpoint is gone
        endpoint_health h{r.optional_text(row, 5), std::string(r.text(row, 6)), r.boolean(row, 1), r.int64(row, 2),
                          r.optional_int64(row, 3), r.boolean(row, 4)};
        if (ended.contains(a.endpoint_id)) {
            h.consecutive_failures = 0;
            h.failing_since_ms.reset();
            h.failing_reported = false;
        } else if (h.consecutive_failures != 0 || h.failing_reported) {
            ended.insert(a.endpoint_id);
        }
        apply_health(a, health, now_ms, fx, std::move(h));
    }
}

result<endpoint_scan> pg_outbox_store::scan_endpoints(const scan_mark& seen, std::int64_t now_ms,
                                                      std::int64_t sweep_after_seq, std::size_t sweep_limit) {
    endpoint_scan out;
    auto& c = db();
    auto now = c.query(read_mark_sql);
    out.mark = mark_of(now);
    // After a deletion, every endpoint: the caller learns which ones are gone.
    out.complete = seen.deletions != out.mark.deletions || mark_unknown(seen, now);
    // Every row written by a transaction at or above the last scan's horizon: a change
    // committed since, whatever its revision. One seen before comes again, the same,
    // while a transaction older than it runs (decision 92).
    static const std::string changed =
        "SELECT id, url, body_mode, signature_format, signature_header, headers, enabled, paused_at, " +
        pg_next_due_sql("endpoints.id", "endpoints.ordering = 'fifo'") +
        ", tenant_id, rate_limit, ordering, seq FROM endpoints WHERE revision_xid >= $1::xid8 ORDER BY seq";
    auto r = c.query(changed, {out.complete ? std::int64_t{0} : seen.revision});
    for (int i = 0; i < r.size(); ++i) {
        endpoint_record e;
        e.id = r.text(i, 0);
        e.url = r.text(i, 1);
        e.body_mode = r.text(i, 2);
        e.signature_format = r.text(i, 3);
        e.signature_header = r.text(i, 4);
        e.headers_json = r.text(i, 5);
        e.enabled = r.boolean(i, 6);
        e.paused_at_ms = r.optional_int64(i, 7);
        e.next_due_ms = r.optional_int64(i, 8);
        e.tenant = r.optional_text(i, 9);
        e.rate_limit = r.optional_int64(i, 10);
        e.fifo = r.text(i, 11) == "fifo";
        e.seq = r.int64(i, 12);
        out.changed.push_back(std::move(e));
    }
    for (auto& e : out.changed) {
        // Never sign with a secret that did not decrypt: the whole scan fails instead.
        auto st = read_secrets(e.id, now_ms, [&](std::string secret, std::int64_t, std::optional<std::int64_t> expires) {
            e.secrets.push_back(std::move(secret));
            e.secret_expires_ms.push_back(expires);
        });
        if (!st) return st.err();
    }
    if (sweep_limit > 0) {
        static const std::string sweep = "SELECT seq, id, " + pg_next_due_sql("endpoints.id", "endpoints.ordering = 'fifo'") +
                                         " FROM endpoints WHERE seq > $1 ORDER BY seq LIMIT $2";
        auto r = c.query(sweep, {sweep_after_seq, static_cast<std::int64_t>(sweep_limit)});
        for (int i = 0; i < r.size(); ++i) {
            out.sweep_next = r.int64(i, 0);
            if (!r.is_null(i, 2)) out.due.emplace_back(std::string(r.text(i, 1)), r.int64(i, 2));
        }
        if (static_cast<std::size_t>(r.size()) < sweep_limit) out.sweep_next = 0;  // the end: start over next time
    }
    return out;
}

status pg_outbox_store::park(std::int64_t delivery_id, std::string_view reason, std::int64_t now_ms) {
    db().query(
        "UPDATE deliveries SET next_attempt_at = NULL, lease_owner = NULL, lease_expires_at = NULL, "
        "last_attempt_at = COALESCE(last_attempt_at, $3), last_error = $2 WHERE id = $1 AND state = 'pending'",
        {delivery_id, reason, now_ms});
    return ok_v;
}

result<std::int64_t> pg_outbox_store::release_leases(std::int64_t now_ms) {
    // Only right for a single instance; the daemon never calls it over PostgreSQL, where
    // another instance's leases run out by themselves (dispatcher_options).
    return db()
        .query(
            "UPDATE deliveries SET next_attempt_at = $1, lease_owner = NULL, lease_expires_at = NULL "
            "WHERE lease_owner IS NOT NULL AND state = 'pending'",
            {now_ms})
        .affected();
}

result<std::int64_t> pg_outbox_store::release(std::span<const std::int64_t> delivery_ids, std::string_view owner,
                                              std::int64_t now_ms) {
    pg::array ids;
    for (auto id : delivery_ids) ids.add(id);
    return db()
        .query(
            "UPDATE deliveries SET next_attempt_at = $3, lease_owner = NULL, lease_expires_at = NULL "
            "WHERE id = ANY($1::bigint[]) AND lease_owner = $2 AND state = 'pending'",
            {ids, owner, now_ms})
        .affected();
}

void pg_outbox_store::delete_orphan_events(const std::vector<std::int64_t>& seqs) {
    if (seqs.empty()) return;
    pg::array list;
    for (auto seq : seqs) list.add(seq);
    db().query(
        "DELETE FROM events e WHERE seq = ANY($1::bigint[]) "
        "AND NOT EXISTS (SELECT 1 FROM deliveries WHERE event_seq = e.seq) "
        "AND NOT EXISTS (SELECT 1 FROM dead_letters WHERE event_seq = e.seq)",
        {list});
}

std::int64_t pg_outbox_store::purge_rows(const char* select_sql, const char* table, std::int64_t cutoff_ms,
                                         std::size_t limit, bool dead_letters) {
    auto& c = db();
    auto r = c.query(select_sql, {cutoff_ms, static_cast<std::int64_t>(limit)});
    pg::array ids;
    std::vector<std::int64_t> seqs;
    for (int i = 0; i < r.size(); ++i) {
        ids.add(r.int64(i, 0));
        seqs.push_back(r.int64(i, 1));
        if (dead_letters) count_rows(r.text(i, 2), 0, -1);
    }
    if (ids.empty()) return 0;
    c.query("DELETE FROM attempts WHERE delivery_id = ANY($1::bigint[])", {ids});
    c.query("DELETE FROM " + std::string(table) + " WHERE id = ANY($1::bigint[])", {ids});
    delete_orphan_events(seqs);
    return static_cast<std::int64_t>(ids.size());
}

result<std::int64_t> pg_outbox_store::purge_dead_letters(std::int64_t cutoff_ms, std::size_t limit) {
    return purge_rows("SELECT id, event_seq, endpoint_id FROM dead_letters WHERE died_at < $1 ORDER BY died_at LIMIT $2",
                      "dead_letters", cutoff_ms, limit, true);
}

result<std::int64_t> pg_outbox_store::purge_delivered(std::int64_t cutoff_ms, std::size_t limit) {
    auto purged = purge_rows(
        "SELECT id, event_seq FROM deliveries WHERE state = 'delivered' AND delivered_at < $1 "
        "ORDER BY delivered_at LIMIT $2",
        "deliveries", cutoff_ms, limit, false);
    // Events that never had a delivery (no endpoint matched) age out the same way; with
    // them goes their id's duplicate protection.
    auto r = db().query(
        "SELECT seq FROM events e WHERE created_at < $1 "
        "AND NOT EXISTS (SELECT 1 FROM deliveries WHERE event_seq = e.seq) "
        "AND NOT EXISTS (SELECT 1 FROM dead_letters WHERE event_seq = e.seq) ORDER BY created_at LIMIT $2",
        {cutoff_ms, static_cast<std::int64_t>(limit)});
    std::vector<std::int64_t> lonely;
    for (int i = 0; i < r.size(); ++i) lonely.push_back(r.int64(i, 0));
    delete_orphan_events(lonely);
    return purged + static_cast<std::int64_t>(lonely.size());
}

status pg_outbox_store::heartbeat(std::int64_t now_ms) {
    db().query(
        "INSERT INTO daemon_state (key, value) VALUES ('heartbeat', $1) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        {now_ms});
    return ok_v;
}

// ---- Endpoint health primitives -----------------------------------------------------------

void pg_outbox_store::end_streak(std::string_view endpoint_id) {
    db().query(
        "UPDATE endpoints SET consecutive_failures = 0, failing_since = NULL, failing_reported = false WHERE id = $1",
        {endpoint_id});
}

void pg_outbox_store::extend_streak(std::string_view endpoint_id, std::int64_t started_ms) {
    db().query(
        "UPDATE endpoints SET consecutive_failures = consecutive_failures + 1, "
        "failing_since = COALESCE(failing_since, $2) WHERE id = $1",
        {endpoint_id, started_ms});
}

void pg_outbox_store::mark_failing_reported(std::string_view endpoint_id) {
    db().query("UPDATE endpoints SET failing_reported = true WHERE id = $1", {endpoint_id});
}

std::vector<dead_row> pg_outbox_store::disable_and_kill_pending(std::string_view endpoint_id, std::string_view reason,
                                                                const std::string& why, std::int64_t now_ms) {
    auto& c = db();
    c.query("UPDATE endpoints SET enabled = false, disabled_reason = $2, disabled_at = $3, updated_at = $3 WHERE id = $1",
            {endpoint_id, reason, now_ms});
    // Its pending deliveries, leased ones included, in one statement: nothing keeps
    // hammering the receiver, and a bulk retry replays them once it is enabled again.
    auto r = c.query(
        "WITH gone AS (DELETE FROM deliveries WHERE endpoint_id = $1 AND state = 'pending' "
        "RETURNING id, event_seq, endpoint_id, attempts, created_at, last_status, last_error), "
        "dead AS (INSERT INTO dead_letters (id, event_seq, endpoint_id, attempts, created_at, died_at, last_status, "
        "last_error, last_response) SELECT id, event_seq, endpoint_id, attempts, created_at, $2, last_status, "
        "$3 || COALESCE(' (last attempt: ' || last_error || ')', ''), '' FROM gone) "
        "SELECT g.id, e.id, e.type, g.attempts, g.last_status, g.last_error FROM gone g "
        "JOIN events e ON e.seq = g.event_seq ORDER BY g.id",
        {endpoint_id, now_ms, "endpoint_disabled: " + why});
    std::vector<dead_row> dead;
    for (int i = 0; i < r.size(); ++i) {
        dead.push_back({r.int64(i, 0), std::string(r.text(i, 1)), std::string(r.text(i, 2)), r.int64(i, 3),
                        static_cast<int>(r.optional_int64(i, 4).value_or(0)), r.optional_text(i, 5).value_or("")});
    }
    auto n = static_cast<std::int64_t>(dead.size());
    count_rows(endpoint_id, -n, n);
    return dead;
}

}  // namespace detail

namespace {

// Start-up check and one-time sealing of endpoint_secrets, as open_sqlite_outbox does
// (PostgreSQL keeps no page to scrub that a VACUUM does not reclaim; see docs/operations.md).
result<std::int64_t> seal_stored_secrets(pg::connection& db, const secret_box* box) {
    pg::transaction tx(db);
    auto r = db.query("SELECT endpoint_id, created_at, secret FROM endpoint_secrets ORDER BY endpoint_id, created_at "
                      "FOR UPDATE");
    std::int64_t sealed = 0;
    for (int i = 0; i < r.size(); ++i) {
        std::string id(r.text(i, 0));
        auto stored = r.text(i, 2);
        auto seal = detail::needs_sealing(box, id, stored);
        if (!seal) return seal.err();
        if (!*seal) continue;
        auto s = box->seal(stored, id);
        if (!s) return s.err();
        db.query("UPDATE endpoint_secrets SET secret = $3 WHERE endpoint_id = $1 AND created_at = $2",
                 {id, r.int64(i, 1), *s});
        ++sealed;
    }
    tx.commit();
    return sealed;
}

}  // namespace

result<std::unique_ptr<outbox_store>> open_pg_outbox(const storage_config& cfg,
                                                     std::shared_ptr<const secret_box> secrets,
                                                     std::int64_t* sealed) {
    try {
        {
            pg::connection db(cfg.url);
            auto version = migrate(db, detail::embedded_pg_migrations());
            if (!version) return version.err();
            auto count = seal_stored_secrets(db, secrets.get());
            if (!count) return count.err();
            if (sealed) *sealed = *count;
            // Rows restored from another cluster may name transactions this one has not
            // reached: every scan would read them again until it did.
            db.query("UPDATE endpoints SET revision_xid = pg_current_xact_id() WHERE revision_xid > pg_current_xact_id()");
        }
        return std::unique_ptr<outbox_store>(std::make_unique<detail::pg_outbox_store>(cfg.url, std::move(secrets)));
    } catch (const pg::failure& e) {
        // Never the URL: it may hold a password.
        return error{error_code::storage_unavailable, e.what()};
    }
}

}  // namespace webhookd
