// Feeds any bytes as the body of POST /v1/events (without and with an Idempotency-Key) and
// of POST /v1/events/batch to parse_event and parse_batch (src/ingest/event_validator.cpp,
// src/ingest/json_check.cpp, src/ingest/json_scan.cpp). The JSON check accepts what
// nlohmann's parser accepts. Invariants for every accepted event:
// - the stored envelope is valid JSON: an object of exactly id, timestamp, event, data in
//   that order, whose values are the event's id, timestamp and type;
// - the type is 1-128 and the id 1-255 characters of [A-Za-z0-9_.:-], the timestamp RFC 3339;
// - envelope[data_offset, size - 1) is the data alone, and it equals (as JSON) the data of
//   the request body, which therefore means one thing to every parser: the event object
//   (and the batch body) has no key twice, however the keys are spelled;
// - with an Idempotency-Key the id is the key; a body accepted without a key and without an
//   "id" is accepted with one too; a batch holds one event per item, in order.

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"
#include "ingest/event_validator.hpp"
#include "ingest/json_check.hpp"
#include "util/ids.hpp"
#include "util/time_format.hpp"

namespace {

using json = nlohmann::ordered_json;

// Finds a key repeated in an object at nesting level `level` (1 = the body), comparing keys
// after unescaping, as every JSON parser sees them.
class duplicate_finder : public nlohmann::json_sax<json> {
public:
    explicit duplicate_finder(std::size_t level) : level_(level) {}
    bool found = false;

    bool start_object(std::size_t) override {
        keys_.emplace_back();
        return true;
    }
    bool key(string_t& k) override {
        if (keys_.size() == level_ && !keys_.back().insert(k).second) found = true;
        return true;
    }
    bool end_object() override {
        keys_.pop_back();
        return true;
    }
    // Arrays count as a level too: an open array is an entry with no keys.
    bool start_array(std::size_t) override {
        keys_.emplace_back();
        return true;
    }
    bool end_array() override {
        keys_.pop_back();
        return true;
    }
    bool null() override { return true; }
    bool boolean(bool) override { return true; }
    bool number_integer(number_integer_t) override { return true; }
    bool number_unsigned(number_unsigned_t) override { return true; }
    bool number_float(number_float_t, const string_t&) override { return true; }
    bool string(string_t&) override { return true; }
    bool binary(binary_t&) override { return true; }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

private:
    std::size_t level_;
    std::vector<std::set<std::string>> keys_;
};

bool has_duplicate_at(std::string_view body, std::size_t level) {
    duplicate_finder finder(level);
    json::sax_parse(body.begin(), body.end(), &finder);
    return finder.found;
}

// `source` is the event object of the request (already parsed).
void check_event(const webhookd::new_event& e, const json& source) {
    const std::string where = "envelope " + e.body + ": ";
    FUZZ_CHECK(json::accept(e.body), where + "not valid JSON");
    const json envelope = json::parse(e.body);
    FUZZ_CHECK(envelope.is_object() && envelope.size() == 4, where + "not an object of four members");
    auto it = envelope.begin();
    for (const char* key : {"id", "timestamp", "event", "data"}) {
        FUZZ_CHECK(it.key() == key, where + "member " + it.key() + " where " + key + " belongs");
        ++it;
    }
    FUZZ_CHECK(envelope["id"] == e.id && envelope["timestamp"] == e.timestamp && envelope["event"] == e.type,
               where + "id, timestamp or event differ from the event's");
    FUZZ_CHECK(webhookd::is_valid_token(e.type, webhookd::max_event_type_length), where + "event name charset");
    FUZZ_CHECK(webhookd::is_valid_token(e.id, webhookd::max_event_id_length), where + "id charset");
    FUZZ_CHECK(webhookd::is_rfc3339(e.timestamp), where + "timestamp is not RFC 3339");

    FUZZ_CHECK(e.data_offset < e.body.size() && e.body.back() == '}', where + "data_offset");
    const std::string data_text = e.body.substr(e.data_offset, e.body.size() - e.data_offset - 1);
    FUZZ_CHECK(json::accept(data_text), where + "data slice \"" + data_text + "\" is not JSON");
    FUZZ_CHECK(json::parse(data_text) == envelope["data"], where + "data slice is not the envelope's data");
    FUZZ_CHECK(source.contains("data") && json::parse(data_text) == source["data"],
               where + "data differs from the request's data");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view body(reinterpret_cast<const char*>(data), size);
    const auto now = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'745'073'000'000));

    // The one-pass check (src/ingest/json_check.cpp) refuses a body as invalid JSON exactly
    // when nlohmann's parser does, within the shared bounds (no NUL, no BOM, 64 levels).
    const auto checked = webhookd::check_json_body(body);
    const bool within_bounds = !body.empty() && body.find('\0') == std::string_view::npos &&
                               !body.starts_with("\xEF\xBB\xBF") &&
                               (checked.ok() || checked.err().message.find("deeper than") == std::string::npos);
    if (within_bounds) {
        FUZZ_CHECK(checked.ok() == json::accept(body),
                   std::string("json_check ") + (checked.ok() ? "accepts" : "refuses") + " what nlohmann " +
                       (checked.ok() ? "refuses" : "accepts"));
    }

    const auto single = webhookd::parse_event(body, std::nullopt, now);
    const auto keyed = webhookd::parse_event(body, "idem-key_1", now);
    if (single) {
        const json source = json::parse(body);
        FUZZ_CHECK(!has_duplicate_at(body, 1), "an event object with a repeated key was accepted");
        check_event(*single, source);
        FUZZ_CHECK(keyed.ok() || source.contains("id"), "accepted without a key, refused with one");
    }
    if (keyed) {
        FUZZ_CHECK(single.ok(), "accepted with an Idempotency-Key, refused without");
        FUZZ_CHECK(keyed->id == "idem-key_1", "the Idempotency-Key is not the id");
    }

    const auto batch = webhookd::parse_batch(body, 1000, now);
    if (batch) {
        const json source = json::parse(body);
        FUZZ_CHECK(!has_duplicate_at(body, 1) && !has_duplicate_at(body, 3),
                   "a batch body or item with a repeated key was accepted");
        const json& items = source["events"];
        FUZZ_CHECK(items.size() == batch->size() && !batch->empty() && batch->size() <= 1000, "batch size");
        for (std::size_t i = 0; i < batch->size(); ++i) check_event((*batch)[i], items[i]);
    }
    return 0;
}
