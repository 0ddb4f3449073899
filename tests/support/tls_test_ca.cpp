#include "support/tls_test_ca.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <stdexcept>

namespace webhookd::test {

namespace {

using pkey_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using x509_ptr = std::unique_ptr<X509, decltype(&X509_free)>;

constexpr long one_day = 24 * 60 * 60;
constexpr const char* localhost_names = "DNS:localhost,IP:127.0.0.1";

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error("test PKI: " + what + " failed"); }

pkey_ptr new_key() {
    pkey_ptr key(EVP_EC_gen("P-256"), EVP_PKEY_free);
    if (!key) fail("EVP_EC_gen");
    return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext) fail(std::string("extension ") + value);
    const int added = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    if (added != 1) fail("X509_add_ext");
}

struct cert_spec {
    std::string common_name;
    bool ca = false;
    const char* subject_alt_names = nullptr;  // for a leaf
    long not_before = -one_day;               // seconds from now
    long not_after = 30 * one_day;
    long serial = 1;
};

// Signs a certificate for key's public half. issuer/issuer_key null = self-signed.
x509_ptr make_cert(const cert_spec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
    x509_ptr cert(X509_new(), X509_free);
    if (!cert) fail("X509_new");
    X509* x = cert.get();
    if (X509_set_version(x, 2) != 1) fail("X509_set_version");
    ASN1_INTEGER_set(X509_get_serialNumber(x), spec.serial);
    X509_gmtime_adj(X509_getm_notBefore(x), spec.not_before);
    X509_gmtime_adj(X509_getm_notAfter(x), spec.not_after);
    if (X509_set_pubkey(x, key) != 1) fail("X509_set_pubkey");

    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("webhookd tests"), -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1, 0);
    X509* signer = issuer ? issuer : x;
    if (X509_set_issuer_name(x, X509_get_subject_name(signer)) != 1) fail("X509_set_issuer_name");

    add_extension(x, signer, NID_subject_key_identifier, "hash");
    add_extension(x, signer, NID_authority_key_identifier, "keyid:always");
    if (spec.ca) {
        add_extension(x, signer, NID_basic_constraints, "critical,CA:TRUE");
        add_extension(x, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_extension(x, signer, NID_basic_constraints, "critical,CA:FALSE");
        add_extension(x, signer, NID_key_usage, "critical,digitalSignature");
        add_extension(x, signer, NID_ext_key_usage, "serverAuth");
        add_extension(x, signer, NID_subject_alt_name, spec.subject_alt_names);
    }
    if (X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) == 0) fail("X509_sign");
    return cert;
}

void write_cert(const std::string& path, X509* cert) {
    std::unique_ptr<FILE, decltype(&std::fclose)> f(std::fopen(path.c_str(), "w"), std::fclose);
    if (!f || PEM_write_X509(f.get(), cert) != 1) fail("writing " + path);
}

void write_key(const std::string& path, EVP_PKEY* key) {
    std::unique_ptr<FILE, decltype(&std::fclose)> f(std::fopen(path.c_str(), "w"), std::fclose);
    if (!f || PEM_write_PrivateKey(f.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        fail("writing " + path);
    }
}

tls_leaf_files write_leaf(const std::filesystem::path& dir, const std::string& name, X509* cert, EVP_PKEY* key) {
    tls_leaf_files files{(dir / (name + ".crt")).string(), (dir / (name + ".key")).string()};
    write_cert(files.cert, cert);
    write_key(files.key, key);
    return files;
}

}  // namespace

tls_test_files make_tls_test_files(const std::filesystem::path& dir) {
    tls_test_files out;
    pkey_ptr ca_key = new_key();
    x509_ptr ca = make_cert({"webhookd test CA", true, nullptr, -one_day, 30 * one_day, 1}, ca_key.get(), nullptr,
                            nullptr);
    out.ca_cert = (dir / "ca.crt").string();
    write_cert(out.ca_cert, ca.get());

    pkey_ptr leaf_key = new_key();
    x509_ptr valid = make_cert({"localhost", false, localhost_names, -one_day, 30 * one_day, 2}, leaf_key.get(),
                               ca.get(), ca_key.get());
    out.valid = write_leaf(dir, "valid", valid.get(), leaf_key.get());

    x509_ptr expired = make_cert({"localhost", false, localhost_names, -2 * one_day, -one_day, 3}, leaf_key.get(),
                                 ca.get(), ca_key.get());
    out.expired = write_leaf(dir, "expired", expired.get(), leaf_key.get());

    x509_ptr self_signed =
        make_cert({"localhost", false, localhost_names, -one_day, 30 * one_day, 4}, leaf_key.get(), nullptr, nullptr);
    out.self_signed = write_leaf(dir, "self_signed", self_signed.get(), leaf_key.get());

    x509_ptr wrong = make_cert({"wrong.example", false, "DNS:wrong.example", -one_day, 30 * one_day, 5},
                               leaf_key.get(), ca.get(), ca_key.get());
    out.wrong_host = write_leaf(dir, "wrong_host", wrong.get(), leaf_key.get());
    return out;
}

}  // namespace webhookd::test
