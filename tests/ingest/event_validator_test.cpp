#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "ingest/event_validator.hpp"

namespace webhookd {
namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::system_clock;

// 2025-04-19T14:30:00Z
const clock_type::time_point now = clock_type::time_point{1745073000s};

std::string data_of(const new_event& e) { return e.body.substr(e.data_offset, e.body.size() - e.data_offset - 1); }

template <class T>
void expect_error(const result<T>& r, const std::string& code, const std::string& in_message) {
    ASSERT_FALSE(r.ok()) << "expected " << code << " mentioning " << in_message;
    EXPECT_EQ(to_string(r.err().code), code);
    EXPECT_NE(r.err().message.find(in_message), std::string::npos) << r.err().message;
}

result<new_event> parse(const std::string& body, std::optional<std::string_view> key = std::nullopt) {
    return parse_event(body, key, now);
}

// A body whose nesting is `levels` containers deep, counting the body object itself.
std::string nested_body(std::size_t levels, const std::string& innermost) {
    std::size_t arrays = levels - 1;
    return R"({"event":"a","data":)" + std::string(arrays, '[') + innermost + std::string(arrays, ']') + "}";
}

TEST(build_envelope, writes_compact_envelope_in_fixed_order) {
    auto e = build_envelope("evt_1", "booking.created", "2025-04-19T14:30:00Z", R"({"id":"bkg_1"})");
    EXPECT_EQ(e.body,
              R"({"id":"evt_1","timestamp":"2025-04-19T14:30:00Z","event":"booking.created","data":{"id":"bkg_1"}})");
    EXPECT_EQ(data_of(e), R"({"id":"bkg_1"})");
    EXPECT_EQ(e.id, "evt_1");
    EXPECT_EQ(e.type, "booking.created");
    EXPECT_EQ(e.timestamp, "2025-04-19T14:30:00Z");
}

TEST(build_envelope, data_offset_delimits_scalar_data) {
    auto e = build_envelope("evt_1", "a", "2025-04-19T14:30:00Z", "null");
    EXPECT_EQ(data_of(e), "null");
    EXPECT_EQ(e.body.substr(e.data_offset - 7, 7), R"("data":)");
}

TEST(parse_event, builds_envelope_and_keeps_producer_key_order_in_data) {
    auto r = parse(R"({"data": {"b": 1, "a": 2}, "event": "booking.created", "id": "evt_1",
                       "timestamp": "2025-04-19T16:30:00+02:00"})");
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(r->body,
              R"({"id":"evt_1","timestamp":"2025-04-19T16:30:00+02:00","event":"booking.created","data":{"b":1,"a":2}})");
    EXPECT_EQ(data_of(*r), R"({"b":1,"a":2})");
}

TEST(parse_event, accepts_null_and_scalar_data) {
    auto r = parse(R"({"event":"a","data":null})");
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(data_of(*r), "null");
    auto s = parse(R"({"event":"a","data":"text"})");
    ASSERT_TRUE(s.ok()) << s.err().message;
    EXPECT_EQ(data_of(*s), R"("text")");
}

TEST(parse_event, generates_distinct_evt_ids) {
    auto a = parse(R"({"event":"a","data":{}})");
    auto b = parse(R"({"event":"a","data":{}})");
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->id.substr(0, 4), "evt_");
    EXPECT_EQ(a->id.size(), 4u + 26u);
    EXPECT_NE(a->id, b->id);
}

TEST(parse_event, default_timestamp_is_the_injected_now) {
    auto r = parse(R"({"event":"a","data":{}})");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->timestamp, "2025-04-19T14:30:00Z");
    EXPECT_NE(r->body.find(R"("timestamp":"2025-04-19T14:30:00Z")"), std::string::npos);
}

TEST(parse_event, event_is_required_and_checked) {
    expect_error(parse(R"({"data":{}})"), "invalid_field", "\"event\"");
    expect_error(parse(R"({"event":"","data":{}})"), "invalid_field", "\"event\"");
    expect_error(parse(R"({"event":"booking created","data":{}})"), "invalid_field", "\"event\"");
    expect_error(parse(R"({"event":"booking/created","data":{}})"), "invalid_field", "\"event\"");
    expect_error(parse(R"({"event":42,"data":{}})"), "invalid_field", "\"event\"");
}

TEST(parse_event, event_is_at_most_128_characters) {
    EXPECT_TRUE(parse(R"({"event":")" + std::string(128, 'e') + R"(","data":{}})").ok());
    expect_error(parse(R"({"event":")" + std::string(129, 'e') + R"(","data":{}})"), "invalid_field", "\"event\"");
}

TEST(parse_event, data_is_required) {
    expect_error(parse(R"({"event":"a"})"), "invalid_field", "\"data\"");
}

TEST(parse_event, id_is_checked) {
    expect_error(parse(R"({"event":"a","data":{},"id":""})"), "invalid_field", "\"id\"");
    expect_error(parse(R"({"event":"a","data":{},"id":"evt 1"})"), "invalid_field", "\"id\"");
    expect_error(parse(R"({"event":"a","data":{},"id":7})"), "invalid_field", "\"id\"");
    auto max = parse(R"({"event":"a","data":{},"id":")" + std::string(255, 'i') + R"("})");
    ASSERT_TRUE(max.ok());
    EXPECT_EQ(max->id, std::string(255, 'i'));
    expect_error(parse(R"({"event":"a","data":{},"id":")" + std::string(256, 'i') + R"("})"), "invalid_field",
                 "\"id\"");
}

TEST(parse_event, timestamp_must_be_rfc3339) {
    expect_error(parse(R"({"event":"a","data":{},"timestamp":"yesterday"})"), "invalid_field", "\"timestamp\"");
    expect_error(parse(R"({"event":"a","data":{},"timestamp":"2025-02-29T00:00:00Z"})"), "invalid_field",
                 "\"timestamp\"");
    expect_error(parse(R"({"event":"a","data":{},"timestamp":1745073000})"), "invalid_field", "\"timestamp\"");
}

TEST(parse_event, rejects_unknown_fields) {
    expect_error(parse(R"({"event":"a","data":{},"type":"b"})"), "invalid_field", "\"type\"");
}

TEST(parse_event, body_must_be_an_object) {
    expect_error(parse(R"(["event","a"])"), "invalid_field", "the body");
    expect_error(parse(R"("event")"), "invalid_field", "the body");
}

TEST(parse_event, unparseable_bodies_are_invalid_json) {
    expect_error(parse(""), "invalid_json", "empty");
    expect_error(parse(R"({"event":"a","data":{)"), "invalid_json", "not valid JSON");
    expect_error(parse(R"({"event":"a","data":"caf\xC3"})"), "invalid_json", "not valid JSON");
    expect_error(parse("{\"event\":\"a\",\"data\":\"\xFF\"}"), "invalid_json", "not valid JSON");
    expect_error(parse(R"({"event":"a","data":{}} x)"), "invalid_json", "not valid JSON");
}

TEST(parse_event, nesting_up_to_max_json_depth_is_accepted) {
    EXPECT_TRUE(parse(nested_body(max_json_depth, "")).ok());
    EXPECT_TRUE(parse(nested_body(max_json_depth, "1")).ok());
    EXPECT_TRUE(parse(nested_body(max_json_depth - 1, R"({"x":1})")).ok());
}

TEST(parse_event, nesting_deeper_than_max_json_depth_is_invalid_json) {
    expect_error(parse(nested_body(max_json_depth + 1, "")), "invalid_json", "nesting");
    expect_error(parse(nested_body(max_json_depth + 1, "1")), "invalid_json", "nesting");
    expect_error(parse(nested_body(max_json_depth, "{}")), "invalid_json", "nesting");
    expect_error(parse(nested_body(100'000, "")), "invalid_json", "nesting");
}

TEST(parse_event, idempotency_key_gives_the_id) {
    auto r = parse(R"({"event":"a","data":{}})", "order-42");
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(r->id, "order-42");
    EXPECT_EQ(r->body.substr(0, 18), R"({"id":"order-42",")");
}

TEST(parse_event, idempotency_key_equal_to_id_is_accepted) {
    auto r = parse(R"({"event":"a","data":{},"id":"order-42"})", "order-42");
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(r->id, "order-42");
}

TEST(parse_event, idempotency_key_differing_from_id_is_rejected) {
    expect_error(parse(R"({"event":"a","data":{},"id":"order-42"})", "order-43"), "invalid_field", "\"id\"");
}

TEST(parse_event, invalid_idempotency_key_is_rejected) {
    expect_error(parse(R"({"event":"a","data":{}})", ""), "invalid_field", "Idempotency-Key");
    expect_error(parse(R"({"event":"a","data":{}})", "order 42"), "invalid_field", "Idempotency-Key");
    expect_error(parse(R"({"event":"a","data":{}})", std::string(256, 'k')), "invalid_field", "Idempotency-Key");
}

TEST(parse_batch, parses_events_in_order) {
    auto r = parse_batch(R"({"events":[{"event":"a","data":1},{"event":"b","data":2,"id":"x"},
                                       {"event":"c","data":3}]})",
                         10, now);
    ASSERT_TRUE(r.ok()) << r.err().message;
    ASSERT_EQ(r->size(), 3u);
    EXPECT_EQ((*r)[0].type, "a");
    EXPECT_EQ((*r)[1].type, "b");
    EXPECT_EQ((*r)[1].id, "x");
    EXPECT_EQ((*r)[2].type, "c");
    EXPECT_EQ(data_of((*r)[2]), "3");
    EXPECT_NE((*r)[0].id, (*r)[2].id);
}

TEST(parse_batch, accepts_exactly_max_events) {
    auto r = parse_batch(R"({"events":[{"event":"a","data":1},{"event":"b","data":2}]})", 2, now);
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(r->size(), 2u);
}

TEST(parse_batch, rejects_empty_and_oversized_batches) {
    expect_error(parse_batch(R"({"events":[]})", 2, now), "invalid_field", "\"events\"");
    expect_error(parse_batch(R"({"events":[{"event":"a","data":1},{"event":"a","data":1},{"event":"a","data":1}]})",
                             2, now),
                 "invalid_field", "\"events\"");
}

TEST(parse_batch, names_the_bad_item) {
    auto r = parse_batch(R"({"events":[{"event":"a","data":1},{"event":"a b","data":1},{"event":"c","data":1}]})",
                         10, now);
    expect_error(r, "invalid_field", "\"events[1].event\"");
    expect_error(parse_batch(R"({"events":[{"event":"a","data":1},7]})", 10, now), "invalid_field", "events[1]");
    expect_error(parse_batch(R"({"events":[{"event":"a"}]})", 10, now), "invalid_field", "\"events[0].data\"");
}

TEST(parse_batch, rejects_bodies_of_the_wrong_shape) {
    expect_error(parse_batch(R"([{"event":"a","data":1}])", 10, now), "invalid_field", "the body");
    expect_error(parse_batch(R"({"events":{"event":"a","data":1}})", 10, now), "invalid_field", "\"events\"");
    expect_error(parse_batch(R"({})", 10, now), "invalid_field", "\"events\"");
    expect_error(parse_batch(R"({"events":[{"event":"a","data":1}],"mode":"all"})", 10, now), "invalid_field",
                 "\"mode\"");
    expect_error(parse_batch("", 10, now), "invalid_json", "empty");
    expect_error(parse_batch(R"({"events":[)", 10, now), "invalid_json", "not valid JSON");
}

TEST(parse_event, data_travels_as_written_minus_whitespace) {
    auto r = parse_event(R"({"event":"a.b","data": { "price" : 1.10, "big": 123456789012345678901234567890,
        "name": "\u00e9 x", "n": 1E2 }})", std::nullopt, now);
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(r->body.substr(r->data_offset, r->body.size() - r->data_offset - 1),
              R"({"price":1.10,"big":123456789012345678901234567890,"name":"\u00e9 x","n":1E2})");
}

TEST(parse_event, members_spelled_with_escapes_are_the_members_they_spell) {
    auto r = parse_event(R"({"\u0065vent":"a.\u0062","d\u0061ta": {"price" : 1.10},"t\u0065nant":"t\u002d1"})",
                         std::nullopt, now);
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(r->type, "a.b");
    EXPECT_EQ(r->tenant, "t-1");
    EXPECT_EQ(r->body.substr(r->data_offset, r->body.size() - r->data_offset - 1), R"({"price":1.10})");
}

TEST(parse_event, duplicate_top_level_keys_are_invalid_json) {
    expect_error(parse_event(R"({"event":"a","data":1,"data":2})", std::nullopt, now), "invalid_json", "duplicate");
    expect_error(parse_batch(R"({"events":[{"event":"a","event":"b","data":1}]})", 10, now), "invalid_json",
                 "events[0]");
}

TEST(parse_batch, keeps_each_items_data_as_written) {
    auto r = parse_batch(R"({"events":[{"event":"a","data":[1.50, "x"]},{"data":{"k":2.0},"event":"b"}]})", 10, now);
    ASSERT_TRUE(r.ok()) << r.err().message;
    ASSERT_EQ(r->size(), 2u);
    auto data = [](const new_event& e) { return e.body.substr(e.data_offset, e.body.size() - e.data_offset - 1); };
    EXPECT_EQ(data((*r)[0]), R"([1.50,"x"])");
    EXPECT_EQ(data((*r)[1]), R"({"k":2.0})");
}

}  // namespace
}  // namespace webhookd

namespace webhookd {
namespace {

// The parser does not build `data` (it is taken from the text), but still checks all of it.
TEST(parse_batch, data_is_checked_to_the_bottom_though_not_built) {
    auto r = parse_batch(R"({"events":[{"event":"a","data":{"k":[{"deep":[1,{"x":"\u00e9"}]}]}}]})", 10, now);
    ASSERT_TRUE(r.ok()) << r.err().message;
    EXPECT_EQ(data_of((*r)[0]), R"({"k":[{"deep":[1,{"x":"\u00e9"}]}]})");
    expect_error(parse_batch(R"({"events":[{"event":"a","data":{"k":[{"deep":[1,}]}]}}]})", 10, now), "invalid_json",
                 "not valid JSON");
    expect_error(parse_batch("{\"events\":[{\"event\":\"a\",\"data\":{\"k\":[\"\xFF\"]}}]}", 10, now), "invalid_json",
                 "not valid JSON");
    std::string deep = R"({"events":[{"event":"a","data":)" + std::string(max_json_depth, '[') +
                       std::string(max_json_depth, ']') + "}]}";
    expect_error(parse_batch(deep, 10, now), "invalid_json", "nesting");
}

}  // namespace
}  // namespace webhookd
