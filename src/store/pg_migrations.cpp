// migrate() for PostgreSQL (store/migrations.hpp).

#include "store/migrations.hpp"

namespace webhookd {

namespace {

// The advisory lock every webhookd instance takes to migrate: "webhookd" in ASCII.
constexpr std::int64_t migration_lock = 0x77656268'6f6f6b64;

}  // namespace

result<int> migrate(pg::connection& db, const std::vector<migration>& migrations) {
    try {
        pg::transaction tx(db);
        db.query("SELECT pg_advisory_xact_lock($1)", {migration_lock});
        db.exec(R"(CREATE TABLE IF NOT EXISTS schema_migrations (
                       version    integer PRIMARY KEY,
                       name       text    NOT NULL,
                       applied_at bigint  NOT NULL))");
        int current = static_cast<int>(db.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").int64(0, 0));
        int latest = migrations.empty() ? 0 : migrations.back().version;
        if (current > latest) return detail::schema_too_new(current, latest);
        for (const auto& m : migrations) {
            if (m.version <= current) continue;
            try {
                db.exec(m.sql);
            } catch (const pg::failure& e) {
                if (e.transient()) throw;
                return error{error_code::migration_failed,
                             "migration postgres/" + std::to_string(m.version) + "_" + m.name + " failed: " + e.what()};
            }
            db.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                     {m.version, m.name, detail::applied_at_ms()});
            current = m.version;
        }
        tx.commit();
        return current;
    } catch (const pg::failure& e) {
        return error{error_code::storage_unavailable, std::string("migrations: ") + e.what()};
    }
}

}  // namespace webhookd
