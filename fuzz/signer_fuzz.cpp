// Feeds any secrets, message id, event type, timestamp, custom headers and body to the
// signature builders (src/delivery/signer.cpp) and to build_request
// (src/delivery/request_builder.cpp), with endpoint settings that passed the admin API's
// own validation (parse_endpoint_settings), as the dispatcher sees them. Invariants:
// - hex, sha256= and Stripe signatures equal an independent one-shot OpenSSL HMAC();
// - webhook-signature holds one "v1,<base64>" per decodable secret, in order, each equal to
//   base64 (EVP_EncodeBlock) of an independent HMAC of "<id>.<timestamp>.<body>";
// - base64 round-trips both ways (one accepted encoding per byte string);
// - constant_time_equal is equality;
// - every request header name is a token and no value holds CR, LF or NUL; webhookd's
//   own headers appear exactly once each, with the event's id and the signature computed
//   over the body actually sent.

#include <fuzzer/FuzzedDataProvider.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "admin/admin_input.hpp"
#include "delivery/request_builder.hpp"
#include "delivery/signer.hpp"
#include "fuzz_check.hpp"
#include "ingest/event_validator.hpp"
#include "util/ids.hpp"

namespace {

using namespace webhookd;

std::string openssl_hmac(std::string_view key, std::string_view message) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    const unsigned char empty = 0;
    const auto* msg = message.empty() ? &empty : reinterpret_cast<const unsigned char*>(message.data());
    FUZZ_CHECK(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), msg, message.size(), md, &len),
               "OpenSSL HMAC() failed");
    return std::string(reinterpret_cast<const char*>(md), len);
}

std::string openssl_base64(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

void check_primitives(const std::vector<std::string>& secrets, std::string_view id, std::int64_t ts,
                      std::string_view body) {
    const std::string& secret = secrets.front();
    const std::string tss = std::to_string(ts);
    const std::string hex = to_hex(openssl_hmac(secret, body));
    FUZZ_CHECK(signature_header_value(signature_format::hex, secret, body, ts) == hex, "hex signature");
    FUZZ_CHECK(signature_header_value(signature_format::sha256, secret, body, ts) == "sha256=" + hex,
               "sha256= signature");
    FUZZ_CHECK(signature_header_value(signature_format::stripe, secret, body, ts) ==
                   "t=" + tss + ",v1=" + to_hex(openssl_hmac(secret, tss + "." + std::string(body))),
               "Stripe signature");

    std::string expected;
    for (const auto& s : secrets) {
        const auto key = standard_webhooks_key(s);
        if (!key) continue;
        FUZZ_CHECK(openssl_base64(*key) == s.substr(6), "secret key part is not the canonical base64 of its key");
        if (!expected.empty()) expected += ' ';
        expected += "v1," + openssl_base64(openssl_hmac(*key, std::string(id) + "." + tss + "." + std::string(body)));
    }
    FUZZ_CHECK(standard_webhooks_header(secrets, id, ts, body) == expected, "webhook-signature");

    FUZZ_CHECK(base64_encode(body) == openssl_base64(body), "base64_encode differs from EVP_EncodeBlock");
    FUZZ_CHECK(base64_decode(base64_encode(body)) == std::string(body), "base64 does not round-trip");
    if (const auto decoded = base64_decode(body)) {
        FUZZ_CHECK(base64_encode(*decoded) == body, "base64_decode accepted a non-canonical encoding");
    }
    FUZZ_CHECK(constant_time_equal(secret, body) == (secret == body), "constant_time_equal");
}

// Custom headers and signature settings as an admin API body would give them; nullopt when
// parse_endpoint_settings refuses them (the endpoint could not exist).
std::optional<endpoint_settings> settings_from(FuzzedDataProvider& in) {
    nlohmann::json body = nlohmann::json::object();
    nlohmann::json headers = nlohmann::json::object();
    for (int n = in.ConsumeIntegralInRange(0, 3); n > 0; --n) {
        std::string name = in.ConsumeRandomLengthString(40);
        headers[name] = in.ConsumeRandomLengthString(200);
    }
    body["headers"] = headers;
    body["signature"] = {{"format", in.PickValueInArray({"hex", "sha256", "stripe"})},
                         {"header", in.ConsumeBool() ? std::string("X-Webhook-Signature")
                                                     : in.ConsumeRandomLengthString(40)}};
    body["body"] = in.ConsumeBool() ? "envelope" : "data";
    // The API parses text: invalid UTF-8 would be refused as invalid_json there.
    auto parsed = admin::parse_object(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), false);
    if (!parsed) return std::nullopt;
    auto s = admin::parse_endpoint_settings(*parsed, false, nullptr);
    if (!s) return std::nullopt;
    return std::move(s).value();
}

void check_request(const endpoint_record& ep, const claimed_delivery& d, std::int64_t ts) {
    const delivery_request req = build_request(ep, d, ts);
    const std::string sent_body =
        ep.body_mode == "data" ? d.envelope.substr(d.data_offset, d.envelope.size() - d.data_offset - 1) : d.envelope;
    FUZZ_CHECK(req.body == sent_body, "request body");
    for (const auto& [name, value] : req.headers) {
        FUZZ_CHECK(!name.empty() && std::all_of(name.begin(), name.end(),
                                                [](unsigned char c) { return c > 0x20 && c < 0x7f && c != ':'; }),
                   "header name \"" + name + "\" is not a token");
        FUZZ_CHECK(value.find_first_of(std::string("\r\n\0", 3)) == std::string::npos,
                   "header " + name + " has CR, LF or NUL in its value");
    }
    auto only = [&](std::string_view name) -> const std::string& {
        const std::string* found = nullptr;
        for (const auto& [n, v] : req.headers) {
            if (!iequals(n, name)) continue;
            FUZZ_CHECK(found == nullptr, "header " + std::string(name) + " appears twice");
            found = &v;
        }
        FUZZ_CHECK(found != nullptr, "header " + std::string(name) + " is missing");
        return *found;
    };
    FUZZ_CHECK(only("X-Webhook-Id") == d.event_id && only("webhook-id") == d.event_id, "event id headers");
    FUZZ_CHECK(only("X-Webhook-Event") == d.event_type, "X-Webhook-Event");
    FUZZ_CHECK(only("webhook-timestamp") == std::to_string(ts) && only("X-Webhook-Timestamp") == std::to_string(ts),
               "timestamp headers");
    only("Content-Type");
    only("X-Webhook-Attempt");
    const auto format = parse_signature_format(ep.signature_format).value_or(signature_format::hex);
    FUZZ_CHECK(only(ep.signature_header) == signature_header_value(format, ep.secrets.front(), req.body, ts),
               "signature header");
    FUZZ_CHECK(only("webhook-signature") == standard_webhooks_header(ep.secrets, d.event_id, ts, req.body),
               "webhook-signature");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    std::vector<std::string> secrets{in.ConsumeRandomLengthString(100)};
    if (in.ConsumeBool()) secrets.push_back(in.ConsumeRandomLengthString(100));
    std::string id = in.ConsumeRandomLengthString(64);
    std::string type = in.ConsumeRandomLengthString(64);
    const std::int64_t ts = in.ConsumeIntegral<std::int64_t>();
    const auto settings = settings_from(in);
    const std::string body = in.ConsumeRemainingBytesAsString();

    check_primitives(secrets, id, ts, body);

    // The store holds only what ingest and the admin API accepted.
    if (!is_valid_token(id, max_event_id_length)) id = "evt_1";
    if (!is_valid_token(type, max_event_type_length)) type = "booking.created";
    endpoint_record ep;
    ep.id = "ep_1";
    ep.url = "https://receiver.example.com/hooks";
    ep.body_mode = settings && settings->body_mode ? *settings->body_mode : "envelope";
    ep.signature_format = settings && settings->signature_format ? *settings->signature_format : "hex";
    ep.signature_header = settings && settings->signature_header ? *settings->signature_header : "X-Webhook-Signature";
    ep.headers_json = settings && settings->headers_json ? *settings->headers_json : "{}";
    for (const auto& s : secrets) {
        if (is_valid_secret(s)) ep.secrets.push_back(s);
    }
    if (ep.secrets.empty()) ep.secrets.push_back("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");

    claimed_delivery d;
    d.id = 1;
    d.endpoint_id = ep.id;
    d.event_id = id;
    d.event_type = type;
    d.attempt = 1;
    const new_event e = build_envelope(id, type, "2025-04-19T14:30:00Z", body);
    d.envelope = e.body;
    d.data_offset = e.data_offset;
    check_request(ep, d, ts);
    return 0;
}
