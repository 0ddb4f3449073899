#pragma once
// What every resource of the admin API shares: the services it works with (the reader for
// reads, the writer for changes, the dispatcher to tell about them, the delivery client
// for test sends) and the plumbing around them: answering, paging, reading bodies and
// query strings, and the SSRF check at registration.
//
// Handlers run on an io thread; reads run on the reader thread and changes in the
// writer's next group, and both answer through a copyable `reply` from any thread.

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin/admin_input.hpp"
#include "admin/admin_views.hpp"
#include "delivery/address_guard.hpp"
#include "http/router.hpp"
#include "store/outbox_store.hpp"
#include "store/reader.hpp"
#include "webhookd/clock.hpp"
#include "webhookd/config.hpp"

namespace spdlog {
class logger;
}

namespace webhookd {

class writer;
class dispatcher;
class delivery_client;
struct metrics;

namespace admin {

using http_status = http::status;
using query_map = std::map<std::string, std::string, std::less<>>;

// The answer to one admin request: its HTTP version and keep-alive, and its responder.
// Copyable, callable from any thread.
struct reply {
    unsigned version;
    bool keep_alive;
    http::responder respond;

    void send(http_status code, const json& body) const {
        // Response snippets are raw bytes: never let invalid UTF-8 fail the answer.
        respond(http::json_response(shell(), code, body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"));
    }
    void fail(error_code code, std::string_view message) const { fail(error{code, std::string(message)}); }
    // What the response builders read of the request.
    http::request shell() const {
        http::request r;
        r.version(version);
        r.keep_alive(keep_alive);
        return r;
    }
    void fail(const error& e) const { respond(http::json_error(shell(), e)); }
};

inline reply make_reply(const http::request& req, http::responder respond) {
    return reply{req.version(), req.keep_alive(), std::move(respond)};
}

// {"data": [...], "next_cursor": ...} from up to limit + 1 rows.
template <class T, class ToJson, class KeyOf>
json page_json(std::vector<T>& rows, std::size_t limit, ToJson to_json, KeyOf key_of) {
    json out{{"data", json::array()}, {"next_cursor", nullptr}};
    bool more = rows.size() > limit;
    if (more) rows.resize(limit);
    for (const auto& r : rows) out["data"].push_back(to_json(r));
    if (more && !rows.empty()) out["next_cursor"] = admin::encode_cursor(key_of(rows.back()));
    return out;
}

// The query parameters of a target; an unknown one is an error that names it.
result<query_map> query_params(std::string_view target, std::initializer_list<std::string_view> allowed);

// The value of `key` in m, if present.
std::optional<std::string> get(const query_map& m, std::string_view key);

// The services and plumbing of the admin API. Owned by shared_ptr: handlers keep it alive
// across their asynchronous steps.
class context : public std::enable_shared_from_this<context> {
public:
    context(boost::asio::io_context& ioc, const config& cfg, writer& w, reader& r, std::shared_ptr<dispatcher> d,
            delivery_client& client, metrics& stats, const clock& clk, std::shared_ptr<spdlog::logger> log);

    boost::asio::io_context& ioc;
    writer& db_writer;
    reader& db_reader;
    std::shared_ptr<dispatcher> dispatch;
    delivery_client& client;
    metrics& stats;
    const clock& clk;
    std::shared_ptr<spdlog::logger> log;
    std::vector<cidr> allowed_cidrs;

    // Runs f(store) on the reader; f answers through `out`.
    template <class F>
    void read(const reply& out, F f) {
        if (!db_reader.submit([out, f = std::move(f)](outbox_store& s) mutable { f(s); })) {
            out.fail(error_code::overloaded, "too many admin reads are waiting; retry shortly");
        }
    }

    // Runs apply(store, now) in the writer's next group; then(status) runs on an io thread
    // after the commit. The dispatcher reloads after every change.
    void write(const reply& out, std::function<status(outbox_store&, std::int64_t)> apply,
               std::function<void(const status&)> then);

    // The admin router's http::token_resolver: a tenant token ("wht_...") to its tenant,
    // by one read of the token hash's unique index on the reader. Expired, revoked and
    // unknown tokens resolve to none.
    bool resolve_token(std::string_view token, std::function<void(result<std::optional<std::string>>)> done);

    result<nlohmann::json> body_of(const http::request& req, bool empty_is_object);

    // Answers one page of a list. fetch(store, page) reads limit + 1 rows, so the extra row
    // tells whether a next page exists.
    template <class Fetch, class ToJson, class KeyOf>
    void send_page(const reply& out, const query_map& params, Fetch fetch, ToJson to_json, KeyOf key_of) {
        auto page = admin::parse_page(get(params, "limit"), get(params, "cursor"));
        if (!page) return out.fail(page.err());
        auto ask = *page;
        ++ask.limit;
        read(out, [out, ask, limit = page->limit, fetch, to_json, key_of](outbox_store& s) {
            auto rows = fetch(s, ask);
            if (!rows) return out.fail(rows.err());
            out.send(http_status::ok, page_json(*rows, limit, to_json, key_of));
        });
    }

    // The SSRF check at registration: the URL's host must not be (or resolve to) a blocked
    // address unless delivery.allowed_cidrs allows it. done(refusal) with an empty string
    // when allowed. A host that does not resolve (yet) is allowed: every connect checks again.
    void check_destination(std::string url, std::function<void(std::string)> done);
};

}  // namespace admin
}  // namespace webhookd
