#pragma once
// Request signing: what an endpoint receives in X-Webhook-Signature (or its configured
// header) and in webhook-signature (Standard Webhooks), plus endpoint secrets.
// docs/api.md (Signatures) describes each format. Every function is pure (no I/O, no clock): the timestamp and the
// message id come in as arguments. Only generate_secret() touches OpenSSL's RNG.
//
// Byte strings (keys, HMAC output, decoded base64) travel in std::string / std::string_view;
// they may contain NUL and any other byte.

#include <cstdint>
#include <optional>
#include <span>
#include <initializer_list>
#include <string>
#include <string_view>

#include "util/base64.hpp"

namespace webhookd {

// ---- Primitives -------------------------------------------------------------------------

// The raw 32-byte HMAC-SHA256 of message under key. Any key length works, including empty.
// Throws std::runtime_error only if OpenSSL itself fails (allocation failure, a key longer
// than INT_MAX bytes).
std::string hmac_sha256(std::string_view key, std::string_view message);

// The same over the concatenation of parts, without building it.
std::string hmac_sha256(std::string_view key, std::initializer_list<std::string_view> parts);

// Lowercase hex of bytes: two characters per byte.
std::string to_hex(std::string_view bytes);


// True when a and b are equal, comparing contents in time that depends only on the length
// (CRYPTO_memcmp). Different lengths return false at once: lengths are not secret here
// (signatures of one format have a fixed length).
bool constant_time_equal(std::string_view a, std::string_view b);

// ---- X-Webhook-Signature ---------------------------------------------------------------

// The per-endpoint format of the single-valued signature header (`signature.format`).
enum class signature_format {
    hex,     // lowercase hex HMAC-SHA256 of the raw body (the default; what booking platforms' documented receivers check)
    sha256,  // "sha256=" + that hex (GitHub's X-Hub-Signature-256)
    stripe,  // "t=<ts>,v1=<hex HMAC of "<ts>.<body>">" (Stripe-Signature)
};

// "hex", "sha256" or "stripe" (exact, case-sensitive) to the format; std::nullopt otherwise.
std::optional<signature_format> parse_signature_format(std::string_view text);

// The config/API spelling of f: the inverse of parse_signature_format.
std::string_view to_string(signature_format f);

// The value of the signature header for one attempt. The HMAC key is the whole secret
// string as bytes ("whsec_" prefix included): exactly what the Node and Python verifiers
// that booking platforms document for their receivers compute (a hex HMAC of the raw body).
// timestamp (Unix seconds of this attempt) is used only by `stripe`, written in decimal. Callers pass the newest secret.
std::string signature_header_value(signature_format f, std::string_view secret, std::string_view body,
                                   std::int64_t timestamp);

// The same with every valid secret, newest first (a rotation's grace period): `stripe`
// carries one v1 per secret, "t=<ts>,v1=<newest>,v1=<older>", as Stripe sends during a
// roll; the single-valued formats use the newest. secrets must not be empty.
std::string signature_header_value(signature_format f, std::span<const std::string> secrets, std::string_view body,
                                   std::int64_t timestamp);

// ---- Standard Webhooks (webhook-id / webhook-timestamp / webhook-signature) -------------

// The HMAC key of a "whsec_<base64>" secret: the base64 decode of the part after the prefix.
// std::nullopt when the prefix is missing, the base64 is not valid (see base64_decode) or
// it decodes to zero bytes.
std::optional<std::string> standard_webhooks_key(std::string_view secret);

// "v1," + base64(HMAC-SHA256(key, "<msg_id>.<timestamp>.<body>")), key being the raw bytes
// from standard_webhooks_key.
std::string standard_webhooks_signature(std::string_view key, std::string_view msg_id, std::int64_t timestamp,
                                        std::string_view body);

// The webhook-signature header value: one standard_webhooks_signature per secret whose key
// decodes, in the order given (newest first during a rotation's grace period), joined by
// single spaces. Secrets that do not decode are skipped; when none decodes the result is
// the empty string, and the caller must treat that as a configuration error.
std::string standard_webhooks_header(std::span<const std::string> secrets, std::string_view msg_id,
                                     std::int64_t timestamp, std::string_view body);

// ---- Secrets -----------------------------------------------------------------------------

// A new endpoint secret: "whsec_" + base64 of 24 bytes from RAND_bytes (38 characters, no
// padding). Throws std::runtime_error when the RNG fails; never returns a weak secret.
std::string generate_secret();

// True for "whsec_" followed by base64 (strict, see base64_decode) of 24 to 64 bytes. This
// is what the admin API accepts as an operator-given secret.
bool is_valid_secret(std::string_view secret);

// A form of secret safe for logs and list responses: for a valid secret, "whsec_" + the
// first 4 characters of its base64 part + "..." (for example "whsec_MfKQ..."), 24 of at
// least 192 key bits; for anything else, "****", revealing nothing (such a string may be
// short, or not a whsec_ secret at all).
std::string mask_secret(std::string_view secret);

}  // namespace webhookd
