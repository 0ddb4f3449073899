#include "store/migrations.hpp"

#include <chrono>

namespace webhookd {

namespace {

constexpr std::string_view create_table = R"(
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
))";

}  // namespace

namespace detail {

error schema_too_new(int current, int latest) {
    return error{error_code::schema_too_new,
                 "the database is at schema version " + std::to_string(current) +
                     " but this webhookd knows versions up to " + std::to_string(latest) +
                     "; it was used by a newer webhookd. Run that version, or restore a backup."};
}

std::int64_t applied_at_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace detail

int schema_version(sqlite::connection& db) {
    db.exec(create_table);
    auto& q = db.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    q.step();
    auto v = static_cast<int>(q.int64(0));
    q.reset();
    return v;
}

result<int> migrate(sqlite::connection& db, const std::vector<migration>& migrations) {
    try {
        sqlite::transaction tx(db);
        int current = schema_version(db);
        int latest = migrations.empty() ? 0 : migrations.back().version;
        if (current > latest) return detail::schema_too_new(current, latest);
        for (const auto& m : migrations) {
            if (m.version <= current) continue;
            try {
                db.exec(m.sql);
            } catch (const sqlite::failure& e) {
                return error{error_code::migration_failed, "migration " + std::to_string(m.version) + "_" + m.name +
                                                     " failed: " + e.what()};
            }
            db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)")
                .bind(1, std::int64_t{m.version})
                .bind(2, m.name)
                .bind(3, detail::applied_at_ms())
                .run();
            current = m.version;
        }
        tx.commit();
        return current;
    } catch (const sqlite::failure& e) {
        return error{error_code::storage_unavailable, std::string("migrations: ") + e.what()};
    }
}

}  // namespace webhookd
