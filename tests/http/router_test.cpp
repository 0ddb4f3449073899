#include <gtest/gtest.h>

#include <set>

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "http/router.hpp"

namespace webhookd::http {
namespace {

request make_request(verb method, std::string target, std::optional<std::string> authorization = std::nullopt) {
    request req{method, target, 11};
    if (authorization) req.set(beast_http::field::authorization, *authorization);
    return req;
}

// Runs one request through the router; the response it answered with.
response run(router& r, request req) {
    std::optional<response> out;
    r.handle(std::move(req), [&](response res) { out = std::move(res); });
    EXPECT_TRUE(out.has_value()) << "the router did not respond";
    return out ? std::move(*out) : response{};
}

// A handler that answers 200 with "<name>" or "<name>:<param>".
handler_fn answer(std::string name, std::string param = "") {
    return [name, param](request&& req, const route_context& ctx, responder respond) {
        std::string body = name;
        if (!param.empty()) body += ":" + ctx.at(param);
        respond(json_response(req, status::ok, body));
    };
}

std::string error_code_of(const response& res) {
    auto j = nlohmann::json::parse(res.body());
    return j.at("error").at("code").get<std::string>();
}

TEST(router, dispatches_literal_routes_by_method_and_path) {
    router r({});
    r.add(verb::get, "/v1/endpoints", access::listener, answer("list"));
    r.add(verb::post, "/v1/endpoints", access::listener, answer("create"));
    r.add(verb::get, "/healthz", access::listener, answer("health"));
    EXPECT_EQ(run(r, make_request(verb::get, "/v1/endpoints")).body(), "list");
    EXPECT_EQ(run(r, make_request(verb::post, "/v1/endpoints")).body(), "create");
    EXPECT_EQ(run(r, make_request(verb::get, "/healthz")).body(), "health");
}

TEST(router, passes_param_segments_to_the_handler) {
    router r({});
    r.add(verb::get, "/v1/endpoints/{id}", access::listener, answer("get", "id"));
    r.add(verb::post, "/v1/endpoints/{id}/pause", access::listener, answer("pause", "id"));
    EXPECT_EQ(run(r, make_request(verb::get, "/v1/endpoints/ep_1")).body(), "get:ep_1");
    EXPECT_EQ(run(r, make_request(verb::post, "/v1/endpoints/ep_2/pause")).body(), "pause:ep_2");
}

TEST(router, passes_every_param_of_a_route) {
    router r({});
    r.add(verb::get, "/v1/{kind}/{id}", access::listener, [](request&& req, const route_context& ctx, responder respond) {
        respond(json_response(req, status::ok, ctx.at("kind") + "/" + ctx.at("id")));
    });
    EXPECT_EQ(run(r, make_request(verb::get, "/v1/deliveries/dl_9")).body(), "deliveries/dl_9");
}

TEST(router, passes_the_request_to_the_handler) {
    router r({});
    r.add(verb::post, "/v1/events", access::listener, [](request&& req, const route_context&, responder respond) {
        respond(json_response(req, status::accepted, req.body()));
    });
    auto req = make_request(verb::post, "/v1/events");
    req.body() = R"({"event":"a"})";
    auto res = run(r, std::move(req));
    EXPECT_EQ(res.result(), status::accepted);
    EXPECT_EQ(res.body(), R"({"event":"a"})");
}

TEST(router, first_registered_matching_route_wins) {
    router r({});
    r.add(verb::post, "/v1/dead-letters/retry", access::listener, answer("bulk"));
    r.add(verb::post, "/v1/dead-letters/{id}/retry", access::listener, answer("one", "id"));
    r.add(verb::get, "/v1/dead-letters/{id}", access::listener, answer("get", "id"));
    EXPECT_EQ(run(r, make_request(verb::post, "/v1/dead-letters/retry")).body(), "bulk");
    EXPECT_EQ(run(r, make_request(verb::post, "/v1/dead-letters/dl_1/retry")).body(), "one:dl_1");
    EXPECT_EQ(run(r, make_request(verb::get, "/v1/dead-letters/retry")).body(), "get:retry");
}

TEST(router, ignores_the_query_string_when_matching) {
    router r({});
    r.add(verb::get, "/v1/deliveries", access::listener, answer("list"));
    r.add(verb::get, "/v1/deliveries/{id}", access::listener, answer("get", "id"));
    EXPECT_EQ(run(r, make_request(verb::get, "/v1/deliveries?status=dead&limit=5")).body(), "list");
    EXPECT_EQ(run(r, make_request(verb::get, "/v1/deliveries/dl_1?x=1")).body(), "get:dl_1");
}

TEST(router, unknown_path_is_404_not_found_json) {
    router r({});
    r.add(verb::get, "/v1/endpoints/{id}", access::listener, answer("get", "id"));
    for (const char* target : {"/nope", "/v1/endpoints", "/v1/endpoints/ep_1/extra", "/v1/endpoints/"}) {
        auto res = run(r, make_request(verb::get, target));
        EXPECT_EQ(res.result(), status::not_found) << target;
        EXPECT_EQ(res[beast_http::field::content_type], "application/json");
        auto j = nlohmann::json::parse(res.body());
        EXPECT_EQ(j.at("error").at("code"), "not_found");
        EXPECT_TRUE(j.at("error").at("message").is_string());
        EXPECT_EQ(j.size(), 1u);
    }
}

TEST(router, known_path_with_other_method_is_405_with_allow) {
    router r({});
    r.add(verb::get, "/v1/endpoints/{id}", access::listener, answer("get", "id"));
    r.add(verb::patch, "/v1/endpoints/{id}", access::listener, answer("patch", "id"));
    r.add(verb::delete_, "/v1/endpoints/{id}", access::listener, answer("delete", "id"));
    r.add(verb::post, "/v1/endpoints", access::listener, answer("create"));
    auto res = run(r, make_request(verb::put, "/v1/endpoints/ep_1"));
    EXPECT_EQ(res.result(), status::method_not_allowed);
    EXPECT_EQ(res[beast_http::field::allow], "GET, PATCH, DELETE");
    EXPECT_EQ(error_code_of(res), "method_not_allowed");
}

TEST(router, auth_route_without_token_is_401) {
    router r({"s3cret"});
    r.add(verb::get, "/v1/endpoints", access::listener, answer("list"));
    auto res = run(r, make_request(verb::get, "/v1/endpoints"));
    EXPECT_EQ(res.result(), status::unauthorized);
    EXPECT_EQ(error_code_of(res), "unauthorized");
    EXPECT_EQ(res[beast_http::field::www_authenticate], "Bearer");
}

TEST(router, auth_route_rejects_wrong_or_malformed_credentials) {
    router r({"s3cret"});
    r.add(verb::get, "/v1/endpoints", access::listener, answer("list"));
    for (const char* auth : {"Bearer wrong", "Bearer s3cre", "Bearer s3cret2", "Bearer S3CRET", "Basic s3cret",
                             "s3cret", "Bearer ", "Bearer  s3cret", "Bearers3cret"}) {
        auto res = run(r, make_request(verb::get, "/v1/endpoints", auth));
        EXPECT_EQ(res.result(), status::unauthorized) << auth;
        EXPECT_EQ(error_code_of(res), "unauthorized") << auth;
    }
}

TEST(router, auth_route_accepts_bearer_token_with_any_case_scheme) {
    router r({"other", "s3cret"});
    r.add(verb::get, "/v1/endpoints", access::listener, answer("list"));
    for (const char* auth : {"Bearer s3cret", "bearer s3cret", "BEARER s3cret", "Bearer other"}) {
        auto res = run(r, make_request(verb::get, "/v1/endpoints", auth));
        EXPECT_EQ(res.result(), status::ok) << auth;
        EXPECT_EQ(res.body(), "list") << auth;
    }
}

TEST(router, route_without_auth_needs_no_token) {
    router r({"s3cret"});
    r.add(verb::get, "/healthz", access::anyone, answer("health"));
    r.add(verb::get, "/v1/endpoints", access::listener, answer("list"));
    EXPECT_EQ(run(r, make_request(verb::get, "/healthz")).result(), status::ok);
    EXPECT_EQ(run(r, make_request(verb::get, "/v1/endpoints")).result(), status::unauthorized);
}

TEST(router, without_a_token_unknown_paths_and_methods_are_401_too) {
    router r({"s3cret"});
    r.add(verb::get, "/v1/endpoints", access::listener, answer("list"));
    r.add(verb::get, "/healthz", access::anyone, answer("health"));
    EXPECT_EQ(run(r, make_request(verb::get, "/v1/secret-route")).result(), status::unauthorized);
    EXPECT_EQ(run(r, make_request(verb::post, "/v1/endpoints")).result(), status::unauthorized);
    EXPECT_EQ(run(r, make_request(verb::post, "/healthz")).result(), status::unauthorized);
    EXPECT_EQ(run(r, make_request(verb::get, "/v1/secret-route", "Bearer s3cret")).result(), status::not_found);
    EXPECT_EQ(run(r, make_request(verb::post, "/v1/endpoints", "Bearer s3cret")).result(), status::method_not_allowed);
}

TEST(router, empty_token_list_allows_all) {
    router r({});
    r.add(verb::get, "/v1/endpoints", access::listener, answer("list"));
    EXPECT_EQ(run(r, make_request(verb::get, "/v1/endpoints")).result(), status::ok);
    EXPECT_EQ(run(r, make_request(verb::get, "/v1/endpoints", "Bearer anything")).result(), status::ok);
}

TEST(router, routes_lists_registrations_in_order) {
    router r({});
    r.add(verb::post, "/v1/events", access::listener, answer("a"));
    r.add(verb::get, "/healthz", access::anyone, answer("b"));
    r.add(verb::get, "/v1/events/{id}", access::listener, answer("c", "id"));
    auto routes = r.routes();
    ASSERT_EQ(routes.size(), 3u);
    EXPECT_EQ(routes[0].method, verb::post);
    EXPECT_EQ(routes[0].pattern, "/v1/events");
    EXPECT_EQ(routes[1].method, verb::get);
    EXPECT_EQ(routes[1].pattern, "/healthz");
    EXPECT_EQ(routes[2].pattern, "/v1/events/{id}");
    EXPECT_EQ(routes[0].who, access::listener);
    EXPECT_EQ(routes[1].who, access::anyone);
}

// A last segment "*" serves a whole tree: none or more segments, handed over under "*".
TEST(router, a_star_route_matches_the_rest_of_the_path) {
    router r({"s3cret"});
    r.add(verb::get, "/console/*", access::anyone, answer("console", "*"));
    r.add(verb::get, "/v1/endpoints/{id}", access::listener, answer("get", "id"));
    EXPECT_EQ(run(r, make_request(verb::get, "/console/")).body(), "console:");
    EXPECT_EQ(run(r, make_request(verb::get, "/console")).body(), "console:");
    EXPECT_EQ(run(r, make_request(verb::get, "/console/endpoints/ep_1")).body(), "console:endpoints/ep_1");
    EXPECT_EQ(run(r, make_request(verb::get, "/console/assets/app.3f2a.js?v=1")).body(), "console:assets/app.3f2a.js");
    EXPECT_EQ(run(r, make_request(verb::get, "/consoles")).result(), status::unauthorized);  // no match, no token
    EXPECT_EQ(run(r, make_request(verb::get, "/consoles", "Bearer s3cret")).result(), status::not_found);
    EXPECT_EQ(run(r, make_request(verb::post, "/console/x", "Bearer s3cret")).result(), status::method_not_allowed);
}

// The handler learns who called: a listener token, or nobody (on an open route).
TEST(router, the_handler_is_told_whether_the_caller_has_a_token) {
    router r({"s3cret"});
    auto who = [](request&& req, const route_context& ctx, responder respond) {
        respond(json_response(req, status::ok, ctx.who.has_listener_token ? "token" : "anonymous"));
    };
    r.add(verb::get, "/healthz", access::anyone, who);
    EXPECT_EQ(run(r, make_request(verb::get, "/healthz")).body(), "anonymous");
    EXPECT_EQ(run(r, make_request(verb::get, "/healthz", "Bearer s3cret")).body(), "token");
    EXPECT_EQ(run(r, make_request(verb::get, "/healthz", "Bearer wrong")).body(), "anonymous");
}

// A resolver that knows one tenant token, "wht_a", of tenant "biz_a"; "wht_down" is a
// token it cannot check now; tokens without "wht_" are not its kind.
token_resolver test_resolver(int* calls) {
    return [calls](std::string_view token, std::function<void(result<std::optional<std::string>>)> done) {
        if (!token.starts_with("wht_")) return false;
        ++*calls;
        if (token == "wht_down") {
            done(error{error_code::overloaded, "busy"});
        } else {
            done(token == "wht_a" ? std::optional<std::string>("biz_a") : std::nullopt);
        }
        return true;
    };
}

// A handler that answers with the caller's tenant, or "operator".
handler_fn who_answers() {
    return [](request&& req, const route_context& ctx, responder respond) {
        respond(json_response(req, status::ok, ctx.who.tenant.value_or("operator")));
    };
}

TEST(router, a_resolved_token_reaches_scoped_routes_only_and_carries_its_tenant) {
    int calls = 0;
    router r({"op"});
    r.set_token_resolver(test_resolver(&calls));
    r.add(verb::get, "/v1/endpoints", access::scoped, who_answers());
    r.add(verb::get, "/v1/tenants", access::listener, who_answers());
    r.add(verb::get, "/healthz", access::anyone, who_answers());
    EXPECT_EQ(run(r, make_request(verb::get, "/v1/endpoints", "Bearer wht_a")).body(), "biz_a");
    EXPECT_EQ(run(r, make_request(verb::get, "/v1/endpoints", "Bearer op")).body(), "operator");
    auto forbidden = run(r, make_request(verb::get, "/v1/tenants", "Bearer wht_a"));
    EXPECT_EQ(forbidden.result(), status::forbidden);
    EXPECT_EQ(error_code_of(forbidden), "forbidden");
    EXPECT_EQ(run(r, make_request(verb::get, "/v1/endpoints", "Bearer wht_gone")).result(), status::unauthorized);
    EXPECT_EQ(run(r, make_request(verb::get, "/v1/endpoints", "Bearer wht_down")).result(),
              status::service_unavailable);
    EXPECT_EQ(run(r, make_request(verb::get, "/healthz", "Bearer wht_gone")).result(), status::ok);
    EXPECT_EQ(run(r, make_request(verb::get, "/v1/endpoints", "Bearer other")).result(), status::unauthorized);
    EXPECT_EQ(calls, 5);  // the operator's token and "other" never reach the resolver
}

TEST(router, without_listener_tokens_a_tenant_token_is_still_checked_and_scoped) {
    int calls = 0;
    router r({});
    r.set_token_resolver(test_resolver(&calls));
    r.add(verb::get, "/v1/endpoints", access::scoped, who_answers());
    r.add(verb::get, "/v1/tenants", access::listener, who_answers());
    EXPECT_EQ(run(r, make_request(verb::get, "/v1/tenants")).body(), "operator");
    EXPECT_EQ(run(r, make_request(verb::get, "/v1/tenants", "Bearer anything")).body(), "operator");
    EXPECT_EQ(run(r, make_request(verb::get, "/v1/tenants", "Bearer wht_a")).result(), status::forbidden);
    EXPECT_EQ(run(r, make_request(verb::get, "/v1/endpoints", "Bearer wht_a")).body(), "biz_a");
    EXPECT_EQ(run(r, make_request(verb::get, "/v1/endpoints", "Bearer wht_gone")).result(), status::unauthorized);
}

TEST(body_response, serves_another_content_type) {
    auto res = body_response(make_request(verb::get, "/"), status::ok, "text/plain; charset=utf-8", "hello");
    EXPECT_EQ(res[beast_http::field::content_type], "text/plain; charset=utf-8");
    EXPECT_EQ(res.body(), "hello");
    EXPECT_EQ(res[beast_http::field::content_length], "5");
    EXPECT_TRUE(res[beast_http::field::server].starts_with("webhookd/"));
}

TEST(json_response, copies_version_and_keep_alive_and_sets_headers) {
    auto req = make_request(verb::get, "/");
    req.version(10);
    req.keep_alive(false);
    auto res = json_response(req, status::ok, R"({"ok":true})");
    EXPECT_EQ(res.version(), 10u);
    EXPECT_FALSE(res.keep_alive());
    EXPECT_EQ(res[beast_http::field::content_type], "application/json");
    EXPECT_EQ(res[beast_http::field::server].substr(0, 9), "webhookd/");
    EXPECT_EQ(res[beast_http::field::content_length], "11");
}

TEST(error_body, has_the_documented_shape_and_escapes) {
    auto j = nlohmann::json::parse(error_body(error_code::invalid_field, "\"id\" is bad"));
    EXPECT_EQ(j, nlohmann::json::parse(R"({"error":{"code":"invalid_field","message":"\"id\" is bad"}})"));
}

// Every code has its own wire string (its name), and the status its clients expect.
TEST(error_code, wire_strings_are_distinct_names_and_statuses_follow_the_code) {
    std::set<std::string_view> seen;
    for (int c = 0; c <= static_cast<int>(error_code::migration_failed); ++c) {
        auto name = to_string(static_cast<error_code>(c));
        EXPECT_TRUE(seen.insert(name).second) << name;
        EXPECT_FALSE(name.empty());
    }
    EXPECT_EQ(to_string(error_code::storage_unavailable), "storage_unavailable");
    EXPECT_EQ(status_of(error_code::invalid_json), status::bad_request);
    EXPECT_EQ(status_of(error_code::not_found), status::not_found);
    EXPECT_EQ(status_of(error_code::conflict), status::conflict);
    EXPECT_EQ(status_of(error_code::unsupported_media_type), status::unsupported_media_type);
    EXPECT_EQ(status_of(error_code::storage_unavailable), status::service_unavailable);
    EXPECT_EQ(status_of(error_code::storage_error), status::internal_server_error);
}

TEST(target_path, strips_the_query_string) {
    EXPECT_EQ(target_path("/v1/deliveries?status=dead"), "/v1/deliveries");
    EXPECT_EQ(target_path("/v1/deliveries"), "/v1/deliveries");
    EXPECT_EQ(target_path("/v1/deliveries?"), "/v1/deliveries");
    EXPECT_EQ(target_path("/?a=1?b=2"), "/");
}

TEST(query_param, finds_and_decodes_values) {
    EXPECT_EQ(query_param("/x?status=dead&endpoint_id=ep%5F1", "endpoint_id"), "ep_1");
    EXPECT_EQ(query_param("/x?status=dead&endpoint_id=ep_1", "status"), "dead");
    EXPECT_EQ(query_param("/x?event=a%20b", "event"), "a b");
    EXPECT_EQ(query_param("/x?event=a+b", "event"), "a b");
    EXPECT_EQ(query_param("/x?since=2025-04-19T14:30:00%2B02:00", "since"), "2025-04-19T14:30:00+02:00");
    EXPECT_EQ(query_param("/x?e=%E2%82%AC", "e"), "\xE2\x82\xAC");
}

TEST(query_param, empty_value_is_present_and_first_of_repeats_wins) {
    EXPECT_EQ(query_param("/x?cursor=", "cursor"), "");
    EXPECT_EQ(query_param("/x?limit=1&limit=2", "limit"), "1");
}

TEST(query_param, missing_or_malformed_is_nullopt) {
    EXPECT_EQ(query_param("/x", "limit"), std::nullopt);
    EXPECT_EQ(query_param("/x?limits=5", "limit"), std::nullopt);
    EXPECT_EQ(query_param("/x?LIMIT=5", "limit"), std::nullopt);
    EXPECT_EQ(query_param("/x?limit=%zz", "limit"), std::nullopt);
}

}  // namespace
}  // namespace webhookd::http
