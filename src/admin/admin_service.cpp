#include "admin/admin_service.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/url/parse.hpp>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "admin/admin_input.hpp"
#include "delivery/address_guard.hpp"
#include "delivery/attempt_log.hpp"
#include "delivery/delivery_client.hpp"
#include "delivery/dispatcher.hpp"
#include "delivery/request_builder.hpp"
#include "delivery/signer.hpp"
#include "delivery/url.hpp"
#include "ingest/event_validator.hpp"
#include "metrics/metrics.hpp"
#include "store/lambda_unit.hpp"
#include "store/reader.hpp"
#include "store/writer.hpp"
#include "util/endpoint_matcher.hpp"
#include "util/ids.hpp"
#include "util/time_format.hpp"

namespace webhookd {

namespace asio = boost::asio;
using json = nlohmann::ordered_json;
using http_status = http::status;

namespace {

// How long registration waits for DNS before it lets the connect-time check decide.
constexpr auto registration_dns_deadline = std::chrono::seconds(3);

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

reply make_reply(const http::request& req, http::responder respond) {
    return reply{req.version(), req.keep_alive(), std::move(respond)};
}

json time_or_null(const std::optional<std::int64_t>& ms) {
    return ms ? json(format_rfc3339_ms(*ms)) : json(nullptr);
}
json text_or_null(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

std::string delivery_name(std::int64_t id) { return "dlv_" + std::to_string(id); }

// "dlv_42" (or "42") to 42.
std::optional<std::int64_t> parse_delivery_id(std::string_view text) {
    if (text.starts_with("dlv_")) text.remove_prefix(4);
    if (text.empty() || text.size() > 18) return std::nullopt;
    std::int64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    return v;
}

json endpoint_json(const endpoint_view& e, const std::optional<std::string>& revealed_secret = std::nullopt) {
    json previous = json::array();
    for (std::size_t i = 1; i < e.secrets.size(); ++i) {
        previous.push_back({{"secret", mask_secret(e.secrets[i].secret)}, {"expires_at", time_or_null(e.secrets[i].expires_ms)}});
    }
    std::string current = e.secrets.empty() ? "" : e.secrets.front().secret;
    return json{
        {"id", e.id},
        {"url", e.url},
        {"description", e.description},
        {"events", json::parse(e.patterns_json, nullptr, false)},
        {"signature", {{"format", e.signature_format}, {"header", e.signature_header}}},
        {"headers", json::parse(e.headers_json, nullptr, false)},
        {"body", e.body_mode},
        {"enabled", e.enabled},
        {"paused", e.paused_ms.has_value()},
        {"paused_at", time_or_null(e.paused_ms)},
        {"consecutive_failures", e.consecutive_failures},
        {"failing_since", time_or_null(e.failing_since_ms)},
        {"secret", revealed_secret ? *revealed_secret : mask_secret(current)},
        {"previous_secrets", previous},
        {"created_at", format_rfc3339_ms(e.created_ms)},
        {"updated_at", format_rfc3339_ms(e.updated_ms)},
    };
}

json attempt_json(const attempt_view& a) {
    return json{
        {"attempt", a.attempt},
        {"delivery_id", a.delivery_id ? json(delivery_name(*a.delivery_id)) : json(nullptr)},
        {"test", !a.delivery_id.has_value()},
        {"started_at", format_rfc3339_ms(a.started_ms)},
        {"outcome", a.outcome},
        {"status_code", a.status_code ? json(*a.status_code) : json(nullptr)},
        {"latency_ms", static_cast<double>(a.duration_us) / 1000.0},
        {"error", text_or_null(a.error)},
        {"response", a.response_snippet},
    };
}

json delivery_json(const delivery_view& d, bool with_attempts) {
    json j{
        {"id", delivery_name(d.id)},
        {"status", d.status},
        {"event_id", d.event_id},
        {"event", d.event_type},
        {"endpoint_id", d.endpoint_id},
        {"attempt_count", d.attempts},
        {"created_at", format_rfc3339_ms(d.created_ms)},
        {"next_attempt_at", time_or_null(d.next_attempt_ms)},
        {"last_attempt_at", time_or_null(d.last_attempt_ms)},
        {"last_status", d.last_status ? json(*d.last_status) : json(nullptr)},
        {"last_error", text_or_null(d.last_error)},
        {"delivered_at", time_or_null(d.delivered_ms)},
        {"died_at", time_or_null(d.died_ms)},
    };
    if (d.status == "dead") j["last_response"] = d.last_response;
    if (with_attempts) {
        json attempts = json::array();
        for (const auto& a : d.attempt_log) attempts.push_back(attempt_json(a));
        j["attempts"] = std::move(attempts);
    }
    return j;
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
result<std::map<std::string, std::string, std::less<>>> query_params(std::string_view target,
                                                                      std::initializer_list<std::string_view> allowed) {
    std::map<std::string, std::string, std::less<>> out;
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

std::optional<std::string> get(const std::map<std::string, std::string, std::less<>>& m, std::string_view key) {
    auto it = m.find(key);
    if (it == m.end()) return std::nullopt;
    return it->second;
}

bool is_json_body(const http::request& req) {
    if (req.body().empty()) return true;
    auto ct = req[http::beast_http::field::content_type];
    auto mime = ct.substr(0, ct.find(';'));
    while (!mime.empty() && mime.back() == ' ') mime.remove_suffix(1);
    return boost::beast::iequals(mime, "application/json");
}

}  // namespace

struct admin_service::impl : std::enable_shared_from_this<admin_service::impl> {
    asio::io_context& ioc;
    writer& db_writer;
    reader& db_reader;
    std::shared_ptr<dispatcher> dispatch;
    delivery_client& client;
    metrics& stats;
    const clock& clk;
    std::shared_ptr<spdlog::logger> log;
    std::vector<cidr> allowed_cidrs;

    impl(asio::io_context& i, const config& c, writer& w, reader& r, std::shared_ptr<dispatcher> d,
         delivery_client& cl, metrics& m, const clock& k, std::shared_ptr<spdlog::logger> l)
        : ioc(i), db_writer(w), db_reader(r), dispatch(std::move(d)), client(cl), stats(m), clk(k),
          log(std::move(l)) {
        for (const auto& text : c.delivery.allowed_cidrs) {
            if (auto parsed = parse_cidr(text)) allowed_cidrs.push_back(*parsed);
        }
    }

    // ---- plumbing -------------------------------------------------------------------------

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

    result<nlohmann::json> body_of(const http::request& req, bool empty_is_object) {
        if (!is_json_body(req)) return error{error_code::unsupported_media_type, "Content-Type must be application/json"};
        return admin::parse_object(req.body(), empty_is_object);
    }

    void fail_input(const reply& out, const error& e) { out.fail(e); }

    // Answers one page of a list. fetch(store, page) reads limit + 1 rows, so the extra row
    // tells whether a next page exists.
    template <class Fetch, class ToJson, class KeyOf>
    void send_page(const reply& out, const std::map<std::string, std::string, std::less<>>& params, Fetch fetch,
                   ToJson to_json, KeyOf key_of) {
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
    void check_destination(std::string url, std::function<void(std::string)> done) {
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
        l->resolver.async_resolve(
            t->host, t->port,
            [self, l, host = t->host, done = std::move(done)](boost::system::error_code ec,
                                                            asio::ip::tcp::resolver::results_type results) {
                l->timer.cancel();
                if (ec) {
                    self->log->info("admin: {} does not resolve now ({}); it is checked again at every connect", host,
                                    ec.message());
                    return done("");
                }
                for (const auto& entry : results) {
                    auto v = check_address(entry.endpoint().address(), self->allowed_cidrs);
                    if (!v.allowed) return done("\"url\": host " + host + " resolves to " + v.reason);
                }
                done("");
            });
    }

    // ---- endpoints ------------------------------------------------------------------------

    void create_endpoint(http::request&& req, const http::path_params&, http::responder respond) {
        auto out = make_reply(req, std::move(respond));
        auto body = body_of(req, false);
        if (!body) return fail_input(out, body.err());
        std::optional<std::string> given_secret;
        auto settings = admin::parse_endpoint_settings(*body, true, &given_secret);
        if (!settings) return fail_input(out, settings.err());
        auto self = shared_from_this();
        auto url = *settings->url;  // not from *settings: the lambda below moves it
        check_destination(url, [self, out, s = std::move(*settings), given_secret](std::string refusal) {
            if (!refusal.empty()) return out.fail(error_code::invalid_field, refusal);
            std::string secret;
            try {
                secret = given_secret ? *given_secret : generate_secret();
            } catch (const std::exception& e) {
                return out.fail(error_code::internal_error, e.what());
            }
            auto now = self->clk.now_ms();
            auto id = new_id("ep", self->clk.now());
            self->write(
                out,
                [id, s, secret](outbox_store& store, std::int64_t at) { return store.create_endpoint(id, s, secret, at); },
                [self, out, id, s, secret, now](const status& st) {
                    if (!st) return out.fail(st.err());
                    self->log->info("admin: created endpoint {} url={} events={} body={} signature={}", id, *s.url,
                                    *s.patterns_json, *s.body_mode, *s.signature_format);
                    endpoint_view v{id, 0, *s.url, *s.description, *s.patterns_json, *s.signature_format,
                                    *s.signature_header, *s.headers_json, *s.body_mode, *s.enabled, std::nullopt, now,
                                    now, 0, std::nullopt, {{secret, now, std::nullopt}}};
                    out.send(http_status::created, endpoint_json(v, secret));
                });
        });
    }

    void list_endpoints(http::request&& req, const http::path_params&, http::responder respond) {
        auto out = make_reply(req, std::move(respond));
        auto params = query_params(req.target(), {"limit", "cursor"});
        if (!params) return out.fail(params.err());
        auto now = clk.now_ms();
        send_page(
            out, *params, [now](outbox_store& s, const page_request& page) { return s.list_endpoints(page, now); },
            [](const endpoint_view& e) { return endpoint_json(e); },
            [](const endpoint_view& e) { return page_key{e.seq, e.seq}; });
    }

    // Answers with the endpoint as stored now (after a change), or 404.
    void send_endpoint(const reply& out, const std::string& id, http_status code = http_status::ok) {
        auto now = clk.now_ms();
        read(out, [out, id, now, code](outbox_store& s) {
            auto e = s.get_endpoint(id, now);
            if (!e) return out.fail(e.err());
            if (!*e) return out.fail(error_code::not_found, "endpoint " + id + " does not exist");
            out.send(code, endpoint_json(**e));
        });
    }

    void get_endpoint(http::request&& req, const http::path_params& p, http::responder respond) {
        send_endpoint(make_reply(req, std::move(respond)), p.at("id"));
    }

    void patch_endpoint(http::request&& req, const http::path_params& p, http::responder respond) {
        auto out = make_reply(req, std::move(respond));
        auto body = body_of(req, false);
        if (!body) return fail_input(out, body.err());
        auto settings = admin::parse_endpoint_settings(*body, false, nullptr);
        if (!settings) return fail_input(out, settings.err());
        auto self = shared_from_this();
        auto id = p.at("id");
        // The names of the fields changed, never their values: "headers" may carry a receiver's credentials.
        std::string changed;
        for (const auto& item : body->items()) changed += (changed.empty() ? "" : ", ") + item.key();
        auto apply = [self, out, id, s = *settings, changed](std::string refusal) {
            if (!refusal.empty()) return out.fail(error_code::invalid_field, refusal);
            self->write(
                out, [id, s](outbox_store& store, std::int64_t at) { return store.update_endpoint(id, s, at); },
                [self, out, id, changed](const status& st) {
                    if (!st) return out.fail(st.err());
                    self->log->info("admin: updated endpoint {}: {}", id, changed);
                    self->send_endpoint(out, id);
                });
        };
        if (settings->url) return check_destination(std::string(*settings->url), std::move(apply));
        apply("");
    }

    void delete_endpoint(http::request&& req, const http::path_params& p, http::responder respond) {
        auto out = make_reply(req, std::move(respond));
        auto id = p.at("id");
        auto cancelled = std::make_shared<std::int64_t>(0);
        auto self = shared_from_this();
        write(
            out,
            storing_into(cancelled, [id](outbox_store& s, std::int64_t) { return s.delete_endpoint(id); }),
            [self, out, id, cancelled](const status& st) {
                if (!st) return out.fail(st.err());
                self->log->info("admin: deleted endpoint {}; {} pending delivery(ies) cancelled", id, *cancelled);
                out.send(http_status::ok, json{{"id", id}, {"deleted", true}, {"cancelled_deliveries", *cancelled}});
            });
    }

    void pause(http::request&& req, const http::path_params& p, http::responder respond, bool paused) {
        auto out = make_reply(req, std::move(respond));
        auto id = p.at("id");
        auto moved = std::make_shared<std::int64_t>(0);
        auto self = shared_from_this();
        write(
            out,
            storing_into(moved, [id, paused](outbox_store& s, std::int64_t at) { return s.set_paused(id, paused, at); }),
            [self, out, id, paused, moved](const status& st) {
                if (!st) return out.fail(st.err());
                if (paused) {
                    self->log->info("admin: paused endpoint {}", id);
                } else {
                    self->log->info("admin: resumed endpoint {}; {} delivery(ies) rescheduled", id, *moved);
                }
                self->send_endpoint(out, id);
            });
    }

    void rotate_secret(http::request&& req, const http::path_params& p, http::responder respond) {
        auto out = make_reply(req, std::move(respond));
        auto body = body_of(req, true);
        if (!body) return fail_input(out, body.err());
        if (auto st = admin::only_fields(*body, {"grace_period", "secret"}); !st) return out.fail(st.err());
        duration grace = admin::default_grace_period;
        if (body->contains("grace_period")) {
            if (!(*body)["grace_period"].is_string()) {
                return out.fail(error_code::invalid_field, "\"grace_period\" must be a duration string");
            }
            auto g = admin::parse_grace_period((*body)["grace_period"].get<std::string>());
            if (!g) return out.fail(g.err());
            grace = *g;
        }
        std::string secret;
        if (body->contains("secret")) {
            const auto& s = (*body)["secret"];
            if (!s.is_string() || !is_valid_secret(s.get<std::string>())) {
                return out.fail(error_code::invalid_field,
                                "\"secret\" must be \"whsec_\" followed by the base64 of 24 to 64 random bytes");
            }
            secret = s.get<std::string>();
        } else {
            try {
                secret = generate_secret();
            } catch (const std::exception& e) {
                return out.fail(error_code::internal_error, e.what());
            }
        }
        auto id = p.at("id");
        auto now = clk.now_ms();
        auto until = now + std::chrono::duration_cast<std::chrono::milliseconds>(grace).count();
        auto self = shared_from_this();
        write(
            out,
            [id, secret, until](outbox_store& s, std::int64_t at) {
                return s.rotate_secret(id, secret, std::max(until, at), at, admin::max_previous_secrets);
            },
            [self, out, id, secret, until](const status& st) {
                if (!st) return out.fail(st.err());
                // Not even the masked secret: no part of a secret goes to the log.
                self->log->info("admin: rotated the secret of endpoint {}; previous secrets valid until {}", id,
                                format_rfc3339_ms(until));
                out.send(http_status::ok, json{{"id", id},
                                               {"secret", secret},
                                               {"previous_secrets_expire_at", format_rfc3339_ms(until)}});
            });
    }

    void test_endpoint(http::request&& req, const http::path_params& p, http::responder respond) {
        auto out = make_reply(req, std::move(respond));
        auto body = body_of(req, true);
        if (!body) return fail_input(out, body.err());
        if (auto st = admin::only_fields(*body, {"event", "data"}); !st) return out.fail(st.err());
        std::string type = "webhook.test";
        if (body->contains("event")) {
            const auto& e = (*body)["event"];
            if (!e.is_string() || !is_valid_token(e.get<std::string>(), max_event_type_length)) {
                return out.fail(error_code::invalid_field,
                                "\"event\" must be 1-128 characters of [A-Za-z0-9_.:-]");
            }
            type = e.get<std::string>();
        }
        // The data as the operator wrote it (key order kept), minified like ingest stores it.
        std::string data = body->contains("data") ? json::parse(req.body())["data"].dump() : std::string(R"({"test":true})");
        auto id = p.at("id");
        auto now = clk.now_ms();
        auto self = shared_from_this();
        read(out, [self, out, id, type, data, now](outbox_store& s) {
            auto e = s.get_endpoint(id, now);
            if (!e) return out.fail(e.err());
            if (!*e) return out.fail(error_code::not_found, "endpoint " + id + " does not exist");
            asio::post(self->ioc, [self, out, ep = std::move(**e), type, data] { self->send_test(out, ep, type, data); });
        });
    }

    void send_test(const reply& out, const endpoint_view& ep, const std::string& type, const std::string& data) {
        endpoint_record rec{ep.id, ep.url, ep.body_mode, ep.signature_format, ep.signature_header, ep.headers_json,
                            ep.enabled, ep.paused_ms, {}, {}, {}};
        for (const auto& s : ep.secrets) {
            if (is_valid_secret(s.secret)) rec.secrets.push_back(s.secret);
        }
        if (rec.secrets.empty()) {
            return out.fail(error_code::conflict, "endpoint " + ep.id + " has no valid signing secret");
        }
        auto at = clk.now();
        auto event = build_envelope(new_id("evt", at), type, format_rfc3339(at), data);
        claimed_delivery d;
        d.endpoint_id = ep.id;
        d.event_id = event.id;
        d.event_type = type;
        d.attempt = 1;
        d.ladder_attempt = 1;
        d.envelope = event.body;
        d.data_offset = event.data_offset;
        auto started = clk.now_ms();
        auto request = build_request(rec, d, started / 1000);
        auto self = shared_from_this();
        log->info("admin: sending test event {} ({}) to endpoint {}", event.id, type, ep.id);
        client.send(std::move(request), [self, out, d, started](delivery_response r) {
            self->stats.test_sends[static_cast<std::size_t>(r.outcome)].inc();
            auto rec = attempt_record_of(0, d.endpoint_id, 1, started, r);
            json answer{
                {"endpoint_id", d.endpoint_id},
                {"event_id", d.event_id},
                {"event", d.event_type},
                {"success", rec.outcome == attempt_outcome::success},
                {"outcome", to_string(rec.outcome)},
                {"status_code", rec.status_code ? json(rec.status_code) : json(nullptr)},
                {"latency_ms", static_cast<double>(rec.duration_us) / 1000.0},
                {"error", text_or_null(rec.error)},
                {"response", rec.response_snippet},
            };
            // Answer once the attempt is in the log, so a list right after shows it.
            self->write(
                out, [rec](outbox_store& s, std::int64_t at) { return s.record_attempt(rec, at); },
                [out, answer](const status& st) {
                    if (!st) return out.fail(st.err());
                    out.send(http_status::ok, answer);
                });
        });
    }

    void list_endpoint_attempts(http::request&& req, const http::path_params& p, http::responder respond) {
        auto out = make_reply(req, std::move(respond));
        auto params = query_params(req.target(), {"limit", "cursor"});
        if (!params) return out.fail(params.err());
        auto id = p.at("id");
        auto now = clk.now_ms();
        send_page(
            out, *params,
            [id, now](outbox_store& s, const page_request& page) -> result<std::vector<attempt_view>> {
                auto e = s.get_endpoint(id, now);
                if (!e) return e.err();
                if (!*e) return error{error_code::not_found, "endpoint " + id + " does not exist"};
                return s.list_attempts(id, page);
            },
            attempt_json, [](const attempt_view& a) { return page_key{a.id, a.id}; });
    }

    // ---- events and deliveries ------------------------------------------------------------

    void get_event(http::request&& req, const http::path_params& p, http::responder respond) {
        auto out = make_reply(req, std::move(respond));
        auto id = p.at("id");
        read(out, [out, id](outbox_store& s) {
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

    // Filters shared by the delivery and dead-letter lists (and bulk retry).
    template <class Filter>
    static status read_common_filter(const std::map<std::string, std::string, std::less<>>& params, Filter& f) {
        if (auto v = get(params, "endpoint_id")) f.endpoint_id = *v;
        if (auto v = get(params, "event")) {
            if (!is_valid_pattern(*v)) {
                return error{error_code::invalid_field, "\"event\" must be an event name, a \"prefix.*\" pattern or \"*\""};
            }
            f.event_type = *v;
        }
        for (auto [name, slot] : {std::pair{"since", &f.since_ms}, std::pair{"until", &f.until_ms}}) {
            if (auto v = get(params, name)) {
                auto t = admin::parse_time(name, *v);
                if (!t) return t.err();
                *slot = *t;
            }
        }
        return ok_v;
    }

    void list_deliveries(http::request&& req, const http::path_params&, http::responder respond) {
        auto out = make_reply(req, std::move(respond));
        auto params = query_params(req.target(), {"status", "endpoint_id", "event", "since", "until", "limit", "cursor"});
        if (!params) return out.fail(params.err());
        delivery_filter f;
        if (auto v = get(*params, "status")) {
            if (*v != "pending" && *v != "delivered" && *v != "dead") {
                return out.fail(error_code::invalid_field,
                                "\"status\" must be \"pending\", \"delivered\" or \"dead\"");
            }
            f.status = *v;
        }
        if (auto st = read_common_filter(*params, f); !st) return out.fail(st.err());
        send_page(
            out, *params, [f](outbox_store& s, const page_request& page) { return s.list_deliveries(f, page); },
            [](const delivery_view& d) { return delivery_json(d, false); },
            [](const delivery_view& d) { return page_key{d.id, d.id}; });
    }

    void get_delivery(http::request&& req, const http::path_params& p, http::responder respond, bool dead_only) {
        auto out = make_reply(req, std::move(respond));
        auto name = p.at("id");
        auto id = parse_delivery_id(name);
        const char* what = dead_only ? "dead letter " : "delivery ";
        if (!id) return out.fail(error_code::not_found, what + name + " does not exist");
        read(out, [out, id = *id, name, dead_only, what](outbox_store& s) {
            auto d = dead_only ? s.get_dead_letter(id) : s.get_delivery(id);
            if (!d) return out.fail(d.err());
            if (!*d) return out.fail(error_code::not_found, what + name + " does not exist");
            out.send(http_status::ok, delivery_json(**d, true));
        });
    }

    // ---- dead letters ---------------------------------------------------------------------

    void list_dead_letters(http::request&& req, const http::path_params&, http::responder respond) {
        auto out = make_reply(req, std::move(respond));
        auto params = query_params(req.target(), {"endpoint_id", "event", "since", "until", "limit", "cursor"});
        if (!params) return out.fail(params.err());
        dead_letter_filter f;
        if (auto st = read_common_filter(*params, f); !st) return out.fail(st.err());
        send_page(
            out, *params, [f](outbox_store& s, const page_request& page) { return s.list_dead_letters(f, page); },
            [](const delivery_view& d) { return delivery_json(d, false); },
            [](const delivery_view& d) { return page_key{d.died_ms.value_or(0), d.id}; });
    }

    void retry_dead_letter(http::request&& req, const http::path_params& p, http::responder respond) {
        auto out = make_reply(req, std::move(respond));
        auto name = p.at("id");
        auto id = parse_delivery_id(name);
        if (!id) return out.fail(error_code::not_found, "dead letter " + name + " does not exist");
        auto self = shared_from_this();
        write(
            out, [id = *id](outbox_store& s, std::int64_t at) { return s.requeue_dead_letter(id, at); },
            [self, out, id = *id](const status& st) {
                if (!st) return out.fail(st.err());
                self->log->info("admin: dead letter {} requeued with a fresh retry schedule", delivery_name(id));
                out.send(http_status::ok, json{{"id", delivery_name(id)}, {"status", "pending"}, {"requeued", true}});
            });
    }

    void retry_dead_letters(http::request&& req, const http::path_params&, http::responder respond) {
        auto out = make_reply(req, std::move(respond));
        auto body = body_of(req, true);
        if (!body) return fail_input(out, body.err());
        if (auto st = admin::only_fields(*body, {"endpoint_id", "event", "since", "until", "dry_run"}); !st) {
            return out.fail(st.err());
        }
        std::map<std::string, std::string, std::less<>> params;
        for (auto name : {"endpoint_id", "event", "since", "until"}) {
            if (!body->contains(name)) continue;
            const auto& v = (*body)[name];
            if (v.is_number_integer() && (std::string_view(name) == "since" || std::string_view(name) == "until")) {
                params[name] = std::to_string(v.get<std::int64_t>());
            } else if (v.is_string()) {
                params[name] = v.get<std::string>();
            } else {
                return out.fail(error_code::invalid_field, "\"" + std::string(name) + "\" must be a string");
            }
        }
        bool dry_run = false;
        if (body->contains("dry_run")) {
            if (!(*body)["dry_run"].is_boolean()) {
                return out.fail(error_code::invalid_field, "\"dry_run\" must be true or false");
            }
            dry_run = (*body)["dry_run"].get<bool>();
        }
        dead_letter_filter f;
        if (auto st = read_common_filter(params, f); !st) return out.fail(st.err());
        auto counted = std::make_shared<requeue_result>();
        auto self = shared_from_this();
        write(
            out,
            storing_into(counted, [f, dry_run](outbox_store& s, std::int64_t at) {
                return s.requeue_dead_letters(f, at, dry_run);
            }),
            [self, out, dry_run, counted, filter = body->dump()](const status& st) {
                if (!st) return out.fail(st.err());
                if (!dry_run) {
                    self->log->info("admin: bulk retry {} requeued {} dead letter(s), skipped {} of deleted endpoints",
                                    filter, counted->requeued, counted->skipped);
                }
                out.send(http_status::ok, json{{"requeued", dry_run ? 0 : counted->requeued},
                                               {"matched", counted->requeued},
                                               {"skipped", counted->skipped},
                                               {"dry_run", dry_run}});
            });
    }

    void delete_dead_letter(http::request&& req, const http::path_params& p, http::responder respond) {
        auto out = make_reply(req, std::move(respond));
        auto name = p.at("id");
        auto id = parse_delivery_id(name);
        if (!id) return out.fail(error_code::not_found, "dead letter " + name + " does not exist");
        auto self = shared_from_this();
        write(
            out, [id = *id](outbox_store& s, std::int64_t) { return s.delete_dead_letter(id); },
            [self, out, id = *id](const status& st) {
                if (!st) return out.fail(st.err());
                self->log->info("admin: deleted dead letter {}", delivery_name(id));
                out.send(http_status::ok, json{{"id", delivery_name(id)}, {"deleted", true}});
            });
    }
};

admin_service::admin_service(asio::io_context& ioc, const config& cfg, writer& writer, reader& reader,
                             std::shared_ptr<dispatcher> dispatcher, delivery_client& client, metrics& metrics,
                             const clock& clock, std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_shared<impl>(ioc, cfg, writer, reader, std::move(dispatcher), client, metrics, clock,
                                   std::move(log))) {}

admin_service::~admin_service() = default;

void admin_service::register_routes(http::router& r) {
    using http::verb;
    auto bind = [this](auto method) {
        return [i = impl_, method](http::request&& req, const http::path_params& p, http::responder respond) {
            ((*i).*method)(std::move(req), p, std::move(respond));
        };
    };
    using I = impl;
    r.add(verb::post, "/v1/endpoints", bind(&I::create_endpoint));
    r.add(verb::get, "/v1/endpoints", bind(&I::list_endpoints));
    r.add(verb::get, "/v1/endpoints/{id}", bind(&I::get_endpoint));
    r.add(verb::patch, "/v1/endpoints/{id}", bind(&I::patch_endpoint));
    r.add(verb::delete_, "/v1/endpoints/{id}", bind(&I::delete_endpoint));
    r.add(verb::post, "/v1/endpoints/{id}/pause", [i = impl_](http::request&& req, const http::path_params& p, http::responder respond) {
        i->pause(std::move(req), p, std::move(respond), true);
    });
    r.add(verb::post, "/v1/endpoints/{id}/resume", [i = impl_](http::request&& req, const http::path_params& p, http::responder respond) {
        i->pause(std::move(req), p, std::move(respond), false);
    });
    r.add(verb::post, "/v1/endpoints/{id}/rotate-secret", bind(&I::rotate_secret));
    r.add(verb::post, "/v1/endpoints/{id}/test", bind(&I::test_endpoint));
    r.add(verb::get, "/v1/endpoints/{id}/attempts", bind(&I::list_endpoint_attempts));
    r.add(verb::get, "/v1/events/{id}", bind(&I::get_event));
    r.add(verb::get, "/v1/deliveries", bind(&I::list_deliveries));
    r.add(verb::get, "/v1/deliveries/{id}", [i = impl_](http::request&& req, const http::path_params& p, http::responder respond) {
        i->get_delivery(std::move(req), p, std::move(respond), false);
    });
    r.add(verb::get, "/v1/dead-letters", bind(&I::list_dead_letters));
    r.add(verb::post, "/v1/dead-letters/retry", bind(&I::retry_dead_letters));
    r.add(verb::get, "/v1/dead-letters/{id}", [i = impl_](http::request&& req, const http::path_params& p, http::responder respond) {
        i->get_delivery(std::move(req), p, std::move(respond), true);
    });
    r.add(verb::post, "/v1/dead-letters/{id}/retry", bind(&I::retry_dead_letter));
    r.add(verb::delete_, "/v1/dead-letters/{id}", bind(&I::delete_dead_letter));
}

}  // namespace webhookd
