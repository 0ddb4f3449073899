// Endpoint secrets at rest in the SQLite store (decision 44): sealed when written, opened
// when read, checked and upgraded at open. The daemon-level checks (no "whsec_" in the
// files, signatures, restarts) are in tests/integration/secrets_test.cpp.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "store/secret_box.hpp"
#include "store/sqlite.hpp"
#include "store/sqlite_outbox_store.hpp"
#include "support/temp_dir.hpp"

namespace webhookd {
namespace {

constexpr const char* first_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr const char* second_secret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX";
constexpr const char* other_secret = "whsec_GBkaGxwdHh8gISIjJCUmJygpKissLS4v";

std::shared_ptr<const secret_box> box_of(unsigned char seed) {
    secret_key k{};
    for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<unsigned char>(seed + 13 * i);
    return std::make_shared<const secret_box>(k);
}

endpoint_settings settings() {
    endpoint_settings s;
    s.url = "https://example.com/hook";
    s.description = "";
    s.patterns_json = "[]";
    s.signature_format = "hex";
    s.signature_header = "X-Webhook-Signature";
    s.headers_json = "{}";
    s.body_mode = "envelope";
    s.enabled = true;
    return s;
}

class secret_storage : public ::testing::Test {
protected:
    std::unique_ptr<outbox_store> open(std::shared_ptr<const secret_box> box, std::int64_t* sealed = nullptr) {
        storage_config cfg;
        cfg.path = path();
        auto s = open_sqlite_outbox(cfg, std::move(box), sealed);
        EXPECT_TRUE(s.ok()) << s.err().message;
        return s.ok() ? std::move(s).value() : nullptr;
    }
    result<std::unique_ptr<outbox_store>> try_open(std::shared_ptr<const secret_box> box) {
        storage_config cfg;
        cfg.path = path();
        return open_sqlite_outbox(cfg, std::move(box));
    }
    // Two endpoints: ep_a with a rotated secret (first, then second, both valid), ep_b with one.
    void add_endpoints(outbox_store& s) {
        ASSERT_TRUE(s.create_endpoint("ep_a", settings(), first_secret, 1000).ok());
        ASSERT_TRUE(s.rotate_secret("ep_a", second_secret, 1'000'000, 2000, 5).ok());
        ASSERT_TRUE(s.create_endpoint("ep_b", settings(), other_secret, 3000).ok());
    }
    // The stored column, ordered by endpoint and age.
    std::vector<std::string> stored() {
        sqlite::connection db(path());
        auto& q = db.prepare("SELECT secret FROM endpoint_secrets ORDER BY endpoint_id, created_at");
        std::vector<std::string> out;
        while (q.step()) out.push_back(q.text(0));
        return out;
    }
    std::string path() const { return dir.file("outbox.db"); }

    test::temp_dir dir;
};

TEST_F(secret_storage, with_a_key_secrets_are_stored_sealed_and_read_in_clear) {
    auto s = open(box_of(1));
    ASSERT_TRUE(s);
    add_endpoints(*s);
    auto rows = stored();
    ASSERT_EQ(rows.size(), 3u);
    for (const auto& r : rows) {
        EXPECT_TRUE(r.starts_with("enc:v1:")) << r;
        EXPECT_EQ(r.find("whsec_"), std::string::npos) << r;
    }

    auto loaded = s->scan_endpoints({}, 2500, 0, 0);
    ASSERT_TRUE(loaded.ok()) << loaded.err().message;
    ASSERT_EQ(loaded->changed.size(), 2u);
    EXPECT_EQ(loaded->changed[0].secrets, (std::vector<std::string>{second_secret, first_secret}));
    EXPECT_EQ(loaded->changed[1].secrets, (std::vector<std::string>{other_secret}));

    auto view = s->get_endpoint("ep_a", 2500);
    ASSERT_TRUE(view.ok()) << view.err().message;
    ASSERT_TRUE(view->has_value());
    ASSERT_EQ((*view)->secrets.size(), 2u);
    EXPECT_EQ((*view)->secrets[0].secret, second_secret);
    EXPECT_EQ((*view)->secrets[1].secret, first_secret);
    auto listed = s->list_endpoints(endpoint_filter{}, page_request{}, 2500);
    ASSERT_TRUE(listed.ok()) << listed.err().message;
    ASSERT_EQ(listed->size(), 2u);
    EXPECT_EQ((*listed)[1].secrets.at(0).secret, second_secret);  // newest endpoint first: ep_b, ep_a
}

TEST_F(secret_storage, without_a_key_secrets_are_stored_as_given) {
    auto s = open(nullptr);
    ASSERT_TRUE(s);
    add_endpoints(*s);
    EXPECT_EQ(stored(), (std::vector<std::string>{first_secret, second_secret, other_secret}));
    auto loaded = s->scan_endpoints({}, 2500, 0, 0);
    ASSERT_TRUE(loaded.ok());
    EXPECT_EQ(loaded->changed[0].secrets, (std::vector<std::string>{second_secret, first_secret}));
}

TEST_F(secret_storage, a_sealed_secret_copied_into_another_endpoints_row_does_not_open) {
    auto s = open(box_of(1));
    ASSERT_TRUE(s);
    add_endpoints(*s);
    {
        sqlite::connection db(path());
        db.exec("UPDATE endpoint_secrets SET secret = (SELECT secret FROM endpoint_secrets WHERE endpoint_id = 'ep_a' "
                "ORDER BY created_at DESC LIMIT 1) WHERE endpoint_id = 'ep_b'");
    }
    auto loaded = s->scan_endpoints({}, 2500, 0, 0);
    ASSERT_FALSE(loaded.ok());
    EXPECT_EQ(loaded.err().code, error_code::secret_key_mismatch);
    EXPECT_NE(loaded.err().message.find("ep_b"), std::string::npos) << loaded.err().message;
    EXPECT_EQ(loaded.err().message.find("whsec_"), std::string::npos) << loaded.err().message;
    auto view = s->get_endpoint("ep_b", 2500);
    ASSERT_FALSE(view.ok());
    EXPECT_EQ(view.err().code, error_code::secret_key_mismatch);
    EXPECT_TRUE(s->get_endpoint("ep_a", 2500).ok());
    s.reset();
    auto reopened = try_open(box_of(1));
    ASSERT_FALSE(reopened.ok());
    EXPECT_EQ(reopened.err().code, error_code::secret_key_mismatch);
}

TEST_F(secret_storage, clear_secrets_are_sealed_at_the_first_open_with_a_key) {
    {
        auto s = open(nullptr);
        ASSERT_TRUE(s);
        add_endpoints(*s);
    }
    ASSERT_EQ(stored().size(), 3u);
    ASSERT_EQ(stored()[0], first_secret);

    std::int64_t sealed = -1;
    auto s = open(box_of(1), &sealed);
    ASSERT_TRUE(s);
    EXPECT_EQ(sealed, 3);
    for (const auto& r : stored()) EXPECT_TRUE(r.starts_with("enc:v1:")) << r;
    auto loaded = s->scan_endpoints({}, 2500, 0, 0);
    ASSERT_TRUE(loaded.ok()) << loaded.err().message;
    EXPECT_EQ(loaded->changed[0].secrets, (std::vector<std::string>{second_secret, first_secret}));
    EXPECT_EQ(loaded->changed[1].secrets, (std::vector<std::string>{other_secret}));

    // Once is enough: the next open has nothing left to seal and changes no row.
    auto before = stored();
    s.reset();
    sealed = -1;
    ASSERT_TRUE(open(box_of(1), &sealed));
    EXPECT_EQ(sealed, 0);
    EXPECT_EQ(stored(), before);
}

TEST_F(secret_storage, a_row_written_in_clear_behind_the_stores_back_is_read_and_sealed_at_the_next_open) {
    auto s = open(box_of(1));
    ASSERT_TRUE(s);
    add_endpoints(*s);
    {
        sqlite::connection db(path());
        db.exec(std::string("UPDATE endpoint_secrets SET secret = '") + other_secret + "' WHERE endpoint_id = 'ep_b'");
    }
    auto loaded = s->scan_endpoints({}, 2500, 0, 0);
    ASSERT_TRUE(loaded.ok()) << loaded.err().message;
    EXPECT_EQ(loaded->changed[1].secrets, (std::vector<std::string>{other_secret}));
    s.reset();
    std::int64_t sealed = -1;
    ASSERT_TRUE(open(box_of(1), &sealed));
    EXPECT_EQ(sealed, 1);
    for (const auto& r : stored()) EXPECT_TRUE(r.starts_with("enc:v1:")) << r;
}

TEST_F(secret_storage, another_key_or_no_key_is_refused_at_open) {
    {
        auto s = open(box_of(1));
        ASSERT_TRUE(s);
        add_endpoints(*s);
    }
    auto other = try_open(box_of(2));
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.err().code, error_code::secret_key_mismatch);
    EXPECT_NE(other.err().message.find("storage.secret_key_file"), std::string::npos) << other.err().message;

    auto none = try_open(nullptr);
    ASSERT_FALSE(none.ok());
    EXPECT_EQ(none.err().code, error_code::secret_key_missing);
    EXPECT_NE(none.err().message.find("storage.secret_key_file"), std::string::npos) << none.err().message;

    // Refusing changed nothing: the right key still opens every secret.
    auto again = open(box_of(1));
    ASSERT_TRUE(again);
    auto loaded = again->scan_endpoints({}, 2500, 0, 0);
    ASSERT_TRUE(loaded.ok()) << loaded.err().message;
    EXPECT_EQ(loaded->changed[0].secrets, (std::vector<std::string>{second_secret, first_secret}));
}

}  // namespace
}  // namespace webhookd
