#pragma once
// Endpoint secrets at rest: AES-256-GCM (OpenSSL EVP) under the key of
// storage.secret_key_file. A sealed secret is text, so it fits the TEXT column that held
// the clear one:
//
//   "enc:v1:" + base64(nonce (12 random bytes) || ciphertext || tag (16 bytes))
//
// The associated data (the endpoint's id, in the store) is authenticated but not stored:
// a sealed secret copied into another endpoint's row does not open there. See decision 44
// in docs/decisions.md.

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include "webhookd/result.hpp"

namespace webhookd {

inline constexpr std::size_t secret_key_size = 32;
using secret_key = std::array<unsigned char, secret_key_size>;

// The prefix of every sealed value, whatever its version; clear secrets start with "whsec_".
inline constexpr std::string_view sealed_prefix = "enc:";

class secret_box {
public:
    explicit secret_box(const secret_key& key) : key_(key) {}
    ~secret_box();  // wipes the key
    secret_box(const secret_box&) = delete;
    secret_box& operator=(const secret_box&) = delete;

    // Encrypts `plaintext` with a fresh random nonce, authenticating `aad` with it. Two
    // calls with the same input give different texts. Error "crypto_error" only when
    // OpenSSL fails (no randomness).
    result<std::string> seal(std::string_view plaintext, std::string_view aad) const;

    // The plaintext of seal()'s text. Error "secret_undecryptable" when the text is not
    // "enc:v1:" + base64 of at least nonce and tag, or when the tag does not verify: another
    // key, another aad, or a changed byte. The message never contains the text.
    result<std::string> open(std::string_view sealed, std::string_view aad) const;

    // True for a value written by seal() (of any version); false for a clear secret.
    static bool is_sealed(std::string_view stored) { return stored.starts_with(sealed_prefix); }

private:
    secret_key key_;
};

// The key in a key file's contents, which must be one of:
//   - exactly 32 bytes (raw: head -c 32 /dev/urandom),
//   - 64 hexadecimal digits (openssl rand -hex 32),
//   - the base64 of 32 bytes, 44 characters with padding (openssl rand -base64 32);
// the two text forms may end in whitespace (a newline). Refused too: 32 bytes that are all
// printable text (a passphrase, not a key) and 32 equal bytes (head -c 32 /dev/zero). Errors ("invalid_config") say what was expected
// and never quote the contents.
result<secret_key> parse_secret_key(std::string_view contents);

// Reads and parses the key file at `path`. Refuses ("invalid_config", naming the path) a
// file that cannot be read, that is not a regular file, or that its group or others may
// access (any bit of mode 077: chmod 600 it).
result<secret_key> load_secret_key(const std::string& path);

}  // namespace webhookd
