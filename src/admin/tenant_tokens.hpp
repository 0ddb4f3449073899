#pragma once
// Tenant tokens: "wht_" and 64 hex digits of 32 random bytes. Only their SHA-256 is
// stored (docs/decisions.md: a token of 256 random bits needs no slow hash).

#include <cstddef>
#include <string>
#include <string_view>

namespace webhookd::admin {

inline constexpr std::string_view tenant_token_prefix = "wht_";
inline constexpr std::size_t tenant_token_length = 4 + 64;

// A new token from OpenSSL's RNG. Throws std::runtime_error when the RNG fails.
std::string generate_tenant_token();

// The lowercase hex SHA-256 of a token: what the store keeps and looks up.
std::string hash_tenant_token(std::string_view token);

}  // namespace webhookd::admin
