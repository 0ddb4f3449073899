#pragma once
// Maps (method, path) to handlers, and checks who may call each route before its handler
// runs. Patterns are literal segments, "{name}" segments that match one non-empty segment,
// and a last segment "*" that matches the rest of the path (none or more segments; the
// params hold it under "*", without a leading slash): "/console/*" serves a whole tree.
//
// Unknown paths answer 404 not_found; known paths with another method answer 405
// method_not_allowed with Allow. Every route declares its access: a route open to anyone
// runs for every caller; any other answers 401 unauthorized to a caller without a valid
// token, and without one nothing but open routes answers at all (not even 404 or 405), so
// that a client without a token learns nothing of the API.
//
// A listener may also accept tokens of its own kind that a resolver checks (the admin
// listener's tenant tokens): such a caller reaches only `scoped` routes (403 forbidden on
// the others), and those routes see whose token it is and answer for that tenant only.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "http/types.hpp"

namespace webhookd::http {

using path_params = std::map<std::string, std::string, std::less<>>;

// Who may call a route.
enum class access {
    anyone,    // no token needed (the probes)
    listener,  // a token of this listener (ingest.tokens on ingest, admin.tokens on admin)
    scoped,    // those, or a resolved token, whose tenant the route's policy confines it to
};

// Who is calling, as the router authenticated them.
struct caller {
    bool has_listener_token = false;    // or the listener has no tokens: everyone is trusted
    std::optional<std::string> tenant;  // a resolved token's tenant: it sees only this one
};

// Checks a bearer token that is none of the listener's. Returns false when the token is not
// of the kind it resolves (done is not called); otherwise calls done once, at once or later
// on an io thread, with the tenant of a valid token, nullopt for an unknown, expired or
// revoked one, or an error when it could not tell (the request answers it).
using token_resolver = std::function<bool(std::string_view token,
                                          std::function<void(result<std::optional<std::string>>)> done)>;

// What a handler gets besides the request: the path's parameters and the caller.
struct route_context {
    path_params params;
    caller who;
    // The value of path parameter `name`. Precondition: the route's pattern has it.
    const std::string& at(std::string_view name) const { return params.find(name)->second; }
};

using handler_fn = std::function<void(request&& req, const route_context& ctx, responder respond)>;

struct route_info {
    verb method;
    std::string pattern;
    access who;
};

class router final : public request_handler {
public:
    explicit router(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {}

    // Resolves the tokens that are not in `tokens` (set before serving).
    void set_token_resolver(token_resolver resolve) { resolve_ = std::move(resolve); }

    void add(verb method, std::string pattern, access who, handler_fn fn);
    void handle(request&& req, responder respond) override;

    // Every registered route, in registration order (for docs and their test).
    std::vector<route_info> routes() const;

private:
    struct route {
        verb method;
        std::string pattern;
        std::vector<std::string> segments;
        access who;
        handler_fn fn;
    };
    // The matched route (or none, with the methods allowed on the path) runs for `who`.
    void dispatch(const route* found, const std::string& allow, route_context ctx, request&& req,
                  responder respond) const;

    std::vector<std::string> tokens_;
    token_resolver resolve_;
    std::vector<route> routes_;
};

// The path of a request target without its query string.
std::string_view target_path(std::string_view target);

// The decoded value of query parameter `name`, if present.
std::optional<std::string> query_param(std::string_view target, std::string_view name);

}  // namespace webhookd::http
