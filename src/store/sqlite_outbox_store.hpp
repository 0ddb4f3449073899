#pragma once
// The embedded SQLite outbox (WAL, synchronous from config).

#include <memory>

#include "store/outbox_store.hpp"
#include "webhookd/config.hpp"

namespace webhookd {

// Opens or creates the database at cfg.path, sets WAL and the synchronous level, and
// applies pending migrations. Errors: "storage_unavailable" (cannot open or write),
// "schema_too_new", "migration_failed".
result<std::unique_ptr<outbox_store>> open_sqlite_outbox(const storage_config& cfg);

}  // namespace webhookd
