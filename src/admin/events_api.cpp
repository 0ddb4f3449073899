// The events resource: an event with its payload and its deliveries.

#include <boost/asio/post.hpp>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "admin/resources.hpp"
#include "util/endpoint_matcher.hpp"

namespace webhookd::admin {

namespace {

void get_event(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
               http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto id = p.at("id");
    self->read(out, [out, id](outbox_store& s) {
        auto e = s.get_event(id);
        if (!e) return out.fail(e.err());
        if (!*e) return out.fail(missing(resource_kind::event, id));
        out.send(http_status::ok, event_json(**e, true));
    });
}

void list_events(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
                 http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto params = query_params(req.target(), {"tenant", "event", "since", "until", "limit", "cursor"});
    if (!params) return out.fail(params.err());
    auto tenant = tenant_scope(p, get(*params, "tenant"));
    if (!tenant) return out.fail(tenant.err());
    event_filter f{*tenant, get(*params, "event"), std::nullopt, std::nullopt};
    for (auto [name, slot] : {std::pair{"since", &f.since_ms}, std::pair{"until", &f.until_ms}}) {
        if (auto v = get(*params, name)) {
            auto t = parse_time(name, *v);
            if (!t) return out.fail(t.err());
            *slot = *t;
        }
    }
    if (f.event_type && !is_valid_pattern(*f.event_type)) {
        return out.fail(error_code::invalid_field, "\"event\" must be an event name, a \"prefix.*\" pattern or \"*\"");
    }
    self->send_page(
        out, *params, [f](outbox_store& s, const page_request& page) { return s.list_events(f, page); },
        [](const event_view& e) { return event_json(e, false); },
        [](const event_view& e) {
            return page_key{e.seq, e.seq};
        });
}

}  // namespace

void add_event_routes(http::router& r, const std::shared_ptr<context>& ctx) {
    add_route(r, ctx, http::verb::get, "/v1/events", tenant_rows, bind(ctx, list_events));
    add_route(r, ctx, http::verb::get, "/v1/events/{id}", owned(resource_kind::event), bind(ctx, get_event));
}

}  // namespace webhookd::admin
