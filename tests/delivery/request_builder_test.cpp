// The request an endpoint receives: its custom headers, never ours replaced.

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "delivery/request_builder.hpp"

namespace webhookd {
namespace {

endpoint_record endpoint_with_headers(std::string headers_json) {
    endpoint_record ep;
    ep.id = "ep_1";
    ep.url = "http://127.0.0.1:9/hook";
    ep.body_mode = "envelope";
    ep.signature_format = "hex";
    ep.signature_header = "X-Webhook-Signature";
    ep.headers_json = std::move(headers_json);
    ep.secrets = {"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"};
    ep.secret_expires_ms = {std::nullopt};
    return ep;
}

claimed_delivery delivery() {
    claimed_delivery d;
    d.id = 7;
    d.endpoint_id = "ep_1";
    d.event_id = "evt_1";
    d.event_type = "booking.created";
    d.attempt = 1;
    d.envelope = R"({"id":"evt_1","data":{}})";
    d.data_offset = 19;
    return d;
}

std::vector<std::string> names_of(const delivery_request& r) {
    std::vector<std::string> out;
    for (const auto& [name, value] : r.headers) out.push_back(name);
    return out;
}

TEST(build_request, custom_headers_come_first_once_per_name_and_never_replace_ours) {
    auto r = build_request(endpoint_with_headers(R"({"X-Env":"a","Host":"evil","x-env":"b","X-Other":"1",)"
                                                 R"("x-webhook-signature":"forged","N":2})"),
                           delivery(), 1700000000);
    auto names = names_of(r);
    ASSERT_GE(names.size(), 2u);
    EXPECT_EQ(names[0], "X-Env");  // names differing in case only are one field, the last value
    EXPECT_EQ(r.headers[0].second, "b");
    EXPECT_EQ(names[1], "X-Other");
    EXPECT_EQ(std::count(names.begin(), names.end(), "Host"), 0);
    EXPECT_EQ(std::count(names.begin(), names.end(), "N"), 0);  // not a string
    EXPECT_EQ(std::count(names.begin(), names.end(), "x-webhook-signature"), 0);
    auto sig = std::find_if(r.headers.begin(), r.headers.end(),
                            [](const auto& h) { return h.first == "X-Webhook-Signature"; });
    ASSERT_NE(sig, r.headers.end());
    EXPECT_NE(sig->second, "forged");
}

TEST(build_request, no_custom_headers_sends_ours_alone) {
    for (const char* none : {"{}", "", "[1]", "not json"}) {
        auto r = build_request(endpoint_with_headers(none), delivery(), 1700000000);
        ASSERT_FALSE(r.headers.empty()) << none;
        EXPECT_EQ(r.headers.front().first, "Content-Type") << none;
        EXPECT_EQ(r.headers.size(), 9u) << none;
    }
}

}  // namespace
}  // namespace webhookd
