#include "delivery/delivery_client.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <unordered_map>
#include <variant>

#include "delivery/retry_policy.hpp"
#include "delivery/url.hpp"
#include "util/http_text.hpp"
#include "webhookd/result.hpp"

namespace webhookd {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

// A pooled connection idle for less than this is reused without checking it first.
constexpr auto recheck_after = std::chrono::milliseconds(500);
// A response header larger than this is refused as unparseable.
constexpr std::uint32_t max_response_header = 16 * 1024;
// Body bytes handed to the parser per read step (part of every attempt's allocation).
constexpr std::size_t body_chunk = 2 * 1024;

bool has_control_break(std::string_view s) {
    // A loop, not find_first_of: that calls memchr over the set for every character (a
    // few hundred calls per request's headers).
    return std::any_of(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

// ---------------------------------------------------------------------------------------
// TLS

// ssl::host_name_verification, plus: a mismatch is recorded as the X509 error of the
// handshake, so the attempt's error says "hostname mismatch" rather than "unspecified".
class verify_host {
public:
    explicit verify_host(const std::string& host, bool is_address)
        : check_(host), mismatch_(is_address ? X509_V_ERR_IP_ADDRESS_MISMATCH : X509_V_ERR_HOSTNAME_MISMATCH) {}

    bool operator()(bool preverified, ssl::verify_context& ctx) const {
        if (check_(preverified, ctx)) return true;
        if (preverified) X509_STORE_CTX_set_error(ctx.native_handle(), mismatch_);
        return false;
    }

private:
    ssl::host_name_verification check_;
    int mismatch_;
};

ssl::context make_tls_context(const delivery_client_options& options) {
    ssl::context ctx(ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
    ctx.set_default_verify_paths();
    if (!options.extra_ca_file.empty()) {
        boost::system::error_code ec;
        ctx.load_verify_file(options.extra_ca_file, ec);
        if (ec) {
            throw std::runtime_error("cannot load delivery.extra_ca_file " + options.extra_ca_file + ": " +
                                     ec.message());
        }
    }
    ctx.set_verify_mode(options.dangerous_skip_tls_verify ? ssl::verify_none : ssl::verify_peer);
    return ctx;
}

// ---------------------------------------------------------------------------------------
// Connections and the pool

using tls_stream = beast::ssl_stream<beast::tcp_stream>;

// One TCP or TLS connection with its read buffer (which may hold bytes past a response).
// Used by one session at a time; idle in the pool with no operation pending.
class connection {
public:
    template <class Executor>
    explicit connection(const Executor& ex) : stream_(std::in_place_type<beast::tcp_stream>, ex) {}
    template <class Executor>
    connection(const Executor& ex, ssl::context& ctx) : stream_(std::in_place_type<tls_stream>, ex, ctx) {}

    beast::tcp_stream& tcp() {
        return std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); }, stream_);
    }
    tls_stream* tls() { return std::get_if<tls_stream>(&stream_); }

    // Calls f with the stream to read and write HTTP on: the tcp_stream or the tls_stream.
    template <class F>
    void with_stream(F&& f) {
        std::visit(std::forward<F>(f), stream_);
    }

    // False when the peer has closed the connection or sent bytes we did not ask for, so
    // that a pooled connection is not reused. Does not block.
    bool looks_alive() {
        auto& socket = tcp().socket();
        if (!socket.is_open()) return false;
        char byte = 0;
        const auto n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }

    void close() {
        beast::error_code ignored;
        tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
        tcp().close();
    }

    beast::flat_buffer buffer;

private:
    std::variant<beast::tcp_stream, tls_stream> stream_;
};

// Idle keep-alive connections per origin ("https://host:port"). Thread-safe: the mutex
// guards idle_ and shut_. Sockets are closed outside the lock.
class connection_pool {
public:
    connection_pool(std::size_t max_per_origin, duration max_idle) : max_per_origin_(max_per_origin), max_idle_(max_idle) {}

    // The most recently pooled live connection to origin, or null.
    std::unique_ptr<connection> take(const std::string& origin) {
        while (true) {
            std::unique_ptr<connection> c;
            bool recent = false;
            std::deque<idle_connection> expired;
            {
                std::lock_guard lock(mu_);
                auto it = idle_.find(origin);
                if (it == idle_.end()) return nullptr;
                auto& list = it->second;
                if (steady::now() - list.back().since > max_idle_) {
                    expired.swap(list);  // the newest has expired, so have all the others
                } else {
                    recent = steady::now() - list.back().since < recheck_after;
                    c = std::move(list.back().conn);
                    list.pop_back();
                }
                if (list.empty()) idle_.erase(it);
            }
            for (auto& idle : expired) idle.conn->close();
            if (!c) return nullptr;
            // A connection pooled a moment ago is taken as it is (one syscall less per
            // attempt); if the peer closed it all the same, the attempt notices before any
            // response byte and goes again on a new connection.
            if (recent || c->looks_alive()) return c;
            c->close();
        }
    }

    // Pools c (a connection at a message boundary, nothing pending) or closes it when the
    // pool is full for origin or shut. Also closes every connection idle for too long.
    void put(const std::string& origin, std::unique_ptr<connection> c) {
        std::vector<std::unique_ptr<connection>> to_close;
        {
            std::lock_guard lock(mu_);
            const auto now = steady::now();
            for (auto it = idle_.begin(); it != idle_.end();) {
                auto& list = it->second;
                while (!list.empty() && now - list.front().since > max_idle_) {
                    to_close.push_back(std::move(list.front().conn));
                    list.pop_front();
                }
                it = list.empty() ? idle_.erase(it) : std::next(it);
            }
            if (shut_ || max_per_origin_ == 0) {
                to_close.push_back(std::move(c));
            } else {
                auto& list = idle_[origin];
                if (list.size() >= max_per_origin_) {
                    to_close.push_back(std::move(list.front().conn));
                    list.pop_front();
                }
                list.push_back({std::move(c), now});
            }
        }
        for (auto& old : to_close) old->close();
    }

    // Closes every idle connection; with `shut`, later put()s close instead of pooling.
    void close_all(bool shut) {
        std::unordered_map<std::string, std::deque<idle_connection>> to_close;
        {
            std::lock_guard lock(mu_);
            shut_ = shut_ || shut;
            to_close.swap(idle_);
        }
        for (auto& [_, list] : to_close) {
            for (auto& idle : list) idle.conn->close();
        }
    }

private:
    struct idle_connection {
        std::unique_ptr<connection> conn;
        steady::time_point since;
    };

    const std::size_t max_per_origin_;
    const duration max_idle_;
    std::mutex mu_;
    std::unordered_map<std::string, std::deque<idle_connection>> idle_;  // oldest first; never empty
    bool shut_ = false;
};

// The error text of a failed response read; got_some: whether any response byte arrived.
std::string describe_read_error(const beast::error_code& ec, bool got_some) {
    const bool closed = ec == http::error::end_of_stream || ec == http::error::partial_message ||
                        ec == ssl::error::stream_truncated || ec == asio::error::eof ||
                        ec == asio::error::connection_reset;
    if (closed) return got_some ? "connection closed mid-response" : "connection closed before a response";
    if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
        return "response could not be parsed as HTTP: " + ec.message();
    }
    return "reading the response failed: " + ec.message();
}

// ---------------------------------------------------------------------------------------

// An endpoint URL parsed once, with its origin (the pool key) spelled out once.
struct parsed_url : target {
    explicit parsed_url(target t) : target(std::move(t)), origin_text(origin()) {}
    std::string origin_text;
};

// Parsed URLs by their text, so an attempt does not parse its endpoint's URL again.
// Thread-safe; forgets everything when it holds `max_entries`.
class url_cache {
public:
    result<std::shared_ptr<const parsed_url>> get(const std::string& url) {
        {
            std::lock_guard lock(mu_);
            if (auto it = parsed_.find(url); it != parsed_.end()) return it->second;
        }
        auto parsed = parse_target(url);
        if (!parsed) return parsed.err();
        auto entry = std::make_shared<const parsed_url>(std::move(parsed.value()));
        std::lock_guard lock(mu_);
        if (parsed_.size() >= max_entries) parsed_.clear();
        parsed_.emplace(url, entry);
        return entry;
    }

private:
    static constexpr std::size_t max_entries = 4096;
    std::mutex mu_;
    std::unordered_map<std::string, std::shared_ptr<const parsed_url>> parsed_;
};

// What every attempt of one client shares. Outlives the client while attempts are pending.
struct client_core {
    client_core(asio::io_context& ioc_, delivery_client_options options_, std::shared_ptr<spdlog::logger> log_)
        : ioc(ioc_),
          options(std::move(options_)),
          log(log_ ? std::move(log_) : spdlog::default_logger()),
          tls(make_tls_context(options)),
          pool(options.max_idle_per_host, options.idle_keepalive) {}

    asio::io_context& ioc;
    const delivery_client_options options;
    const std::shared_ptr<spdlog::logger> log;
    ssl::context tls;  // shared by every connection; not modified after construction
    connection_pool pool;
    url_cache urls;
};

// One delivery attempt. A straight line of asynchronous steps, all under one deadline
// (start + options.timeout); any failure goes straight to finish():
//
//   start ─ pooled connection for the origin? ─ yes ───────────────────────────────┐
//     │ no                                                                         │
//   do_resolve (IP literal: no DNS) ─ on_resolve: check_address on every address,  │
//     keep those that pass ─ do_connect (to all kept, in order) ─ do_handshake     │
//     (https: SNI, verify_peer, host name) ─────────────────────────── do_write ◄──┘
//   ─ do_read_header (status known) ─ do_read_body (until done or max_response_body)
//   ─ finish: classify, pool the connection if it is clean and kept alive, call done.
//
// A pooled connection that fails on write, or on read before any response byte, was
// stale: it is discarded and the attempt goes back to do_resolve once.
//
// The resolver and its deadline timer run on the session's strand, the connection on its
// own; only one operation of a session is pending at a time (the resolve timer aside,
// which shares the resolver's strand), so the session's members need no lock.
class session : public std::enable_shared_from_this<session> {
public:
    session(std::shared_ptr<client_core> client, delivery_request request,
            std::function<void(delivery_response)> done)
        : client_(std::move(client)),
          request_(std::move(request)),
          done_(std::move(done)),
          started_(steady::now()),
          deadline_(started_ + client_->options.timeout) {}

    void start() { asio::post(client_->ioc, beast::bind_front_handler(&session::on_start, shared_from_this())); }

private:
    const delivery_client_options& options() const { return client_->options; }

    void on_start() {
        auto parsed = client_->urls.get(request_.url);
        if (!parsed) return finish(attempt_outcome::connect_error, parsed.err().message);
        target_ = std::move(parsed.value());
        for (const auto& [name, value] : request_.headers) {
            if (name.empty() || has_control_break(name) || has_control_break(value)) {
                const std::string which = has_control_break(name) ? std::string() : " " + name;
                return finish(attempt_outcome::connect_error,
                              "invalid request header" + which + ": empty name, line break or NUL");
            }
        }
        build_request();

        conn_ = client_->pool.take(target_->origin_text);
        if (conn_) {
            reused_ = true;
            conn_->tcp().expires_at(deadline_);
            return do_write();
        }
        do_resolve();
    }

    void build_request() {
        write_post_head(req_head_, target_->request_target, target_->host_header, options().user_agent,
                        request_.headers, request_.body.size());
    }

    void do_resolve() {
        if (target_->literal) return on_addresses({*target_->literal});
        if (!resolving_) resolving_.emplace(client_->ioc);
        resolving_->timer.expires_at(deadline_);
        resolving_->timer.async_wait([self = shared_from_this()](beast::error_code ec) {
            if (!ec) self->resolving_->resolver.cancel();  // on_resolve sees operation_aborted
        });
        resolving_->resolver.async_resolve(target_->host, target_->port, tcp::resolver::numeric_service,
                                           beast::bind_front_handler(&session::on_resolve, shared_from_this()));
    }

    void on_resolve(beast::error_code ec, tcp::resolver::results_type results) {
        resolving_->timer.cancel();
        if (ec == asio::error::operation_aborted && steady::now() >= deadline_) {
            return finish(attempt_outcome::timeout, "resolving " + target_->host + " timed out");
        }
        if (ec) return finish(attempt_outcome::dns_error, "cannot resolve " + target_->host + ": " + ec.message());
        std::vector<asio::ip::address> addresses;
        for (const auto& entry : results) addresses.push_back(entry.endpoint().address());
        if (addresses.empty()) return finish(attempt_outcome::dns_error, target_->host + " has no address");
        on_addresses(addresses);
    }

    // Keeps the addresses the SSRF guard allows; refuses the attempt when there is none.
    void on_addresses(const std::vector<asio::ip::address>& addresses) {
        const auto port = static_cast<unsigned short>(std::stoul(target_->port));
        std::string refusal;
        endpoints_.clear();
        for (const auto& a : addresses) {
            const address_verdict verdict = check_address(a, options().allowed_cidrs);
            if (!verdict.allowed) {
                client_->log->debug("delivery to {}: not dialling {}: {}", target_->origin_text, a.to_string(),
                                    verdict.reason);
                if (refusal.empty()) refusal = verdict.reason;
                continue;
            }
            tcp::endpoint ep(a, port);
            if (std::find(endpoints_.begin(), endpoints_.end(), ep) == endpoints_.end()) endpoints_.push_back(ep);
        }
        if (endpoints_.empty()) return finish(attempt_outcome::connect_error, "refused by SSRF guard: " + refusal);
        do_connect();
    }

    void do_connect() {
        auto ex = asio::make_strand(client_->ioc);
        conn_ = target_->tls ? std::make_unique<connection>(ex, client_->tls) : std::make_unique<connection>(ex);
        conn_->tcp().expires_at(deadline_);  // for every operation on it in this attempt
        conn_->tcp().async_connect(endpoints_, beast::bind_front_handler(&session::on_connect, shared_from_this()));
    }

    void on_connect(beast::error_code ec, const tcp::endpoint&) {
        if (ec == beast::error::timeout) {
            return finish(attempt_outcome::timeout, "connecting to " + target_->origin_text + " timed out");
        }
        if (ec) return finish(attempt_outcome::connect_error, "cannot connect to " + target_->origin_text + ": " + ec.message());
        beast::error_code ignored;
        conn_->tcp().socket().set_option(tcp::no_delay(true), ignored);
        if (target_->tls) return do_handshake();
        do_write();
    }

    void do_handshake() {
        tls_stream& tls = *conn_->tls();
        // SNI carries host names only (RFC 6066), never an IP literal.
        if (!target_->literal && SSL_set_tlsext_host_name(tls.native_handle(), target_->host.c_str()) != 1) {
            return finish(attempt_outcome::tls_error, "cannot set TLS SNI to " + target_->host);
        }
        if (options().dangerous_skip_tls_verify) {
            tls.set_verify_mode(ssl::verify_none);
        } else {
            tls.set_verify_mode(ssl::verify_peer);
            tls.set_verify_callback(verify_host(target_->host, target_->literal.has_value()));
        }
        tls.async_handshake(ssl::stream_base::client,
                            beast::bind_front_handler(&session::on_handshake, shared_from_this()));
    }

    void on_handshake(beast::error_code ec) {
        if (ec == beast::error::timeout) {
            return finish(attempt_outcome::timeout, "TLS handshake with " + target_->origin_text + " timed out");
        }
        if (ec) {
            const long verify = SSL_get_verify_result(conn_->tls()->native_handle());
            const std::string why = verify != X509_V_OK
                                        ? std::string("certificate verification failed: ") +
                                              X509_verify_cert_error_string(verify)
                                        : ec.message();
            return finish(attempt_outcome::tls_error, "TLS handshake with " + target_->origin_text + " failed: " + why);
        }
        do_write();
    }

    void do_write() {
        conn_->with_stream([this](auto& stream) {
            // The head as text and the body in one gather write (util/http_text.hpp).
            std::array<asio::const_buffer, 2> buffers{asio::buffer(req_head_), asio::buffer(request_.body)};
            asio::async_write(stream, buffers, beast::bind_front_handler(&session::on_write, shared_from_this()));
        });
    }

    void on_write(beast::error_code ec, std::size_t) {
        if (ec == beast::error::timeout) {
            return finish(attempt_outcome::timeout, "sending the request to " + target_->origin_text + " timed out");
        }
        if (ec && reused_) return retry_fresh(ec);
        if (ec) return finish(attempt_outcome::connect_error, "sending the request failed: " + ec.message());
        do_read_header();
    }

    // The pooled connection was stale: go once more on a fresh connection.
    void retry_fresh(const beast::error_code& ec) {
        client_->log->debug("delivery to {}: pooled connection was stale ({}); retrying on a new one",
                            target_->origin_text, ec.message());
        conn_->close();
        conn_.reset();
        reused_ = false;
        do_resolve();
    }

    void do_read_header() {
        parser_.emplace();
        parser_->header_limit(max_response_header);
        parser_->body_limit(boost::none);  // body bytes are counted against max_response_body in do_read_body
        conn_->with_stream([this](auto& stream) {
            http::async_read_header(stream, conn_->buffer, *parser_,
                                    beast::bind_front_handler(&session::on_read_header, shared_from_this()));
        });
    }

    void on_read_header(beast::error_code ec, std::size_t) {
        if (ec == beast::error::timeout) {
            return finish(attempt_outcome::timeout, "no response from " + target_->origin_text + " in time");
        }
        if (ec && reused_ && !parser_->got_some()) return retry_fresh(ec);
        if (ec) return finish(attempt_outcome::connect_error, describe_read_error(ec, parser_->got_some()));

        const auto& res = parser_->get();
        result_.status_code = static_cast<int>(res.result_int());
        if (result_.status_code == 429 || result_.status_code == 503) {
            auto it = res.find(http::field::retry_after);
            if (it != res.end()) {
                const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count();
                result_.retry_after = parse_retry_after(std::string_view(it->value()), now_ms);
            }
        }
        do_read_body();
    }

    void do_read_body() {
        if (parser_->is_done()) return finish_response(true);
        if (body_read_ >= options().max_response_body) return finish_response(false);  // larger than we read
        auto& body = parser_->get().body();
        body.data = chunk_.data();
        body.size = std::min(chunk_.size(), options().max_response_body - body_read_);
        chunk_size_ = body.size;
        conn_->with_stream([this](auto& stream) {
            http::async_read_some(stream, conn_->buffer, *parser_,
                                  beast::bind_front_handler(&session::on_read_body, shared_from_this()));
        });
    }

    void on_read_body(beast::error_code ec, std::size_t) {
        const std::size_t got = chunk_size_ - parser_->get().body().size;
        body_read_ += got;
        result_.snippet.append(chunk_.data(), std::min(got, options().max_snippet - result_.snippet.size()));

        if (ec == http::error::need_buffer) ec = {};  // the chunk is full: not an error
        if (ec == ssl::error::stream_truncated && parser_->need_eof()) {
            // A body delimited by the end of the connection, closed without close_notify.
            parser_->put_eof(ec);
            keep_alive_ok_ = false;
        }
        if (ec == beast::error::timeout) {
            return finish(attempt_outcome::timeout, "response body from " + target_->origin_text + " not read in time");
        }
        if (ec) return finish(attempt_outcome::connect_error, describe_read_error(ec, true));
        do_read_body();
    }

    // The header and as much of the body as we read: classify by status.
    void finish_response(bool complete) {
        const int code = result_.status_code;
        keep_alive_ok_ = keep_alive_ok_ && complete && code >= 200 && parser_->keep_alive() &&
                         conn_->buffer.size() == 0;
        if (code >= 200 && code <= 299) return finish(attempt_outcome::success, {});
        std::string error = "HTTP " + std::to_string(code);
        if (code >= 300 && code <= 399) error += " (redirects are not followed)";
        finish(attempt_outcome::http_error, std::move(error));
    }

    void finish(attempt_outcome outcome, std::string error) {
        if (conn_) {
            if (outcome == attempt_outcome::success || outcome == attempt_outcome::http_error) {
                if (keep_alive_ok_) {
                    conn_->tcp().expires_never();
                    client_->pool.put(target_->origin_text, std::move(conn_));
                }
            }
            if (conn_) conn_->close();
            conn_.reset();
        }
        result_.outcome = outcome;
        result_.error = std::move(error);
        result_.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - started_);
        if (client_->log->should_log(spdlog::level::debug)) {
            client_->log->debug("delivery to {}: {} status {} in {} ms{}{}",
                                target_ ? target_->origin_text : std::string("(invalid URL)"),
                                to_string(outcome), result_.status_code,
                                std::chrono::duration_cast<std::chrono::milliseconds>(result_.elapsed).count(),
                                result_.error.empty() ? "" : ": ", result_.error);
        }
        auto done = std::move(done_);
        done(std::move(result_));
    }

    const std::shared_ptr<client_core> client_;
    delivery_request request_;
    std::function<void(delivery_response)> done_;
    // A name lookup and its deadline, on one strand; made only when the host is a name
    // and no pooled connection was taken.
    struct resolving {
        explicit resolving(asio::io_context& ioc) : strand(asio::make_strand(ioc)), resolver(strand), timer(strand) {}
        asio::strand<asio::io_context::executor_type> strand;
        tcp::resolver resolver;
        asio::steady_timer timer;
    };
    std::optional<resolving> resolving_;
    const steady::time_point started_;
    const steady::time_point deadline_;

    std::shared_ptr<const parsed_url> target_;  // null until on_start parsed the URL
    std::vector<tcp::endpoint> endpoints_;
    std::unique_ptr<connection> conn_;
    bool reused_ = false;        // conn_ came from the pool
    bool keep_alive_ok_ = true;  // cleared when the connection must not be pooled

    std::string req_head_;  // the request line and fields, as do_write sends them before request_.body
    std::optional<http::response_parser<http::buffer_body>> parser_;
    std::array<char, body_chunk> chunk_{};
    std::size_t chunk_size_ = 0;  // bytes offered to the parser in the pending body read
    std::size_t body_read_ = 0;
    delivery_response result_;
};

}  // namespace

struct delivery_client::impl : client_core {
    using client_core::client_core;
};

delivery_client::delivery_client(asio::io_context& ioc, delivery_client_options options,
                                 std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_shared<impl>(ioc, std::move(options), std::move(log))) {
    if (impl_->options.dangerous_skip_tls_verify) {
        impl_->log->warn("delivery.dangerous_skip_tls_verify is on: TLS certificates of endpoints are NOT verified");
    }
}

delivery_client::~delivery_client() { impl_->pool.close_all(true); }

void delivery_client::send(delivery_request request, std::function<void(delivery_response)> done) {
    std::make_shared<session>(impl_, std::move(request), std::move(done))->start();
}

void delivery_client::close_idle() { impl_->pool.close_all(false); }

}  // namespace webhookd
