#include "store/secret_box.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>

#include "util/base64.hpp"
#include "util/hex.hpp"

namespace webhookd {

namespace {

constexpr std::string_view v1_prefix = "enc:v1:";
constexpr std::size_t nonce_size = 12;  // GCM's natural nonce length
constexpr std::size_t tag_size = 16;

struct ctx_deleter {
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, ctx_deleter>;

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

error undecryptable(std::string why) { return error{error_code::secret_undecryptable, std::move(why)}; }

// Overwrites a buffer that held key material.
void wipe(std::string& s) {
    if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
}

std::optional<secret_key> from_hex(std::string_view text) {
    if (text.size() != 2 * secret_key_size) return std::nullopt;
    secret_key key{};
    for (std::size_t i = 0; i < secret_key_size; ++i) {
        int hi = hex_digit(text[2 * i]);
        int lo = hex_digit(text[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        key[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    return key;
}

std::optional<secret_key> from_base64(std::string_view text) {
    auto decoded = base64_decode(text);
    if (!decoded) return std::nullopt;
    std::optional<secret_key> key;
    if (decoded->size() == secret_key_size) {
        key.emplace();
        std::memcpy(key->data(), decoded->data(), secret_key_size);
    }
    wipe(*decoded);
    return key;
}

}  // namespace

secret_box::~secret_box() { OPENSSL_cleanse(key_.data(), key_.size()); }

result<std::string> secret_box::seal(std::string_view plaintext, std::string_view aad) const {
    if (plaintext.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()) - tag_size ||
        aad.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
        return error{error_code::crypto_error, "seal: input too long"};
    }
    std::string blob(nonce_size + plaintext.size() + tag_size, '\0');
    auto* out = reinterpret_cast<unsigned char*>(blob.data());
    if (RAND_bytes(out, static_cast<int>(nonce_size)) != 1) return error{error_code::crypto_error, "seal: RAND_bytes failed"};
    cipher_ctx ctx(EVP_CIPHER_CTX_new());
    int len = 0;
    int final_len = 0;
    if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), out) != 1 ||
        EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(aad), static_cast<int>(aad.size())) != 1 ||
        EVP_EncryptUpdate(ctx.get(), out + nonce_size, &len, bytes(plaintext), static_cast<int>(plaintext.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), out + nonce_size + len, &final_len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_size),
                            out + nonce_size + plaintext.size()) != 1) {
        return error{error_code::crypto_error, "seal: AES-256-GCM encryption failed"};
    }
    return std::string(v1_prefix) + base64_encode(blob);
}

result<std::string> secret_box::open(std::string_view sealed, std::string_view aad) const {
    if (!sealed.starts_with(v1_prefix)) {
        return undecryptable(is_sealed(sealed) ? "sealed with an unknown format version (this webhookd reads enc:v1:)"
                                               : "not a sealed secret (no enc:v1: prefix)");
    }
    auto blob = base64_decode(sealed.substr(v1_prefix.size()));
    if (!blob || blob->size() < nonce_size + tag_size) return undecryptable("malformed sealed secret");
    if (aad.size() > static_cast<std::size_t>(std::numeric_limits<int>::max()) ||
        blob->size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
        return undecryptable("sealed secret too long");
    }
    const std::size_t text_size = blob->size() - nonce_size - tag_size;
    const auto* in = bytes(*blob);
    std::string plaintext(text_size, '\0');
    cipher_ctx ctx(EVP_CIPHER_CTX_new());
    int len = 0;
    int final_len = 0;
    // The tag is copied out: EVP_CTRL_GCM_SET_TAG takes a non-const pointer.
    unsigned char tag[tag_size];
    std::memcpy(tag, in + nonce_size + text_size, tag_size);
    bool ok = ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), in) == 1 &&
              EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(aad), static_cast<int>(aad.size())) == 1 &&
              EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plaintext.data()), &len, in + nonce_size,
                                static_cast<int>(text_size)) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_size), tag) == 1 &&
              EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plaintext.data()) + len, &final_len) == 1;
    if (!ok) {
        wipe(plaintext);
        return undecryptable("authentication failed: another key, another endpoint, or a changed value");
    }
    return plaintext;
}

result<secret_key> parse_secret_key(std::string_view contents) {
    std::optional<secret_key> key;
    const char* form = "";
    if (contents.size() == secret_key_size) {
        bool text = true;
        for (char c : contents) text = text && ((c >= 0x20 && c < 0x7f) || c == '\n' || c == '\r' || c == '\t');
        if (text) {
            return error{error_code::invalid_config,
                         "the key is 32 characters of text, which looks like a passphrase: give 32 random bytes "
                         "(head -c 32 /dev/urandom), 64 hexadecimal digits or the base64 of 32 bytes"};
        }
        key.emplace();
        std::memcpy(key->data(), contents.data(), secret_key_size);
        form = "32 raw bytes";
    } else {
        std::string_view text = contents;
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' || text.back() == '\t')) {
            text.remove_suffix(1);
        }
        if (text.size() == 2 * secret_key_size) {
            key = from_hex(text);
            form = "64 hexadecimal digits";
        } else {
            key = from_base64(text);
            form = "base64 of 32 bytes";
        }
        if (!key) {
            return error{error_code::invalid_config,
                         "the key must be 32 raw bytes, 64 hexadecimal digits or the base64 of 32 bytes (" +
                             std::to_string(contents.size()) + " bytes found, none of these)"};
        }
    }
    bool all_same = true;
    for (auto b : *key) all_same = all_same && b == (*key)[0];
    if (all_same) {
        OPENSSL_cleanse(key->data(), key->size());
        return error{error_code::invalid_config, std::string("the key (") + form +
                                           ") has the same value in every byte: generate one with "
                                           "head -c 32 /dev/urandom"};
    }
    return *key;
}

result<secret_key> load_secret_key(const std::string& path) {
    const std::string what = "storage.secret_key_file \"" + path + "\": ";
    // open + fstat + read: the mode checked is the file's read, and no stdio buffer keeps a copy.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return error{error_code::invalid_config, what + std::strerror(errno)};
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } guard{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) return error{error_code::invalid_config, what + std::strerror(errno)};
    if (!S_ISREG(st.st_mode)) return error{error_code::invalid_config, what + "not a regular file"};
    if ((st.st_mode & 077) != 0) {
        char mode[8];
        std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
        return error{error_code::invalid_config, what + "its group or others may access it (mode " + mode +
                                           "); allow the owner alone: chmod 600 " + path};
    }
    // A little more than the longest accepted form, so that a longer file is refused whole.
    std::string contents(128, '\0');
    std::size_t got = 0;
    while (got < contents.size()) {
        ssize_t n = ::read(fd, contents.data() + got, contents.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            wipe(contents);
            return error{error_code::invalid_config, what + std::strerror(errno)};
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    auto key = parse_secret_key(std::string_view(contents.data(), got));
    wipe(contents);
    if (!key) return error{error_code::invalid_config, what + key.err().message};
    return key;
}

}  // namespace webhookd
