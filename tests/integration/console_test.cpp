// The web console as the admin listener serves it (docs/operations.md, "The web console"):
// the page at every /console/ path with its security headers, assets under content-hashed
// names cached for a year, no token needed for either, and GET /v1/me, which tells the
// console whose token it holds. What the page does is tested in a browser (tests/console).

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <regex>
#include <set>

#include "admin/console.hpp"

#include "support/daemon_fixture.hpp"
#include "support/http_client.hpp"

namespace webhookd {
namespace {

using json = nlohmann::json;

constexpr const char* operator_token = "op-7cW2pL9sQ4";

class console : public test::daemon_test {
protected:
    void configure(config& cfg) override { cfg.admin.tokens = {operator_token}; }

    test::http_result get(const std::string& target, const std::string& token = "") {
        std::map<std::string, std::string> headers;
        if (!token.empty()) headers["Authorization"] = "Bearer " + token;
        return test::http_client(runner->admin_port()).request("GET", target, "", headers);
    }
    json op(const std::string& method, const std::string& target, const json& body, int expected) {
        auto r = test::http_client(runner->admin_port())
                     .request(method, target, body.dump(),
                              {{"Content-Type", "application/json"}, {"Authorization", std::string("Bearer ") + operator_token}});
        EXPECT_EQ(r.status, expected) << method << " " << target << ": " << r.body;
        return json::parse(r.body);
    }
};

TEST_F(console, every_console_path_serves_the_page_with_its_security_headers_and_no_token) {
    start([](config& c) { c.admin.console.frame_ancestors = "https://app.example.com 'self'"; });
    auto page = get("/console/");
    ASSERT_EQ(page.status, 200) << page.body;
    EXPECT_EQ(page.headers["content-type"], "text/html; charset=utf-8");
    EXPECT_EQ(page.headers["content-security-policy"],
              "default-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'; "
              "frame-ancestors https://app.example.com 'self'");
    EXPECT_EQ(page.headers["x-content-type-options"], "nosniff");
    EXPECT_EQ(page.headers["cache-control"], "no-store");
    // No inline script: every <script> has a src, and the page has no event handler attributes.
    EXPECT_EQ(page.body.find("<script>"), std::string::npos);
    EXPECT_FALSE(std::regex_search(page.body, std::regex(R"(\son[a-z]+\s*=)", std::regex::icase)));

    for (const char* deep : {"/console/endpoints", "/console/endpoints/ep_123", "/console/deliveries/dlv_9",
                             "/console/dead-letters", "/console/events/evt_1", "/console/tenants"}) {
        auto r = get(deep);
        EXPECT_EQ(r.status, 200) << deep;
        EXPECT_EQ(r.body, page.body) << deep;
        EXPECT_EQ(r.headers["content-security-policy"], page.headers["content-security-policy"]) << deep;
    }
    EXPECT_EQ(get("/console").body, page.body);
    // The data is not open: the API still wants a token.
    EXPECT_EQ(get("/v1/endpoints").status, 401);
}

TEST_F(console, assets_have_hashed_names_a_year_of_cache_and_an_unknown_one_is_404) {
    start();
    auto page = get("/console/").body;
    std::regex ref(R"(/console/assets/([A-Za-z0-9_-]+)\.([0-9a-f]{10})\.(js|css|svg))");
    std::set<std::string> kinds;
    for (std::sregex_iterator it(page.begin(), page.end(), ref), end; it != end; ++it) {
        auto r = get(it->str());
        ASSERT_EQ(r.status, 200) << it->str();
        EXPECT_EQ(r.headers["cache-control"], "public, max-age=31536000, immutable") << it->str();
        EXPECT_EQ(r.headers["x-content-type-options"], "nosniff");
        EXPECT_FALSE(r.body.empty());
        kinds.insert((*it)[3]);
        auto type = r.headers["content-type"];
        if ((*it)[3] == "js") {
            EXPECT_EQ(type, "text/javascript; charset=utf-8");
        } else if ((*it)[3] == "css") {
            EXPECT_EQ(type, "text/css; charset=utf-8");
        }
    }
    EXPECT_EQ(kinds, (std::set<std::string>{"js", "css", "svg"})) << page;
    // Unhashed or unknown names are not the page in disguise.
    EXPECT_EQ(get("/console/assets/app.js").status, 404);
    EXPECT_EQ(get("/console/assets/../index.html").status, 404);
}

TEST_F(console, a_disabled_console_is_not_served) {
    start([](config& c) { c.admin.console.enabled = false; });
    EXPECT_EQ(get("/console/", operator_token).status, 404);
    EXPECT_EQ(get("/console/").status, 401);  // without a token nothing but the probes answers
}

TEST_F(console, me_names_an_operator_or_the_tenant_and_token_and_refuses_a_revoked_token) {
    start();
    EXPECT_EQ(json::parse(get("/v1/me", operator_token).body), (json{{"access", "operator"}}));
    EXPECT_EQ(get("/v1/me").status, 401);
    EXPECT_EQ(get("/v1/me", "wrong").status, 401);

    op("POST", "/v1/tenants", {{"id", "biz_42"}, {"name", "Acme Salon"}}, 201);
    auto minted = op("POST", "/v1/tenants/biz_42/tokens", {{"description", "portal"}}, 201);
    auto me = get("/v1/me", minted["token"]);
    ASSERT_EQ(me.status, 200) << me.body;
    auto j = json::parse(me.body);
    EXPECT_EQ(j["access"], "tenant");
    EXPECT_EQ(j["tenant"]["id"], "biz_42");
    EXPECT_EQ(j["tenant"]["name"], "Acme Salon");
    EXPECT_EQ(j["token"]["id"], minted["id"]);
    EXPECT_EQ(j["token"]["expires_at"], minted["expires_at"]);
    EXPECT_FALSE(j["token"].contains("token"));  // never shown again

    op("DELETE", "/v1/tenants/biz_42/tokens/" + minted["id"].get<std::string>(), json(), 200);
    EXPECT_EQ(get("/v1/me", minted["token"]).status, 401);
}

TEST(console_csp, the_frame_ancestors_setting_is_the_policy_s_last_directive) {
    EXPECT_EQ(admin::console_csp("'none'"),
              "default-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'; frame-ancestors 'none'");
}

}  // namespace
}  // namespace webhookd
