#include "store/envelope.hpp"

#include <nlohmann/json.hpp>

namespace webhookd {

new_event build_envelope(std::string id, std::string type, std::string timestamp, std::string_view data_json) {
    using nlohmann::json;
    new_event e;
    e.body.reserve(64 + id.size() + type.size() + timestamp.size() + data_json.size());
    e.body += "{\"id\":";
    e.body += json(id).dump();
    e.body += ",\"timestamp\":";
    e.body += json(timestamp).dump();
    e.body += ",\"event\":";
    e.body += json(type).dump();
    e.body += ",\"data\":";
    e.data_offset = e.body.size();
    e.body += data_json;
    e.body += '}';
    e.id = std::move(id);
    e.type = std::move(type);
    e.timestamp = std::move(timestamp);
    return e;
}

}  // namespace webhookd
