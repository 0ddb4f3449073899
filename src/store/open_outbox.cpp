#include "store/open_outbox.hpp"

#include "store/sqlite_outbox_store.hpp"

namespace webhookd {

result<opened_outbox> open_outbox(const storage_config& cfg, std::shared_ptr<const secret_box> secrets) {
    opened_outbox out;
    auto writer = open_sqlite_outbox(cfg, secrets, &out.sealed);
    if (!writer) return writer.err();
    out.writer = std::move(writer).value();
    auto reader = open_sqlite_outbox(cfg, std::move(secrets));
    if (!reader) return reader.err();
    out.reader = std::move(reader).value();
    return out;
}

}  // namespace webhookd
