#pragma once
// The one place that chooses the outbox's backend from the config. Callers get
// outbox_store interfaces and never name a backend.

#include <cstdint>
#include <memory>

#include "store/outbox_store.hpp"
#include "store/secret_box.hpp"
#include "webhookd/config.hpp"

namespace webhookd {

// The outbox, opened twice over the same data: `writer` for the writer thread (every write
// and the dispatcher's reads) and `reader` for the reader thread (the admin API's reads, on
// a connection of their own), of the backend storage.backend names: SQLite (storage.path)
// or PostgreSQL (storage.url).
struct opened_outbox {
    std::unique_ptr<outbox_store> writer;
    std::unique_ptr<outbox_store> reader;
    std::int64_t sealed = 0;  // secrets found in clear and encrypted at this open
};

// Errors: those of the backend's open (storage_unavailable, schema_too_new,
// migration_failed, secret_key_missing, secret_key_mismatch).
result<opened_outbox> open_outbox(const storage_config& cfg, std::shared_ptr<const secret_box> secrets);

}  // namespace webhookd
