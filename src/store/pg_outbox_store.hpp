#pragma once
// The PostgreSQL outbox (storage.backend "postgres"): one database shared by any number of
// webhookd instances.

#include <cstdint>
#include <memory>

#include "store/outbox_store.hpp"
#include "store/secret_box.hpp"
#include "webhookd/config.hpp"

namespace webhookd {

// Connects to cfg.url and applies pending migrations (under an advisory lock, so that
// instances starting together migrate once). Errors: "storage_unavailable" (cannot connect),
// "schema_too_new", "migration_failed"; the endpoint secrets are checked and sealed as
// open_sqlite_outbox does ("secret_key_missing", "secret_key_mismatch").
result<std::unique_ptr<outbox_store>> open_pg_outbox(const storage_config& cfg,
                                                     std::shared_ptr<const secret_box> secrets = nullptr,
                                                     std::int64_t* sealed = nullptr);

}  // namespace webhookd
