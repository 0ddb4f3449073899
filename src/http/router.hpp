#pragma once
// Maps (method, path) to handlers. Patterns are literal segments and "{name}" segments
// that match one non-empty segment. Unknown paths answer 404 not_found; known paths with
// another method answer 405 method_not_allowed with Allow. Routes marked `auth` answer
// 401 unauthorized unless the bearer token is one of the listener's tokens.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "http/types.hpp"

namespace webhookd::http {

using path_params = std::map<std::string, std::string, std::less<>>;
using handler_fn = std::function<void(request&& req, const path_params& params, responder respond)>;

struct route_info {
    verb method;
    std::string pattern;
};

class router final : public request_handler {
public:
    explicit router(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {}

    void add(verb method, std::string pattern, handler_fn fn, bool auth = true);
    void handle(request&& req, responder respond) override;

    // Every registered route, in registration order (for docs and their test).
    std::vector<route_info> routes() const;

private:
    struct route {
        verb method;
        std::string pattern;
        std::vector<std::string> segments;
        handler_fn fn;
        bool auth;
    };
    std::vector<std::string> tokens_;
    std::vector<route> routes_;
};

// The path of a request target without its query string.
std::string_view target_path(std::string_view target);

// The decoded value of query parameter `name`, if present.
std::optional<std::string> query_param(std::string_view target, std::string_view name);

}  // namespace webhookd::http
