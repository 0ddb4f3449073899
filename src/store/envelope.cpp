#include "store/envelope.hpp"

#include "util/json_text.hpp"

namespace webhookd {

new_event build_envelope(std::string id, std::string type, std::string timestamp, std::string_view data_json) {
    new_event e;
    e.body.reserve(64 + id.size() + type.size() + timestamp.size() + data_json.size());
    e.body += "{\"id\":";
    append_json_string(e.body, id);
    e.body += ",\"timestamp\":";
    append_json_string(e.body, timestamp);
    e.body += ",\"event\":";
    append_json_string(e.body, type);
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
