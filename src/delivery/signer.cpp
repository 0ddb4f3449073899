#include "delivery/signer.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <array>
#include <climits>
#include <cstdint>
#include <stdexcept>

namespace webhookd {

namespace {

constexpr std::string_view secret_prefix = "whsec_";
constexpr std::size_t secret_bytes = 24;
constexpr std::size_t min_secret_bytes = 24;
constexpr std::size_t max_secret_bytes = 64;
constexpr std::size_t sha256_bytes = 32;

// OpenSSL wants non-null pointers even for empty inputs; string_view::data() may be null.
const unsigned char* bytes_of(std::string_view s) {
    static constexpr unsigned char empty = 0;
    return s.empty() ? &empty : reinterpret_cast<const unsigned char*>(s.data());
}

}  // namespace

std::string hmac_sha256(std::string_view key, std::string_view message) { return hmac_sha256(key, {message}); }

std::string hmac_sha256(std::string_view key, std::initializer_list<std::string_view> parts) {
    // HMAC contexts per thread, their digest set once: HMAC() would look the MAC and
    // SHA-256 up in OpenSSL's provider tables on every call (half of a signature's cost).
    // Each keeps its last key's padded states, so the same key again skips hashing them
    // anew. Two of them: a delivery signs with the secret as text (its own header) and
    // decoded (Standard Webhooks' header), and the next delivery to that endpoint again.
    struct context {
        EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
        EVP_MAC_CTX* ctx = mac ? EVP_MAC_CTX_new(mac) : nullptr;
        bool digest_set = false;
        bool keyed = false;
        std::string key;  // the key ctx holds, wiped when replaced
        std::uint64_t used = 0;
        void forget_key() {
            OPENSSL_cleanse(key.data(), key.size());
            key.clear();
            keyed = false;
        }
        ~context() {
            forget_key();
            EVP_MAC_CTX_free(ctx);
            EVP_MAC_free(mac);
        }
    };
    thread_local std::array<context, 2> contexts;
    thread_local std::uint64_t calls = 0;
    if (key.size() > static_cast<std::size_t>(INT_MAX)) throw std::runtime_error("hmac_sha256: key too long");
    auto* c = &contexts[0];
    if (!(c->keyed && c->key == key)) {
        auto& other = contexts[1];
        if ((other.keyed && other.key == key) || other.used < c->used) c = &other;
    }
    if (!c->ctx) throw std::runtime_error("hmac_sha256: OpenSSL has no HMAC");
    c->used = ++calls;
    bool ok;
    if (c->keyed && c->key == key) {
        // A null key means "the key of the previous init": its padded states are copied.
        ok = EVP_MAC_init(c->ctx, nullptr, 0, nullptr) == 1;
    } else {
        c->forget_key();
        char digest[] = "SHA256";
        const OSSL_PARAM with_digest[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                                          OSSL_PARAM_construct_end()};
        // An empty key is passed as a real pointer (null would mean the previous key).
        ok = EVP_MAC_init(c->ctx, bytes_of(key), key.size(), c->digest_set ? nullptr : with_digest) == 1;
        c->digest_set = c->digest_set || ok;
        if (ok) {
            c->key.assign(key);
            c->keyed = true;
        }
    }
    for (auto part : parts) ok = ok && EVP_MAC_update(c->ctx, bytes_of(part), part.size()) == 1;
    std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
    std::size_t md_len = 0;
    if (!ok || EVP_MAC_final(c->ctx, md.data(), &md_len, md.size()) != 1 || md_len != sha256_bytes) {
        c->forget_key();
        throw std::runtime_error("hmac_sha256: HMAC failed");
    }
    return std::string(reinterpret_cast<const char*>(md.data()), md_len);
}

std::string to_hex(std::string_view bytes) {
    static constexpr std::string_view digits = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (char c : bytes) {
        auto b = static_cast<unsigned char>(c);
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 0x0f]);
    }
    return out;
}


bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<signature_format> parse_signature_format(std::string_view text) {
    if (text == "hex") return signature_format::hex;
    if (text == "sha256") return signature_format::sha256;
    if (text == "stripe") return signature_format::stripe;
    return std::nullopt;
}

std::string_view to_string(signature_format f) {
    switch (f) {
        case signature_format::hex:
            return "hex";
        case signature_format::sha256:
            return "sha256";
        case signature_format::stripe:
            return "stripe";
    }
    return "hex";  // unreachable for valid enumerators
}

std::string signature_header_value(signature_format f, std::string_view secret, std::string_view body,
                                   std::int64_t timestamp) {
    const std::string one[] = {std::string(secret)};
    return signature_header_value(f, std::span<const std::string>(one), body, timestamp);
}

std::string signature_header_value(signature_format f, std::span<const std::string> secrets, std::string_view body,
                                   std::int64_t timestamp) {
    if (secrets.empty()) throw std::invalid_argument("signature_header_value: no secret");
    switch (f) {
        case signature_format::hex:
            return to_hex(hmac_sha256(secrets.front(), body));
        case signature_format::sha256:
            return "sha256=" + to_hex(hmac_sha256(secrets.front(), body));
        case signature_format::stripe: {
            const std::string ts = std::to_string(timestamp);
            std::string out = "t=" + ts;
            for (const auto& secret : secrets) out += ",v1=" + to_hex(hmac_sha256(secret, {ts, ".", body}));
            return out;
        }
    }
    throw std::invalid_argument("signature_header_value: unknown signature_format");
}

std::optional<std::string> standard_webhooks_key(std::string_view secret) {
    if (!secret.starts_with(secret_prefix)) return std::nullopt;
    auto key = base64_decode(secret.substr(secret_prefix.size()));
    if (!key || key->empty()) return std::nullopt;
    return key;
}

std::string standard_webhooks_signature(std::string_view key, std::string_view msg_id, std::int64_t timestamp,
                                        std::string_view body) {
    const std::string ts = std::to_string(timestamp);
    return "v1," + base64_encode(hmac_sha256(key, {msg_id, ".", ts, ".", body}));
}

std::string standard_webhooks_header(std::span<const std::string> secrets, std::string_view msg_id,
                                     std::int64_t timestamp, std::string_view body) {
    std::string out;
    for (const auto& secret : secrets) {
        auto key = standard_webhooks_key(secret);
        if (!key) continue;
        if (!out.empty()) out.push_back(' ');
        out.append(standard_webhooks_signature(*key, msg_id, timestamp, body));
    }
    return out;
}

std::string generate_secret() {
    std::array<unsigned char, secret_bytes> raw{};
    if (RAND_bytes(raw.data(), static_cast<int>(raw.size())) != 1) {
        throw std::runtime_error("generate_secret: RAND_bytes failed");
    }
    std::string secret(secret_prefix);
    secret.append(base64_encode(std::string_view(reinterpret_cast<const char*>(raw.data()), raw.size())));
    OPENSSL_cleanse(raw.data(), raw.size());
    return secret;
}

bool is_valid_secret(std::string_view secret) {
    if (!secret.starts_with(secret_prefix)) return false;
    auto key = base64_decode(secret.substr(secret_prefix.size()));
    return key && key->size() >= min_secret_bytes && key->size() <= max_secret_bytes;
}

std::string mask_secret(std::string_view secret) {
    if (!is_valid_secret(secret)) return "****";
    std::string out(secret_prefix);
    out.append(secret.substr(secret_prefix.size(), 4)).append("...");
    return out;
}

}  // namespace webhookd
