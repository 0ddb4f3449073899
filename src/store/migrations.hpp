#pragma once
// Schema migrations: migrations/NNNN_name.sql, compiled into the binary, applied in order
// at start-up in one transaction and recorded in schema_migrations.

#include <string>
#include <vector>

#include "store/pg.hpp"
#include "store/sqlite.hpp"
#include "webhookd/result.hpp"

namespace webhookd {

struct migration {
    int version;
    std::string name;
    std::string sql;
};

namespace detail {
// The migrations compiled from migrations/*.sql (generated source), sorted by version.
const std::vector<migration>& embedded_migrations();
// PostgreSQL's, from migrations/postgres/*.sql.
const std::vector<migration>& embedded_pg_migrations();
// For both backends' migrate(): the error for a database migrated by a newer binary, and
// the time recorded as applied_at.
error schema_too_new(int current, int latest);
std::int64_t applied_at_ms();
}  // namespace detail

// Applies every migration newer than the database's version, all in one transaction.
// Returns the resulting schema version, or an error (code "schema_too_new") when the
// database was migrated by a newer binary, or ("migration_failed") naming the migration
// whose SQL failed; on error nothing is applied.
result<int> migrate(sqlite::connection& db, const std::vector<migration>& migrations);

// The version recorded in the database; 0 for an empty one.
int schema_version(sqlite::connection& db);

// The same for PostgreSQL, where several instances may start at once: the first to take a
// transaction-scoped advisory lock applies what is missing, in one transaction; the others
// wait for it and then find nothing to do. The same errors; a lost connection or a server
// that is not up is storage_unavailable.
result<int> migrate(pg::connection& db, const std::vector<migration>& migrations);

}  // namespace webhookd
