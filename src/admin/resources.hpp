#pragma once
// The admin API's resources, a file each: endpoints (endpoints_api.cpp), events
// (events_api.cpp), deliveries and dead letters (deliveries_api.cpp). Each adds its routes
// to the admin router, and each route declares who may call it.

#include <memory>

#include "admin/admin_context.hpp"
#include "http/router.hpp"

namespace webhookd::admin {

void add_endpoint_routes(http::router& r, const std::shared_ptr<context>& ctx);
void add_event_routes(http::router& r, const std::shared_ptr<context>& ctx);
void add_delivery_routes(http::router& r, const std::shared_ptr<context>& ctx);

// A route handler of a resource: the context first, then what the router hands over.
template <class... Extra>
using resource_fn = void (*)(const std::shared_ptr<context>&, http::request&&, const http::route_context&,
                             http::responder, Extra...);

// The router's handler for `fn` with `ctx` (and extra arguments fixed at registration).
template <class... Extra>
http::handler_fn bind(const std::shared_ptr<context>& ctx, resource_fn<Extra...> fn, Extra... extra) {
    return [ctx, fn, extra...](http::request&& req, const http::route_context& rc, http::responder respond) {
        fn(ctx, std::move(req), rc, std::move(respond), extra...);
    };
}

}  // namespace webhookd::admin
