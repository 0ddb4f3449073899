#pragma once
// A throwaway certificate authority and leaf certificates, made at run time with the
// OpenSSL C API (EC P-256 keys, SHA-256 signatures) and written as PEM files, so that TLS
// tests need no checked-in keys and never meet an expired fixture.

#include <filesystem>
#include <string>

namespace webhookd::test {

struct tls_leaf_files {
    std::string cert;  // PEM certificate
    std::string key;   // PEM private key
};

struct tls_test_files {
    std::string ca_cert;         // the CA's certificate: what a client trusts
    tls_leaf_files valid;        // CA-signed, DNS:localhost and IP:127.0.0.1, valid now
    tls_leaf_files expired;      // CA-signed, same names, expired a day ago
    tls_leaf_files self_signed;  // same names, signed by its own key
    tls_leaf_files wrong_host;   // CA-signed, valid now, for DNS:wrong.example only
};

// Generates the CA and the four leaves into dir (which must exist). Throws
// std::runtime_error naming the OpenSSL call that failed.
tls_test_files make_tls_test_files(const std::filesystem::path& dir);

}  // namespace webhookd::test
