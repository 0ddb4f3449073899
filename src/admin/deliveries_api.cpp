// The deliveries and dead-letters resources: the delivery log, filtered and paged, one
// delivery with its attempts, and dead letters with replay (one or in bulk) and deletion.

#include <boost/asio/post.hpp>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "admin/resources.hpp"
#include "store/lambda_unit.hpp"
#include "util/endpoint_matcher.hpp"

namespace webhookd::admin {

namespace {

// The delivery id in the path ("dlv_42"); answers 404 and returns nullopt when the path
// holds no delivery id.
std::optional<std::int64_t> id_param(const http::route_context& p, const reply& out, resource_kind kind) {
    auto id = parse_delivery_id(p.at("id"));
    if (!id) out.fail(missing(kind, p.at("id")));
    return id;
}

// Filters shared by the delivery and dead-letter lists (and bulk retry); the tenant is the
// caller's scope (a tenant token's own).
template <class Filter>
status read_common_filter(const http::route_context& rc, const std::map<std::string, std::string, std::less<>>& params,
                          Filter& f) {
    auto tenant = tenant_scope(rc, get(params, "tenant"));
    if (!tenant) return tenant.err();
    f.tenant = *tenant;
    if (auto v = get(params, "endpoint_id")) f.endpoint_id = *v;
    if (auto v = get(params, "event")) {
        if (!is_valid_pattern(*v)) {
            return error{error_code::invalid_field, "\"event\" must be an event name, a \"prefix.*\" pattern or \"*\""};
        }
        f.event_type = *v;
    }
    for (auto [name, slot] : {std::pair{"since", &f.since_ms}, std::pair{"until", &f.until_ms}}) {
        if (auto v = get(params, name)) {
            auto t = admin::parse_time(name, *v);
            if (!t) return t.err();
            *slot = *t;
        }
    }
    return ok_v;
}

void list_deliveries(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                     http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto params =
        query_params(req.target(), {"status", "tenant", "endpoint_id", "event_id", "event", "since", "until", "limit",
                                    "cursor"});
    if (!params) return out.fail(params.err());
    delivery_filter f;
    f.event_id = get(*params, "event_id");
    if (auto v = get(*params, "status")) {
        if (*v != "pending" && *v != "delivered" && *v != "dead") {
            return out.fail(error_code::invalid_field, "\"status\" must be \"pending\", \"delivered\" or \"dead\"");
        }
        f.status = *v;
    }
    if (auto st = read_common_filter(p, *params, f); !st) return out.fail(st.err());
    self->send_page(
        out, *params, [f](outbox_store& s, const page_request& page) { return s.list_deliveries(f, page); },
        [](const delivery_view& d) { return delivery_json(d, false); },
        [](const delivery_view& d) {
            return page_key{d.id, d.id};
        });
}

void get_delivery(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                  http::responder respond, bool dead_only) {
    auto out = make_reply(req, std::move(respond));
    auto kind = dead_only ? resource_kind::dead_letter : resource_kind::delivery;
    auto id = id_param(p, out, kind);
    if (!id) return;
    self->read(out, [out, id = *id, dead_only, kind](outbox_store& s) {
        auto d = dead_only ? s.get_dead_letter(id) : s.get_delivery(id);
        if (!d) return out.fail(d.err());
        if (!*d) return out.fail(missing(kind, delivery_name(id)));
        out.send(http_status::ok, delivery_json(**d, true));
    });
}

void list_dead_letters(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                       http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto params = query_params(req.target(), {"tenant", "endpoint_id", "event", "since", "until", "limit", "cursor"});
    if (!params) return out.fail(params.err());
    dead_letter_filter f;
    if (auto st = read_common_filter(p, *params, f); !st) return out.fail(st.err());
    self->send_page(
        out, *params, [f](outbox_store& s, const page_request& page) { return s.list_dead_letters(f, page); },
        [](const delivery_view& d) { return delivery_json(d, false); },
        [](const delivery_view& d) {
            return page_key{d.died_ms.value_or(0), d.id};
        });
}

void retry_dead_letter(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                       http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto id = id_param(p, out, resource_kind::dead_letter);
    if (!id) return;
    self->write(
        out, [id = *id](outbox_store& s, std::int64_t at) { return s.requeue_dead_letter(id, at); },
        [self, out, id = *id](const status& st) {
            if (!st) return out.fail(st.err());
            self->log->info("admin: dead letter {} requeued with a fresh retry schedule", delivery_name(id));
            out.send(http_status::ok, json{{"id", delivery_name(id)}, {"status", "pending"}, {"requeued", true}});
        });
}

// Svix's "resend": a delivered or dead delivery again, with a fresh ladder.
void retry_delivery(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                    http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto id = id_param(p, out, resource_kind::delivery);
    if (!id) return;
    self->write(
        out, [id = *id](outbox_store& s, std::int64_t at) { return s.retry_delivery(id, at); },
        [self, out, id = *id](const status& st) {
            if (!st) return out.fail(st.err());
            self->log->info("admin: delivery {} sent again with a fresh retry schedule", delivery_name(id));
            out.send(http_status::ok, json{{"id", delivery_name(id)}, {"status", "pending"}, {"requeued", true}});
        });
}

void retry_dead_letters(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                        http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto body = self->body_of(req, true);
    if (!body) return out.fail(body.err());
    if (auto st = admin::only_fields(*body, {"tenant", "endpoint_id", "event", "since", "until", "dry_run"}); !st) {
        return out.fail(st.err());
    }
    std::map<std::string, std::string, std::less<>> params;
    for (auto name : {"tenant", "endpoint_id", "event", "since", "until"}) {
        if (!body->contains(name)) continue;
        const auto& v = (*body)[name];
        if (v.is_number_integer() && (std::string_view(name) == "since" || std::string_view(name) == "until")) {
            params[name] = std::to_string(v.get<std::int64_t>());
        } else if (v.is_string()) {
            params[name] = v.get<std::string>();
        } else {
            return out.fail(error_code::invalid_field, "\"" + std::string(name) + "\" must be a string");
        }
    }
    bool dry_run = false;
    if (body->contains("dry_run")) {
        if (!(*body)["dry_run"].is_boolean()) {
            return out.fail(error_code::invalid_field, "\"dry_run\" must be true or false");
        }
        dry_run = (*body)["dry_run"].get<bool>();
    }
    dead_letter_filter f;
    if (auto st = read_common_filter(p, params, f); !st) return out.fail(st.err());
    auto counted = std::make_shared<requeue_result>();
    self->write(
        out,
        storing_into(counted,
                     [f, dry_run](outbox_store& s, std::int64_t at) { return s.requeue_dead_letters(f, at, dry_run); }),
        [self, out, dry_run, counted, filter = body->dump()](const status& st) {
            if (!st) return out.fail(st.err());
            if (!dry_run) {
                self->log->info("admin: bulk retry {} requeued {} dead letter(s), skipped {} of deleted endpoints",
                                filter, counted->requeued, counted->skipped);
            }
            out.send(http_status::ok, json{{"requeued", dry_run ? 0 : counted->requeued},
                                           {"matched", counted->requeued},
                                           {"skipped", counted->skipped},
                                           {"dry_run", dry_run}});
        });
}

void delete_dead_letter(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                        http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto id = id_param(p, out, resource_kind::dead_letter);
    if (!id) return;
    self->write(
        out, [id = *id](outbox_store& s, std::int64_t) { return s.delete_dead_letter(id); },
        [self, out, id = *id](const status& st) {
            if (!st) return out.fail(st.err());
            self->log->info("admin: deleted dead letter {}", delivery_name(id));
            out.send(http_status::ok, json{{"id", delivery_name(id)}, {"deleted", true}});
        });
}

}  // namespace

void add_delivery_routes(http::router& r, const std::shared_ptr<context>& ctx) {
    using http::verb;
    constexpr auto delivery = owned(resource_kind::delivery);
    constexpr auto dead = owned(resource_kind::dead_letter);
    add_route(r, ctx, verb::get, "/v1/deliveries", tenant_rows, bind(ctx, list_deliveries));
    add_route(r, ctx, verb::get, "/v1/deliveries/{id}", delivery, bind<bool>(ctx, get_delivery, false));
    add_route(r, ctx, verb::post, "/v1/deliveries/{id}/retry", delivery, bind(ctx, retry_delivery));
    add_route(r, ctx, verb::get, "/v1/dead-letters", tenant_rows, bind(ctx, list_dead_letters));
    add_route(r, ctx, verb::post, "/v1/dead-letters/retry", tenant_rows, bind(ctx, retry_dead_letters));
    add_route(r, ctx, verb::get, "/v1/dead-letters/{id}", dead, bind<bool>(ctx, get_delivery, true));
    add_route(r, ctx, verb::post, "/v1/dead-letters/{id}/retry", dead, bind(ctx, retry_dead_letter));
    add_route(r, ctx, verb::delete_, "/v1/dead-letters/{id}", dead, bind(ctx, delete_dead_letter));
}

}  // namespace webhookd::admin
