#include "admin/admin_context.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/url/parse.hpp>

#include <spdlog/spdlog.h>

#include "delivery/dispatcher.hpp"
#include "delivery/url.hpp"
#include "store/lambda_unit.hpp"
#include "store/writer.hpp"

namespace webhookd::admin {

namespace asio = boost::asio;

namespace {

// How long registration waits for DNS before it lets the connect-time check decide.
constexpr auto registration_dns_deadline = std::chrono::seconds(3);

bool is_json_body(const http::request& req) {
    if (req.body().empty()) return true;
    auto ct = req[http::beast_http::field::content_type];
    auto mime = ct.substr(0, ct.find(';'));
    while (!mime.empty() && mime.back() == ' ') mime.remove_suffix(1);
    return boost::beast::iequals(mime, "application/json");
}

}  // namespace

// The query parameters of a target; an unknown one is an error that names it.
result<query_map> query_params(std::string_view target, std::initializer_list<std::string_view> allowed) {
    query_map out;
    auto parsed = boost::urls::parse_origin_form(target);
    if (!parsed) return error{error_code::invalid_field, "the query string is malformed"};
    for (auto p : parsed->params()) {
        if (std::find(allowed.begin(), allowed.end(), p.key) == allowed.end()) {
            return error{error_code::invalid_field, "unknown query parameter \"" + p.key + "\""};
        }
        out[p.key] = p.value;
    }
    return out;
}

std::optional<std::string> get(const query_map& m, std::string_view key) {
    auto it = m.find(key);
    if (it == m.end()) return std::nullopt;
    return it->second;
}

context::context(asio::io_context& i, const config& c, writer& w, reader& r, std::shared_ptr<dispatcher> d,
                 delivery_client& cl, metrics& m, const clock& k, std::shared_ptr<spdlog::logger> l)
    : ioc(i),
      db_writer(w),
      db_reader(r),
      dispatch(std::move(d)),
      client(cl),
      stats(m),
      clk(k),
      log(std::move(l)),
      allowed_cidrs(c.delivery.allowed_cidrs) {}

// Runs apply(store, now) in the writer's next group; then(status) runs on an io thread
// after the commit. The dispatcher reloads after every change.
void context::write(const reply& out, std::function<status(outbox_store&, std::int64_t)> apply,
                    std::function<void(const status&)> then) {
    auto self = shared_from_this();
    bool queued = db_writer.submit(make_unit(std::move(apply), [self, then = std::move(then)](const status& st) {
        asio::post(self->ioc, [self, then, st] {
            if (st) self->dispatch->notify_changed();
            then(st);
        });
    }));
    if (!queued) out.fail(error_code::shutting_down, "webhookd is shutting down");
}

result<nlohmann::json> context::body_of(const http::request& req, bool empty_is_object) {
    if (!is_json_body(req)) return error{error_code::unsupported_media_type, "Content-Type must be application/json"};
    return admin::parse_object(req.body(), empty_is_object);
}

// The SSRF check at registration: the URL's host must not be (or resolve to) a blocked
// address unless delivery.allowed_cidrs allows it. done(refusal) with an empty string
// when allowed. A host that does not resolve (yet) is allowed: every connect checks again.
void context::check_destination(std::string url, std::function<void(std::string)> done) {
    auto t = parse_target(url);
    if (!t) return done("\"url\": " + t.err().message);
    if (t->literal) {
        auto v = check_address(*t->literal, allowed_cidrs);
        return done(v.allowed ? "" : "\"url\": " + v.reason);
    }
    struct lookup {
        asio::ip::tcp::resolver resolver;
        asio::steady_timer timer;
        explicit lookup(asio::io_context& i) : resolver(i), timer(i) {}
    };
    auto l = std::make_shared<lookup>(ioc);
    l->timer.expires_after(registration_dns_deadline);
    l->timer.async_wait([l](boost::system::error_code ec) {
        if (!ec) l->resolver.cancel();
    });
    auto self = shared_from_this();
    l->resolver.async_resolve(t->host, t->port,
                              [self, l, host = t->host, done = std::move(done)](
                                  boost::system::error_code ec, asio::ip::tcp::resolver::results_type results) {
                                  l->timer.cancel();
                                  if (ec) {
                                      self->log->info(
                                          "admin: {} does not resolve now ({}); it is checked again at every connect",
                                          host, ec.message());
                                      return done("");
                                  }
                                  for (const auto& entry : results) {
                                      auto v = check_address(entry.endpoint().address(), self->allowed_cidrs);
                                      if (!v.allowed) return done("\"url\": host " + host + " resolves to " + v.reason);
                                  }
                                  done("");
                              });
}

}  // namespace webhookd::admin
