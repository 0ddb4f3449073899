#include "store/open_outbox.hpp"

#include "store/pg_outbox_store.hpp"
#include "store/sqlite_outbox_store.hpp"

namespace webhookd {

result<opened_outbox> open_outbox(const storage_config& cfg, std::shared_ptr<const secret_box> secrets) {
    auto open = cfg.backend == storage_backend::postgres ? open_pg_outbox : open_sqlite_outbox;
    opened_outbox out;
    auto writer = open(cfg, secrets, &out.sealed);
    if (!writer) return writer.err();
    out.writer = std::move(writer).value();
    auto reader = open(cfg, std::move(secrets), nullptr);
    if (!reader) return reader.err();
    out.reader = std::move(reader).value();
    return out;
}

}  // namespace webhookd
