#pragma once
// The admin API's resources, a file each: endpoints (endpoints_api.cpp), events
// (events_api.cpp), deliveries and dead letters (deliveries_api.cpp), tenants and their
// tokens (tenants_api.cpp). Each adds its routes to the admin router through add_route,
// and each route declares its policy: who may call it, and what a tenant token reaches
// through it.

#include <memory>
#include <optional>
#include <string>

#include "admin/admin_context.hpp"
#include "http/router.hpp"

namespace webhookd::admin {

// Who may call a route. Operator tokens (admin.tokens) reach every route; a tenant token
// reaches only the routes whose policy admits it, and through them only its own tenant.
struct policy {
    enum class kind {
        operators,  // operator tokens only: a tenant token is answered 403
        tenant,     // lists and creations: the handler confines them to tenant_scope()
        owned,      // the path's {id} is a resource: another tenant's (or the platform's) is
                    // answered 404 exactly like a missing one, before the handler runs
        own_tenant, // the path's {id} is a tenant: a tenant token may name only its own (403)
    };
    kind k = kind::operators;
    resource_kind resource = resource_kind::endpoint;  // what {id} names, for `owned`
};

inline constexpr policy operators_only{policy::kind::operators};
inline constexpr policy tenant_rows{policy::kind::tenant};
inline constexpr policy own_tenant{policy::kind::own_tenant};
constexpr policy owned(resource_kind r) { return policy{policy::kind::owned, r}; }

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

// Adds a route with its policy: the router checks the token, and for `owned` and
// `own_tenant` a tenant caller's {id} is checked here before fn runs.
void add_route(http::router& r, const std::shared_ptr<context>& ctx, http::verb method, std::string pattern,
               policy p, http::handler_fn fn);

// The error of a resource that does not exist, or that a tenant token may not see: the
// same message either way, so an answer never tells one from the other.
error missing(resource_kind kind, std::string_view id);

// The tenant a list or a creation is for. A tenant caller's own; naming another is 403.
// An operator's is the one asked for (none: every tenant's and the platform's rows).
result<std::optional<std::string>> tenant_scope(const http::route_context& rc, const std::optional<std::string>& asked);

void add_endpoint_routes(http::router& r, const std::shared_ptr<context>& ctx);
void add_event_routes(http::router& r, const std::shared_ptr<context>& ctx);
void add_delivery_routes(http::router& r, const std::shared_ptr<context>& ctx);
void add_tenant_routes(http::router& r, const std::shared_ptr<context>& ctx);

}  // namespace webhookd::admin
