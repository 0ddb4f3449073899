#pragma once
// The embedded SQLite outbox (WAL, synchronous from config).

#include <cstdint>
#include <memory>

#include "store/outbox_store.hpp"
#include "store/secret_box.hpp"
#include "webhookd/config.hpp"

namespace webhookd {

// Opens or creates the database at cfg.path, sets WAL and the synchronous level, and
// applies pending migrations. Errors: "storage_unavailable" (cannot open or write),
// "schema_too_new", "migration_failed".
//
// Endpoint secrets: with `secrets`, the store seals every secret it writes and opens every
// one it reads, so its callers see clear secrets. At open, every stored secret is checked
// in one transaction: an encrypted one that does not decrypt with `secrets` stops the open
// ("secret_key_mismatch"; without `secrets`: "secret_key_missing"), and secrets still in
// clear are encrypted in place in that transaction (the freed bytes zeroed), after which
// the WAL is checkpointed and truncated; *sealed (when given) is how many were.
result<std::unique_ptr<outbox_store>> open_sqlite_outbox(const storage_config& cfg,
                                                         std::shared_ptr<const secret_box> secrets = nullptr,
                                                         std::int64_t* sealed = nullptr);

}  // namespace webhookd
