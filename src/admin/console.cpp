#include "admin/console.hpp"

#include <memory>
#include <string>

#include "http/types.hpp"

namespace webhookd::admin {

namespace {

namespace bh = http::beast_http;

http::response console_response(const http::request& req, const console_file& file, const std::string& csp,
                                bool immutable) {
    auto res = http::body_response(req, http::status::ok, file.content_type, std::string(file.body));
    res.set("Content-Security-Policy", csp);
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Referrer-Policy", "no-referrer");
    res.set(bh::field::cache_control, immutable ? "public, max-age=31536000, immutable" : "no-store");
    return res;
}

}  // namespace

std::string console_csp(std::string_view frame_ancestors) {
    return "default-src 'self'; base-uri 'none'; form-action 'self'; object-src 'none'; frame-ancestors " +
           std::string(frame_ancestors);
}

void add_console_routes(http::router& r, const console_config& cfg) {
    auto csp = std::make_shared<const std::string>(console_csp(cfg.frame_ancestors));
    r.add(http::verb::get, "/console/*", http::access::anyone,
          [csp](http::request&& req, const http::route_context& rc, http::responder respond) {
              const auto& files = detail::console_files();
              const auto& path = rc.at("*");
              if (!path.starts_with("assets/")) return respond(console_response(req, files.front(), *csp, false));
              for (const auto& f : files) {
                  if (f.path == path) return respond(console_response(req, f, *csp, true));
              }
              respond(http::json_error(req, http::status::not_found, error_code::not_found,
                                       "no console asset " + path));
          });
}

}  // namespace webhookd::admin
