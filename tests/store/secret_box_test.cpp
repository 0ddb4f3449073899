// secret_box: AES-256-GCM sealing of endpoint secrets, and the key file's accepted forms.

#include "store/secret_box.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <cctype>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "delivery/signer.hpp"
#include "support/temp_dir.hpp"

namespace webhookd {
namespace {

constexpr std::string_view secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view endpoint = "ep_01JS2Q8C3T5V7X9Z1B3D5F7H9K";

secret_key key_of(unsigned char first) {
    secret_key k{};
    for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<unsigned char>(first + 7 * i);
    return k;
}

// The decoded nonce || ciphertext || tag of a sealed text.
std::string blob_of(const std::string& sealed) {
    auto blob = base64_decode(std::string_view(sealed).substr(7));
    EXPECT_TRUE(blob.has_value()) << sealed;
    return blob.value_or("");
}

std::string sealed_of(const std::string& blob) { return "enc:v1:" + base64_encode(blob); }

TEST(secret_box, opens_what_it_sealed) {
    secret_box box(key_of(1));
    auto sealed = box.seal(secret, endpoint);
    ASSERT_TRUE(sealed.ok()) << sealed.err().message;
    EXPECT_TRUE(sealed->starts_with("enc:v1:")) << *sealed;
    EXPECT_EQ(sealed->find("whsec_"), std::string::npos);
    EXPECT_TRUE(secret_box::is_sealed(*sealed));
    EXPECT_FALSE(secret_box::is_sealed(secret));
    // 12-byte nonce, the secret's 38 bytes, 16-byte tag.
    EXPECT_EQ(blob_of(*sealed).size(), 12u + secret.size() + 16u);
    auto opened = box.open(*sealed, endpoint);
    ASSERT_TRUE(opened.ok()) << opened.err().message;
    EXPECT_EQ(*opened, secret);
}

TEST(secret_box, an_empty_plaintext_and_an_empty_aad_round_trip) {
    secret_box box(key_of(1));
    auto sealed = box.seal("", "");
    ASSERT_TRUE(sealed.ok());
    auto opened = box.open(*sealed, "");
    ASSERT_TRUE(opened.ok()) << opened.err().message;
    EXPECT_EQ(*opened, "");
}

TEST(secret_box, every_seal_draws_a_new_nonce) {
    secret_box box(key_of(1));
    std::set<std::string> texts, nonces;
    for (int i = 0; i < 50; ++i) {
        auto sealed = box.seal(secret, endpoint);
        ASSERT_TRUE(sealed.ok());
        texts.insert(*sealed);
        nonces.insert(blob_of(*sealed).substr(0, 12));
    }
    EXPECT_EQ(texts.size(), 50u);
    EXPECT_EQ(nonces.size(), 50u);
}

TEST(secret_box, another_key_does_not_open_it) {
    auto sealed = secret_box(key_of(1)).seal(secret, endpoint);
    ASSERT_TRUE(sealed.ok());
    auto opened = secret_box(key_of(2)).open(*sealed, endpoint);
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.err().code, error_code::secret_undecryptable);
    EXPECT_NE(opened.err().message.find("another key"), std::string::npos) << opened.err().message;
}

TEST(secret_box, another_endpoint_id_as_aad_does_not_open_it) {
    secret_box box(key_of(1));
    auto sealed = box.seal(secret, endpoint);
    ASSERT_TRUE(sealed.ok());
    EXPECT_FALSE(box.open(*sealed, "ep_01JS2Q8C3T5V7X9Z1B3D5F7H9L").ok());
    EXPECT_FALSE(box.open(*sealed, "").ok());
    EXPECT_TRUE(box.open(*sealed, endpoint).ok());
}

TEST(secret_box, a_change_to_any_byte_of_nonce_ciphertext_or_tag_is_refused) {
    secret_box box(key_of(1));
    auto sealed = box.seal(secret, endpoint);
    ASSERT_TRUE(sealed.ok());
    const std::string blob = blob_of(*sealed);
    for (std::size_t i = 0; i < blob.size(); ++i) {
        std::string changed = blob;
        changed[i] = static_cast<char>(changed[i] ^ 0x01);
        auto opened = box.open(sealed_of(changed), endpoint);
        EXPECT_FALSE(opened.ok()) << "byte " << i << " flipped";
    }
    // Cut short: without the last byte of the tag, or without the whole tag.
    EXPECT_FALSE(box.open(sealed_of(blob.substr(0, blob.size() - 1)), endpoint).ok());
    EXPECT_FALSE(box.open(sealed_of(blob.substr(0, 12 + secret.size())), endpoint).ok());
}

TEST(secret_box, refuses_what_is_not_a_v1_sealed_text_and_quotes_none_of_it) {
    secret_box box(key_of(1));
    for (std::string_view text : {std::string_view(secret), std::string_view("enc:v2:AAAA"),
                                  std::string_view("enc:v1:not base64!"), std::string_view("enc:v1:"),
                                  std::string_view("enc:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")}) {
        auto opened = box.open(text, endpoint);
        ASSERT_FALSE(opened.ok()) << text;
        EXPECT_EQ(opened.err().code, error_code::secret_undecryptable);
        EXPECT_EQ(opened.err().message.find("whsec_"), std::string::npos) << opened.err().message;
    }
    EXPECT_NE(box.open("enc:v2:AAAA", endpoint).err().message.find("version"), std::string::npos);
}

// ---- key files ----------------------------------------------------------------------------

TEST(parse_secret_key, takes_32_raw_bytes_64_hex_digits_or_base64_of_32_bytes) {
    const secret_key expected = key_of(0x80);
    const std::string raw(reinterpret_cast<const char*>(expected.data()), expected.size());
    const std::string hex = to_hex(raw);
    const std::string b64 = base64_encode(raw);
    ASSERT_EQ(hex.size(), 64u);
    ASSERT_EQ(b64.size(), 44u);
    for (const std::string& contents : {raw, hex, hex + "\n", b64, b64 + "\n", b64 + "\r\n"}) {
        auto key = parse_secret_key(contents);
        ASSERT_TRUE(key.ok()) << key.err().message;
        EXPECT_EQ(*key, expected);
    }
    std::string upper = hex;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    auto key = parse_secret_key(upper);
    ASSERT_TRUE(key.ok());
    EXPECT_EQ(*key, expected);
}

TEST(parse_secret_key, refuses_every_other_form_without_quoting_it) {
    const secret_key k = key_of(0x80);
    const std::string raw(reinterpret_cast<const char*>(k.data()), k.size());
    const std::string hex = to_hex(raw);
    const std::vector<std::string> refused = {
        "",
        raw.substr(0, 31),                     // 31 raw bytes
        raw + raw.substr(0, 1),                // 33 raw bytes
        hex.substr(0, 62),                     // 31 bytes in hex
        hex + "00",                            // 33 bytes in hex
        hex.substr(0, 63) + "g",               // not hex
        base64_encode(raw.substr(0, 24)),      // base64 of 24 bytes (32 characters of text)
        base64_encode(raw + "x"),              // base64 of 33 bytes
        std::string(secret.substr(0, 32)),     // 32 characters of text: a passphrase, not a key
        std::string(32, '\0'),                 // head -c 32 /dev/zero
        std::string(64, '0'),                  // the same, in hex
    };
    for (const auto& contents : refused) {
        auto key = parse_secret_key(contents);
        ASSERT_FALSE(key.ok()) << "accepted " << contents.size() << " bytes";
        EXPECT_EQ(key.err().code, error_code::invalid_config);
        EXPECT_EQ(key.err().message.find("whsec_MfKQ"), std::string::npos) << key.err().message;
        if (!contents.empty() && contents.size() >= 8) {
            EXPECT_EQ(key.err().message.find(contents.substr(0, 8)), std::string::npos) << key.err().message;
        }
    }
}

class load_secret_key_test : public ::testing::Test {
protected:
    std::string write(const std::string& contents, mode_t mode) {
        auto path = dir.file("secret.key");
        std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
        EXPECT_EQ(::chmod(path.c_str(), mode), 0);
        return path;
    }
    test::temp_dir dir;
};

std::string hex_key() {
    const secret_key k = key_of(0x10);
    return to_hex(std::string(reinterpret_cast<const char*>(k.data()), k.size()));
}

TEST_F(load_secret_key_test, reads_a_file_only_its_owner_may_access) {
    auto key = load_secret_key(write(hex_key() + "\n", 0600));
    ASSERT_TRUE(key.ok()) << key.err().message;
    EXPECT_EQ(*key, key_of(0x10));
    EXPECT_TRUE(load_secret_key(write(hex_key(), 0400)).ok());
}

TEST_F(load_secret_key_test, refuses_a_file_its_group_or_others_may_access) {
    for (mode_t mode : {0644, 0640, 0604, 0660, 0606}) {
        auto path = write(hex_key(), mode);
        auto key = load_secret_key(path);
        ASSERT_FALSE(key.ok()) << std::oct << mode;
        EXPECT_EQ(key.err().code, error_code::invalid_config);
        EXPECT_NE(key.err().message.find("chmod 600"), std::string::npos) << key.err().message;
        EXPECT_NE(key.err().message.find(path), std::string::npos) << key.err().message;
    }
}

TEST_F(load_secret_key_test, names_the_path_of_a_missing_or_malformed_file) {
    auto missing = load_secret_key(dir.file("nope.key"));
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.err().message.find("storage.secret_key_file"), std::string::npos);
    EXPECT_NE(missing.err().message.find(dir.file("nope.key")), std::string::npos);

    auto path = write(std::string(300, 'a'), 0600);  // longer than any accepted form
    auto malformed = load_secret_key(path);
    ASSERT_FALSE(malformed.ok());
    EXPECT_NE(malformed.err().message.find(path), std::string::npos);
    EXPECT_NE(malformed.err().message.find("64 hexadecimal digits"), std::string::npos) << malformed.err().message;

    auto directory = load_secret_key(dir.path().string());
    ASSERT_FALSE(directory.ok());
}

}  // namespace
}  // namespace webhookd
