#include "store/sqlite_outbox_store.hpp"

#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "delivery/endpoint_matcher.hpp"
#include "store/migrations.hpp"
#include "store/sqlite.hpp"

namespace webhookd {

namespace {

// What fan-out needs of an endpoint.
struct route {
    std::string id;
    std::vector<std::string> patterns;
};

error storage_error(const sqlite::failure& e) {
    return error{e.transient() ? "storage_unavailable" : "storage_error", e.what()};
}

class sqlite_outbox_store final : public outbox_store {
public:
    explicit sqlite_outbox_store(std::unique_ptr<sqlite::connection> db) : db_(std::move(db)) {}

    void write_group(std::span<write_unit* const> units, std::int64_t now_ms) override;
    result<ingest_outcome> insert_event(const new_event& event, std::int64_t now_ms) override;
    result<outbox_counts> counts() override;

private:
    void refresh_routes();  // throws sqlite::failure

    std::unique_ptr<sqlite::connection> db_;
    std::vector<route> routes_;
    std::int64_t routes_version_ = -1;  // PRAGMA data_version the cache was read at
    bool routes_dirty_ = true;          // set by writes of this connection to endpoints
};

void sqlite_outbox_store::refresh_routes() {
    auto& v = db_->prepare("PRAGMA data_version");
    v.step();
    std::int64_t version = v.int64(0);
    v.reset();
    if (!routes_dirty_ && version == routes_version_) return;
    std::vector<route> fresh;
    auto& q = db_->prepare("SELECT id, event_patterns FROM endpoints WHERE enabled = 1 ORDER BY seq");
    while (q.step()) {
        route r{q.text(0), {}};
        auto patterns = nlohmann::json::parse(q.text_view(1), nullptr, false);
        if (patterns.is_array()) {
            for (const auto& p : patterns) {
                if (p.is_string()) r.patterns.push_back(p.get<std::string>());
            }
        }
        fresh.push_back(std::move(r));
    }
    q.reset();
    routes_ = std::move(fresh);
    routes_version_ = version;
    routes_dirty_ = false;
}

void sqlite_outbox_store::write_group(std::span<write_unit* const> units, std::int64_t now_ms) {
    std::vector<status> outcomes(units.size(), status(ok_v));
    auto fail_all = [&](const error& e) {
        for (auto* u : units) u->done(e);
    };
    try {
        sqlite::transaction tx(*db_);
        refresh_routes();
        for (std::size_t i = 0; i < units.size(); ++i) {
            db_->prepare("SAVEPOINT unit").run();
            try {
                outcomes[i] = units[i]->apply(*this, now_ms);
            } catch (const sqlite::failure& e) {
                outcomes[i] = storage_error(e);
            }
            if (sqlite3_get_autocommit(db_->handle())) {
                // SQLite rolled back the whole transaction (I/O error, full disk): every
                // unit applied so far is gone with it.
                fail_all(outcomes[i].ok() ? error{"storage_unavailable", "transaction rolled back"}
                                          : outcomes[i].err());
                return;
            }
            if (!outcomes[i].ok()) db_->prepare("ROLLBACK TO unit").run();
            db_->prepare("RELEASE unit").run();
        }
        tx.commit();
    } catch (const sqlite::failure& e) {
        fail_all(storage_error(e));
        return;
    }
    for (std::size_t i = 0; i < units.size(); ++i) units[i]->done(outcomes[i]);
}

result<ingest_outcome> sqlite_outbox_store::insert_event(const new_event& event, std::int64_t now_ms) {
    auto& ins = db_->prepare(
        "INSERT INTO events (id, type, timestamp, body, data_offset, created_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO NOTHING");
    ins.bind(1, event.id)
        .bind(2, event.type)
        .bind(3, event.timestamp)
        .bind_blob(4, event.body)
        .bind(5, static_cast<std::int64_t>(event.data_offset))
        .bind(6, now_ms)
        .run();
    if (db_->changes() == 0) {
        auto& q = db_->prepare(
            "SELECT e.id, e.type, e.timestamp, "
            "(SELECT COUNT(*) FROM deliveries d WHERE d.event_seq = e.seq) + "
            "(SELECT COUNT(*) FROM dead_letters l WHERE l.event_seq = e.seq) "
            "FROM events e WHERE e.id = ?");
        q.bind(1, event.id);
        if (!q.step()) return error{"storage_error", "duplicate event " + event.id + " vanished"};
        ingest_outcome out{q.text(0), q.text(1), q.text(2), q.int64(3), true};
        q.reset();
        return out;
    }
    std::int64_t seq = db_->last_insert_rowid();
    ingest_outcome out{event.id, event.type, event.timestamp, 0, false};
    for (const auto& r : routes_) {
        if (!any_pattern_matches(r.patterns, event.type)) continue;
        db_->prepare(
               "INSERT INTO deliveries (event_seq, endpoint_id, next_attempt_at, created_at) VALUES (?, ?, ?, ?)")
            .bind(1, seq)
            .bind(2, r.id)
            .bind(3, now_ms)
            .bind(4, now_ms)
            .run();
        ++out.deliveries;
    }
    return out;
}

result<outbox_counts> sqlite_outbox_store::counts() {
    try {
        outbox_counts c;
        auto& p = db_->prepare("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'");
        p.step();
        c.pending = p.int64(0);
        p.reset();
        auto& d = db_->prepare("SELECT COUNT(*) FROM dead_letters");
        d.step();
        c.dead_letters = d.int64(0);
        d.reset();
        return c;
    } catch (const sqlite::failure& e) {
        return storage_error(e);
    }
}

}  // namespace

result<std::unique_ptr<outbox_store>> open_sqlite_outbox(const storage_config& cfg) {
    try {
        auto db = std::make_unique<sqlite::connection>(cfg.path);
        sqlite3_busy_timeout(db->handle(), static_cast<int>(cfg.busy_timeout.count()));
        db->exec("PRAGMA journal_mode = WAL");
        db->exec("PRAGMA synchronous = " + cfg.synchronous);
        db->exec("PRAGMA foreign_keys = ON");
        auto version = migrate(*db, detail::embedded_migrations());
        if (!version) return version.err();
        return std::unique_ptr<outbox_store>(std::make_unique<sqlite_outbox_store>(std::move(db)));
    } catch (const sqlite::failure& e) {
        return error{"storage_unavailable", e.what()};
    }
}

}  // namespace webhookd
