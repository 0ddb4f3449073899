// The tenants resource: a platform's customers, each with its own endpoints and events,
// and the tokens that let a customer see its own and nothing else.

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "admin/resources.hpp"
#include "admin/tenant_tokens.hpp"
#include "store/lambda_unit.hpp"
#include "util/ids.hpp"
#include "util/time_format.hpp"

namespace webhookd::admin {

namespace {

error no_tenant(std::string_view id) {
    return error{error_code::not_found, "tenant " + std::string(id) + " does not exist"};
}

// Answers with the tenant as stored now (after a change), or 404.
void send_tenant(const std::shared_ptr<context>& self, const reply& out, const std::string& id,
                 http_status code = http_status::ok) {
    self->read(out, [out, id, code](outbox_store& s) {
        auto t = s.get_tenant(id);
        if (!t) return out.fail(t.err());
        if (!*t) return out.fail(no_tenant(id));
        out.send(code, tenant_json(**t));
    });
}

void create_tenant(const std::shared_ptr<context>& self, http::request&& req, const http::route_context&,
                   http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto body = self->body_of(req, true);
    if (!body) return out.fail(body.err());
    std::optional<std::string> given_id;
    auto settings = parse_tenant_settings(*body, true, &given_id);
    if (!settings) return out.fail(settings.err());
    auto id = given_id ? *given_id : new_id("tn", self->clk.now());
    self->write(
        out, [id, s = *settings](outbox_store& store, std::int64_t at) { return store.create_tenant(id, s, at); },
        [self, out, id](const status& st) {
            if (!st) return out.fail(st.err());
            self->log->info("admin: created tenant {}", id);
            send_tenant(self, out, id, http_status::created);
        });
}

void list_tenants(const std::shared_ptr<context>& self, http::request&& req, const http::route_context&,
                  http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto params = query_params(req.target(), {"limit", "cursor"});
    if (!params) return out.fail(params.err());
    self->send_page(
        out, *params, [](outbox_store& s, const page_request& page) { return s.list_tenants(page); }, tenant_json,
        [](const tenant_view& t) {
            return page_key{t.seq, t.seq};
        });
}

void get_tenant(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                http::responder respond) {
    send_tenant(self, make_reply(req, std::move(respond)), p.at("id"));
}

void patch_tenant(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                  http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto body = self->body_of(req, false);
    if (!body) return out.fail(body.err());
    auto settings = parse_tenant_settings(*body, false, nullptr);
    if (!settings) return out.fail(settings.err());
    auto id = p.at("id");
    self->write(
        out, [id, s = *settings](outbox_store& store, std::int64_t at) { return store.update_tenant(id, s, at); },
        [self, out, id](const status& st) {
            if (!st) return out.fail(st.err());
            self->log->info("admin: updated tenant {}", id);
            send_tenant(self, out, id);
        });
}

void delete_tenant(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                   http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto id = p.at("id");
    auto endpoints = std::make_shared<std::int64_t>(0);
    self->write(
        out, storing_into(endpoints, [id](outbox_store& s, std::int64_t) { return s.delete_tenant(id); }),
        [self, out, id, endpoints](const status& st) {
            if (!st) return out.fail(st.err());
            self->log->info("admin: deleted tenant {} with {} endpoint(s), its tokens and its history", id,
                            *endpoints);
            out.send(http_status::ok, json{{"id", id}, {"deleted", true}, {"deleted_endpoints", *endpoints}});
        });
}

void create_token(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                  http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto body = self->body_of(req, true);
    if (!body) return out.fail(body.err());
    auto asked = parse_token_request(*body);
    if (!asked) return out.fail(asked.err());
    std::string token;
    try {
        token = generate_tenant_token();
    } catch (const std::exception& e) {
        return out.fail(error_code::internal_error, e.what());
    }
    auto now = self->clk.now_ms();
    token_record rec{new_id("tok", self->clk.now()), p.at("id"), hash_tenant_token(token), asked->description, now,
                     std::nullopt};
    if (asked->expires_in) rec.expires_ms = now + std::chrono::duration_cast<std::chrono::milliseconds>(*asked->expires_in).count();
    self->write(
        out, [rec](outbox_store& s, std::int64_t) { return s.create_token(rec); },
        [self, out, rec, token](const status& st) {
            if (!st) return out.fail(st.err());
            // The token id only: no part of the token goes to the log.
            self->log->info("admin: created token {} for tenant {}, expires {}", rec.id, rec.tenant_id,
                            rec.expires_ms ? format_rfc3339_ms(*rec.expires_ms) : "never");
            token_view v{rec.id, 0, rec.tenant_id, rec.description, rec.created_ms, rec.expires_ms};
            out.send(http_status::created, token_json(v, token));
        });
}

void list_tokens(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                 http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto params = query_params(req.target(), {"limit", "cursor"});
    if (!params) return out.fail(params.err());
    auto id = p.at("id");
    self->send_page(
        out, *params,
        [id](outbox_store& s, const page_request& page) -> result<std::vector<token_view>> {
            auto t = s.get_tenant(id);
            if (!t) return t.err();
            if (!*t) return no_tenant(id);
            return s.list_tokens(id, page);
        },
        [](const token_view& t) { return token_json(t); },
        [](const token_view& t) {
            return page_key{t.seq, t.seq};
        });
}

void revoke_token(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                  http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto tenant = p.at("id");
    auto token = p.at("token_id");
    self->write(
        out, [tenant, token](outbox_store& s, std::int64_t) { return s.revoke_token(tenant, token); },
        [self, out, tenant, token](const status& st) {
            if (!st) return out.fail(st.err());
            self->log->info("admin: revoked token {} of tenant {}", token, tenant);
            out.send(http_status::ok, json{{"id", token}, {"revoked", true}});
        });
}

// Who the caller is: an operator, or a tenant token with its tenant and the token's own
// row (what the console shows as the signed-in identity).
void who_am_i(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& rc,
              http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    if (!rc.who.tenant) return out.send(http_status::ok, json{{"access", "operator"}});
    // The router resolved this bearer token to rc.who.tenant: read its row again for its id
    // and expiry. A token revoked in between reads as gone (401, as on its next request).
    auto hash = hash_tenant_token(http::bearer_token(req).value_or(""));
    self->read(out, [out, hash, tenant = *rc.who.tenant](outbox_store& s) {
        auto token = s.find_token(hash);
        if (!token) return out.fail(token.err());
        auto t = s.get_tenant(tenant);
        if (!t) return out.fail(t.err());
        if (!*token || !*t || (*token)->tenant_id != tenant) {
            return out.fail(error_code::unauthorized, "the token was revoked");
        }
        out.send(http_status::ok, json{{"access", "tenant"}, {"tenant", tenant_json(**t)}, {"token", token_json(**token)}});
    });
}

}  // namespace

void add_tenant_routes(http::router& r, const std::shared_ptr<context>& ctx) {
    using http::verb;
    add_route(r, ctx, verb::get, "/v1/me", tenant_rows, bind(ctx, who_am_i));
    add_route(r, ctx, verb::post, "/v1/tenants", operators_only, bind(ctx, create_tenant));
    add_route(r, ctx, verb::get, "/v1/tenants", operators_only, bind(ctx, list_tenants));
    add_route(r, ctx, verb::get, "/v1/tenants/{id}", own_tenant, bind(ctx, get_tenant));
    add_route(r, ctx, verb::patch, "/v1/tenants/{id}", operators_only, bind(ctx, patch_tenant));
    add_route(r, ctx, verb::delete_, "/v1/tenants/{id}", operators_only, bind(ctx, delete_tenant));
    add_route(r, ctx, verb::post, "/v1/tenants/{id}/tokens", operators_only, bind(ctx, create_token));
    add_route(r, ctx, verb::get, "/v1/tenants/{id}/tokens", operators_only, bind(ctx, list_tokens));
    add_route(r, ctx, verb::delete_, "/v1/tenants/{id}/tokens/{token_id}", operators_only, bind(ctx, revoke_token));
}

}  // namespace webhookd::admin
