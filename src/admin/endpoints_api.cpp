// The endpoints resource: create, list, read, change, delete, pause and resume, rotate
// the secret, send a test event, read the attempt log.

#include <boost/asio/post.hpp>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "admin/resources.hpp"
#include "delivery/attempt_log.hpp"
#include "delivery/delivery_client.hpp"
#include "delivery/request_builder.hpp"
#include "delivery/signer.hpp"
#include "ingest/event_validator.hpp"
#include "metrics/metrics.hpp"
#include "store/lambda_unit.hpp"
#include "util/ids.hpp"
#include "util/time_format.hpp"

namespace webhookd::admin {

namespace {

namespace asio = boost::asio;

void send_test(const std::shared_ptr<context>& self, const reply& out, const endpoint_view& ep, const std::string& type,
               const std::string& data);

void create_endpoint(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                     http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto body = self->body_of(req, false);
    if (!body) return out.fail(body.err());
    std::optional<std::string> given_secret;
    auto settings = admin::parse_endpoint_settings(*body, true, &given_secret);
    if (!settings) return out.fail(settings.err());
    auto tenant = tenant_scope(p, settings->tenant);  // a tenant token creates in its own tenant
    if (!tenant) return out.fail(tenant.err());
    settings->tenant = *tenant;
    auto url = *settings->url;  // not from *settings: the lambda below moves it
    self->check_destination(url, [self, out, s = std::move(*settings), given_secret](std::string refusal) {
        if (!refusal.empty()) return out.fail(error_code::invalid_field, refusal);
        std::string secret;
        try {
            secret = given_secret ? *given_secret : generate_secret();
        } catch (const std::exception& e) {
            return out.fail(error_code::internal_error, e.what());
        }
        auto now = self->clk.now_ms();
        auto id = new_id("ep", self->clk.now());
        self->write(
            out,
            [id, s, secret](outbox_store& store, std::int64_t at) { return store.create_endpoint(id, s, secret, at); },
            [self, out, id, s, secret, now](const status& st) {
                if (!st) return out.fail(st.err());
                self->log->info("admin: created endpoint {} tenant={} url={} events={} body={} signature={}", id,
                                s.tenant.value_or("-"), *s.url, *s.patterns_json, *s.body_mode,
                                *s.signature_format);
                endpoint_view v;
                v.id = id;
                v.url = *s.url;
                v.description = *s.description;
                v.patterns_json = *s.patterns_json;
                v.signature_format = *s.signature_format;
                v.signature_header = *s.signature_header;
                v.headers_json = *s.headers_json;
                v.body_mode = *s.body_mode;
                v.enabled = *s.enabled;
                if (!v.enabled) {
                    v.disabled_reason = "manual";
                    v.disabled_ms = now;
                }
                v.created_ms = v.updated_ms = now;
                v.rate_limit = s.rate_limit.value_or(std::nullopt);
                v.ordering = s.ordering.value_or("unordered");
                v.tenant = s.tenant;
                v.secrets = {{secret, now, std::nullopt}};
                out.send(http_status::created, endpoint_json(v, secret));
            });
    });
}

void list_endpoints(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                    http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto params = query_params(req.target(), {"tenant", "limit", "cursor"});
    if (!params) return out.fail(params.err());
    auto tenant = tenant_scope(p, get(*params, "tenant"));
    if (!tenant) return out.fail(tenant.err());
    endpoint_filter f{*tenant};
    auto now = self->clk.now_ms();
    self->send_page(
        out, *params, [f, now](outbox_store& s, const page_request& page) { return s.list_endpoints(f, page, now); },
        [](const endpoint_view& e) { return endpoint_json(e); },
        [](const endpoint_view& e) {
            return page_key{e.seq, e.seq};
        });
}

// Answers with the endpoint as stored now (after a change), or 404.
void send_endpoint(const std::shared_ptr<context>& self, const reply& out, const std::string& id,
                   http_status code = http_status::ok) {
    auto now = self->clk.now_ms();
    self->read(out, [out, id, now, code](outbox_store& s) {
        auto e = s.get_endpoint(id, now);
        if (!e) return out.fail(e.err());
        if (!*e) return out.fail(missing(resource_kind::endpoint, id));
        out.send(code, endpoint_json(**e));
    });
}

void get_endpoint(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                  http::responder respond) {
    send_endpoint(self, make_reply(req, std::move(respond)), p.at("id"));
}

void patch_endpoint(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                    http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto body = self->body_of(req, false);
    if (!body) return out.fail(body.err());
    auto settings = admin::parse_endpoint_settings(*body, false, nullptr);
    if (!settings) return out.fail(settings.err());
    auto id = p.at("id");
    // The names of the fields changed, never their values: "headers" may carry a receiver's credentials.
    std::string changed;
    for (const auto& item : body->items()) changed += (changed.empty() ? "" : ", ") + item.key();
    auto apply = [self, out, id, s = *settings, changed](std::string refusal) {
        if (!refusal.empty()) return out.fail(error_code::invalid_field, refusal);
        self->write(
            out, [id, s](outbox_store& store, std::int64_t at) { return store.update_endpoint(id, s, at); },
            [self, out, id, changed](const status& st) {
                if (!st) return out.fail(st.err());
                self->log->info("admin: updated endpoint {}: {}", id, changed);
                send_endpoint(self, out, id);
            });
    };
    if (settings->url) return self->check_destination(std::string(*settings->url), std::move(apply));
    apply("");
}

void delete_endpoint(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                     http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto id = p.at("id");
    auto cancelled = std::make_shared<std::int64_t>(0);
    self->write(
        out, storing_into(cancelled, [id](outbox_store& s, std::int64_t) { return s.delete_endpoint(id); }),
        [self, out, id, cancelled](const status& st) {
            if (!st) return out.fail(st.err());
            self->log->info("admin: deleted endpoint {}; {} pending delivery(ies) cancelled", id, *cancelled);
            out.send(http_status::ok, json{{"id", id}, {"deleted", true}, {"cancelled_deliveries", *cancelled}});
        });
}

void pause(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
           http::responder respond, bool paused) {
    auto out = make_reply(req, std::move(respond));
    auto id = p.at("id");
    auto moved = std::make_shared<std::int64_t>(0);
    self->write(
        out,
        storing_into(moved, [id, paused](outbox_store& s, std::int64_t at) { return s.set_paused(id, paused, at); }),
        [self, out, id, paused, moved](const status& st) {
            if (!st) return out.fail(st.err());
            if (paused) {
                self->log->info("admin: paused endpoint {}", id);
            } else {
                self->log->info("admin: resumed endpoint {}; {} delivery(ies) rescheduled", id, *moved);
            }
            send_endpoint(self, out, id);
        });
}

void rotate_secret(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                   http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto body = self->body_of(req, true);
    if (!body) return out.fail(body.err());
    if (auto st = admin::only_fields(*body, {"grace_period", "secret"}); !st) return out.fail(st.err());
    duration grace = admin::default_grace_period;
    if (body->contains("grace_period")) {
        if (!(*body)["grace_period"].is_string()) {
            return out.fail(error_code::invalid_field, "\"grace_period\" must be a duration string");
        }
        auto g = admin::parse_grace_period((*body)["grace_period"].get<std::string>());
        if (!g) return out.fail(g.err());
        grace = *g;
    }
    std::string secret;
    if (body->contains("secret")) {
        const auto& s = (*body)["secret"];
        if (!s.is_string() || !is_valid_secret(s.get<std::string>())) {
            return out.fail(error_code::invalid_field,
                            "\"secret\" must be \"whsec_\" followed by the base64 of 24 to 64 random bytes");
        }
        secret = s.get<std::string>();
    } else {
        try {
            secret = generate_secret();
        } catch (const std::exception& e) {
            return out.fail(error_code::internal_error, e.what());
        }
    }
    auto id = p.at("id");
    auto now = self->clk.now_ms();
    auto until = now + std::chrono::duration_cast<std::chrono::milliseconds>(grace).count();
    self->write(
        out,
        [id, secret, until](outbox_store& s, std::int64_t at) {
            return s.rotate_secret(id, secret, std::max(until, at), at, admin::max_previous_secrets);
        },
        [self, out, id, secret, until](const status& st) {
            if (!st) return out.fail(st.err());
            // Not even the masked secret: no part of a secret goes to the self->log.
            self->log->info("admin: rotated the secret of endpoint {}; previous secrets valid until {}", id,
                            format_rfc3339_ms(until));
            out.send(http_status::ok,
                     json{{"id", id}, {"secret", secret}, {"previous_secrets_expire_at", format_rfc3339_ms(until)}});
        });
}

void test_endpoint(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                   http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto body = self->body_of(req, true);
    if (!body) return out.fail(body.err());
    if (auto st = admin::only_fields(*body, {"event", "data"}); !st) return out.fail(st.err());
    std::string type = "webhook.test";
    if (body->contains("event")) {
        const auto& e = (*body)["event"];
        if (!e.is_string() || !is_valid_token(e.get<std::string>(), max_event_type_length)) {
            return out.fail(error_code::invalid_field, "\"event\" must be 1-128 characters of [A-Za-z0-9_.:-]");
        }
        type = e.get<std::string>();
    }
    // The data as the operator wrote it (key order kept), minified like ingest stores it.
    std::string data =
        body->contains("data") ? json::parse(req.body())["data"].dump() : std::string(R"({"test":true})");
    auto id = p.at("id");
    auto now = self->clk.now_ms();
    self->read(out, [self, out, id, type, data, now](outbox_store& s) {
        auto e = s.get_endpoint(id, now);
        if (!e) return out.fail(e.err());
        if (!*e) return out.fail(missing(resource_kind::endpoint, id));
        asio::post(self->ioc, [self, out, ep = std::move(**e), type, data] { send_test(self, out, ep, type, data); });
    });
}

void send_test(const std::shared_ptr<context>& self, const reply& out, const endpoint_view& ep, const std::string& type,
               const std::string& data) {
    endpoint_record rec;
    rec.id = ep.id;
    rec.tenant = ep.tenant;
    rec.url = ep.url;
    rec.body_mode = ep.body_mode;
    rec.signature_format = ep.signature_format;
    rec.signature_header = ep.signature_header;
    rec.headers_json = ep.headers_json;
    rec.enabled = ep.enabled;
    rec.paused_at_ms = ep.paused_ms;
    for (const auto& s : ep.secrets) {
        if (is_valid_secret(s.secret)) rec.secrets.push_back(s.secret);
    }
    if (rec.secrets.empty()) {
        return out.fail(error_code::conflict, "endpoint " + ep.id + " has no valid signing secret");
    }
    auto at = self->clk.now();
    auto event = build_envelope(new_id("evt", at), type, format_rfc3339(at), data);
    claimed_delivery d;
    d.endpoint_id = ep.id;
    d.event_id = event.id;
    d.event_type = type;
    d.attempt = 1;
    d.ladder_attempt = 1;
    d.envelope = event.body;
    d.data_offset = event.data_offset;
    auto started = self->clk.now_ms();
    auto request = build_request(rec, d, started / 1000);
    self->log->info("admin: sending test event {} ({}) to endpoint {} tenant={}", event.id, type, ep.id,
                    ep.tenant.value_or("-"));
    self->client.send(std::move(request), [self, out, d, started](delivery_response r) {
        self->stats.test_sends[static_cast<std::size_t>(r.outcome)].inc();
        auto rec = attempt_record_of(0, d.endpoint_id, 1, started, r);
        json answer{
            {"endpoint_id", d.endpoint_id},
            {"event_id", d.event_id},
            {"event", d.event_type},
            {"success", rec.outcome == attempt_outcome::success},
            {"outcome", to_string(rec.outcome)},
            {"status_code", rec.status_code ? json(rec.status_code) : json(nullptr)},
            {"latency_ms", static_cast<double>(rec.duration_us) / 1000.0},
            {"error", text_or_null(rec.error)},
            {"response", rec.response_snippet},
        };
        // Answer once the attempt is in the log, so a list right after shows it.
        self->write(
            out,
            [rec](outbox_store& s, std::int64_t at) -> status {
                // A test send leaves the endpoint's health alone: no policy applies.
                if (auto r = s.record_attempt(rec, health_policy{}, at); !r) return r.err();
                return ok_v;
            },
            [out, answer](const status& st) {
                if (!st) return out.fail(st.err());
                out.send(http_status::ok, answer);
            });
    });
}

void list_endpoint_attempts(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                            http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto params = query_params(req.target(), {"limit", "cursor"});
    if (!params) return out.fail(params.err());
    auto id = p.at("id");
    auto now = self->clk.now_ms();
    self->send_page(
        out, *params,
        [id, now](outbox_store& s, const page_request& page) -> result<std::vector<attempt_view>> {
            auto e = s.get_endpoint(id, now);
            if (!e) return e.err();
            if (!*e) return missing(resource_kind::endpoint, id);
            return s.list_attempts(id, page);
        },
        attempt_json,
        [](const attempt_view& a) {
            return page_key{a.id, a.id};
        });
}

}  // namespace

void add_endpoint_routes(http::router& r, const std::shared_ptr<context>& ctx) {
    using http::verb;
    constexpr auto own = owned(resource_kind::endpoint);
    add_route(r, ctx, verb::post, "/v1/endpoints", tenant_rows, bind(ctx, create_endpoint));
    add_route(r, ctx, verb::get, "/v1/endpoints", tenant_rows, bind(ctx, list_endpoints));
    add_route(r, ctx, verb::get, "/v1/endpoints/{id}", own, bind(ctx, get_endpoint));
    add_route(r, ctx, verb::patch, "/v1/endpoints/{id}", own, bind(ctx, patch_endpoint));
    add_route(r, ctx, verb::delete_, "/v1/endpoints/{id}", own, bind(ctx, delete_endpoint));
    add_route(r, ctx, verb::post, "/v1/endpoints/{id}/pause", own, bind<bool>(ctx, pause, true));
    add_route(r, ctx, verb::post, "/v1/endpoints/{id}/resume", own, bind<bool>(ctx, pause, false));
    add_route(r, ctx, verb::post, "/v1/endpoints/{id}/rotate-secret", own, bind(ctx, rotate_secret));
    add_route(r, ctx, verb::post, "/v1/endpoints/{id}/test", own, bind(ctx, test_endpoint));
    add_route(r, ctx, verb::get, "/v1/endpoints/{id}/attempts", own, bind(ctx, list_endpoint_attempts));
}

}  // namespace webhookd::admin
