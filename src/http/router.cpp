#include "http/router.hpp"

#include <boost/url/parse.hpp>

namespace webhookd::http {

namespace {

std::vector<std::string> split_path(std::string_view path) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < path.size()) {
        if (path[pos] == '/') {
            ++pos;
            continue;
        }
        auto end = path.find('/', pos);
        if (end == std::string_view::npos) end = path.size();
        out.emplace_back(path.substr(pos, end - pos));
        pos = end;
    }
    return out;
}

bool match(const std::vector<std::string>& pattern, const std::vector<std::string>& path, path_params& params) {
    bool rest = !pattern.empty() && pattern.back() == "*";
    std::size_t fixed = rest ? pattern.size() - 1 : pattern.size();
    if (rest ? path.size() < fixed : path.size() != fixed) return false;
    for (std::size_t i = 0; i < fixed; ++i) {
        const auto& p = pattern[i];
        if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
            params[p.substr(1, p.size() - 2)] = path[i];
        } else if (p != path[i]) {
            return false;
        }
    }
    if (rest) {
        std::string tail;
        for (std::size_t i = fixed; i < path.size(); ++i) tail += (i > fixed ? "/" : "") + path[i];
        params["*"] = std::move(tail);
    }
    return true;
}

}  // namespace

std::string_view target_path(std::string_view target) {
    auto q = target.find('?');
    return q == std::string_view::npos ? target : target.substr(0, q);
}

std::optional<std::string> query_param(std::string_view target, std::string_view name) {
    auto parsed = boost::urls::parse_origin_form(target);
    if (!parsed) return std::nullopt;
    auto params = parsed->params();
    auto it = params.find(name);
    if (it == params.end()) return std::nullopt;
    return std::string((*it).value);
}

void router::add(verb method, std::string pattern, access who, handler_fn fn) {
    auto segments = split_path(pattern);
    routes_.push_back(route{method, std::move(pattern), std::move(segments), who, std::move(fn)});
}

std::vector<route_info> router::routes() const {
    std::vector<route_info> out;
    for (const auto& r : routes_) out.push_back({r.method, r.pattern, r.who});
    return out;
}

void router::handle(request&& req, responder respond) {
    auto path = split_path(target_path(req.target()));
    const route* found = nullptr;
    std::string allow;
    path_params params;
    for (const auto& r : routes_) {
        path_params p;
        if (!match(r.segments, path, p)) continue;
        if (r.method == req.method()) {
            found = &r;
            params = std::move(p);
            break;
        }
        if (!allow.empty()) allow += ", ";
        allow += std::string(beast_http::to_string(r.method));
    }
    route_context ctx{std::move(params), caller{}};
    auto bearer = bearer_token(req);
    if (bearer && !is_listener_token(*bearer, tokens_) && resolve_) {
        // Perhaps a tenant token: the request waits for the resolver.
        auto held = std::make_shared<request>(std::move(req));
        auto on_resolved = [this, found, allow, ctx, held, respond](result<std::optional<std::string>> tenant) mutable {
            if (!tenant) return respond(json_error(*held, tenant.err()));
            if (*tenant) {
                ctx.who.has_listener_token = true;
                ctx.who.tenant = std::move(*tenant);
            }
            // An unknown, expired or revoked tenant token is refused even where the listener
            // has no tokens of its own.
            dispatch(found, allow, std::move(ctx), std::move(*held), std::move(respond));
        };
        if (resolve_(*bearer, on_resolved)) return;
        req = std::move(*held);  // not a token of the resolver's kind
    }
    ctx.who.has_listener_token = tokens_.empty() || (bearer && is_listener_token(*bearer, tokens_));
    dispatch(found, allow, std::move(ctx), std::move(req), std::move(respond));
}

void router::dispatch(const route* found, const std::string& allow, route_context ctx, request&& req,
                      responder respond) const {
    // Without a valid token nothing but open routes answers, not even 404 or 405, so
    // that an unauthenticated client learns nothing of the API.
    bool open = found && found->who == access::anyone;
    if (!open && !ctx.who.has_listener_token) {
        auto res = json_error(req, status::unauthorized, error_code::unauthorized, "a valid bearer token is required");
        res.set(beast_http::field::www_authenticate, "Bearer");
        return respond(std::move(res));
    }
    if (found && ctx.who.tenant && found->who == access::listener) {
        return respond(json_error(req, status::forbidden, error_code::forbidden,
                                  "a tenant token may not call " + std::string(req.method_string()) + " " +
                                      found->pattern));
    }
    if (found) return found->fn(std::move(req), ctx, std::move(respond));
    if (!allow.empty()) {
        auto res = json_error(req, status::method_not_allowed, error_code::method_not_allowed,
                              std::string(req.method_string()) + " is not allowed here; allowed: " + allow);
        res.set(beast_http::field::allow, allow);
        return respond(std::move(res));
    }
    respond(json_error(req, status::not_found, error_code::not_found, "no such resource: " + std::string(target_path(req.target()))));
}

}  // namespace webhookd::http
