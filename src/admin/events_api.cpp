// The events resource: an event with its payload and its deliveries.

#include <boost/asio/post.hpp>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "admin/resources.hpp"
#include "util/time_format.hpp"

namespace webhookd::admin {

namespace {

void get_event(const std::shared_ptr<context>& self, http::request&& req, const http::route_context& p,
               http::responder respond) {
    auto out = make_reply(req, std::move(respond));
    auto id = p.at("id");
    self->read(out, [out, id](outbox_store& s) {
        auto e = s.get_event(id);
        if (!e) return out.fail(e.err());
        if (!*e) return out.fail(error_code::not_found, "event " + id + " does not exist");
        const auto& ev = **e;
        auto data_text = ev.body.substr(ev.data_offset, ev.body.size() - ev.data_offset - 1);
        json deliveries = json::array();
        for (const auto& d : ev.deliveries) deliveries.push_back(delivery_json(d, false));
        out.send(http_status::ok, json{{"id", ev.id},
                                       {"event", ev.type},
                                       {"timestamp", ev.timestamp},
                                       {"created_at", format_rfc3339_ms(ev.created_ms)},
                                       {"data", json::parse(data_text, nullptr, false)},
                                       {"deliveries", deliveries}});
    });
}

}  // namespace

void add_event_routes(http::router& r, const std::shared_ptr<context>& ctx) {
    r.add(http::verb::get, "/v1/events/{id}", http::access::listener, bind(ctx, get_event));
}

}  // namespace webhookd::admin
