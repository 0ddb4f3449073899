#include "http/session.hpp"

#include <spdlog/spdlog.h>

#include "util/http_text.hpp"

namespace webhookd::http {

namespace beast = boost::beast;
namespace asio = boost::asio;

namespace {
// How long a rejected connection may keep sending before it is closed, so that the
// client reads our error response instead of a reset.
constexpr auto linger_time = std::chrono::seconds(2);
constexpr std::size_t first_read = 4096;
// Bytes read but not yet parsed, beyond the header: chunk-size lines, chunk extensions and
// trailers are no body bytes, so max_body does not bound them; a line that never ends
// would otherwise grow the buffer until request_timeout. Body bytes pass through.
constexpr std::size_t unparsed_slack = 64 * 1024;

// A Transfer-Encoding we can frame: exactly "chunked" (any case, optional spaces). Any
// other coding, or chunked not alone, leaves the body's length unknown to us (RFC 9112
// section 6.1), and reading it as no body would take the body for the next request.
bool is_plain_chunked(std::string_view te) {
    while (!te.empty() && (te.front() == ' ' || te.front() == '\t')) te.remove_prefix(1);
    while (!te.empty() && (te.back() == ' ' || te.back() == '\t')) te.remove_suffix(1);
    return beast::iequals(te, "chunked");
}
}  // namespace

void connection_registry::add(const std::shared_ptr<session>& s) {
    std::lock_guard lock(mu_);
    sessions_.emplace(s.get(), s);
}

void connection_registry::remove(session* s) {
    std::lock_guard lock(mu_);
    sessions_.erase(s);
}

std::size_t connection_registry::size() const {
    std::lock_guard lock(mu_);
    return sessions_.size();
}

void connection_registry::close_all() {
    std::vector<std::shared_ptr<session>> open;
    {
        std::lock_guard lock(mu_);
        for (auto& [_, weak] : sessions_) {
            if (auto s = weak.lock()) open.push_back(std::move(s));
        }
    }
    for (auto& s : open) s->close();
}

session::session(asio::ip::tcp::socket socket, std::shared_ptr<const listener_config> cfg, request_handler& handler,
                 std::shared_ptr<spdlog::logger> log, std::shared_ptr<connection_registry> registry, std::uint64_t id)
    : stream_(std::move(socket)),
      buffer_(cfg->max_header + unparsed_slack),
      cfg_(std::move(cfg)),
      handler_(handler),
      log_(std::move(log)),
      registry_(std::move(registry)),
      id_(id) {}

session::~session() { registry_->remove(this); }

void session::start() {
    registry_->add(shared_from_this());
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_wait(); });
}

void session::close() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
        self->closing_ = true;
        if (!self->busy_) self->shutdown();
    });
}

void session::do_wait() {
    if (closing_) return shutdown();
    if (buffer_.size() > 0) return do_read();  // a pipelined request is already here
    // A new connection must start its request promptly; a kept-alive one may idle longer.
    stream_.expires_after(served_ == 0 ? cfg_->request_timeout : cfg_->idle_timeout);
    stream_.async_read_some(buffer_.prepare(first_read),
                            beast::bind_front_handler(&session::on_wait, shared_from_this()));
}

void session::on_wait(beast::error_code ec, std::size_t n) {
    if (ec) return shutdown();  // idle timeout, peer closed, or close()
    buffer_.commit(n);
    do_read();
}

void session::do_read() {
    parser_.emplace();
    parser_->body_limit(cfg_->max_body);
    parser_->header_limit(static_cast<std::uint32_t>(cfg_->max_header));
    stream_.expires_after(cfg_->request_timeout);
    beast_http::async_read_header(stream_, buffer_, *parser_,
                                  [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
}

void session::on_header(beast::error_code ec) {
    if (ec) return on_read(ec);
    auto& req = parser_->get();
    // RFC 9112 section 3.2: an HTTP/1.1 request without Host, or any request with two.
    if (auto hosts = req.count(beast_http::field::host); hosts > 1 || (hosts == 0 && req.version() >= 11)) {
        return reject(error_code::bad_request,
                      hosts > 1 ? "more than one Host header" : "an HTTP/1.1 request needs a Host header");
    }
    if (auto te = req.find(beast_http::field::transfer_encoding); te != req.end()) {
        if (req.count(beast_http::field::transfer_encoding) != 1 || !is_plain_chunked(te->value())) {
            return reject(error_code::bad_request,
                          "Transfer-Encoding must be \"chunked\" alone; other transfer codings are not supported");
        }
    }
    // A chunked body's size is unknown until its end: room for max_body at once, so that it
    // never grows by reallocation (old and new copy alive together). Pages are touched only
    // as bytes arrive; a Content-Length body is reserved at its length by the parser.
    if (parser_->chunked()) req.body().reserve(cfg_->max_body);
    if (beast::iequals(req[beast_http::field::expect], "100-continue")) {
        auto cont = std::make_shared<beast_http::response<beast_http::empty_body>>(status::continue_, req.version());
        beast_http::async_write(stream_, *cont, [self = shared_from_this(), cont](beast::error_code ec, std::size_t) {
            self->on_continue(ec);
        });
        return;
    }
    on_continue({});
}

void session::on_continue(beast::error_code ec) {
    if (ec) return shutdown();
    beast_http::async_read(stream_, buffer_, *parser_,
                           [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
}

void session::on_read(beast::error_code ec) {
    if (ec == beast_http::error::end_of_stream || ec == asio::error::operation_aborted) return shutdown();
    if (ec == beast::error::timeout) {
        log_->debug("conn {}: request not read within {} ms, closing", id_, cfg_->request_timeout.count());
        return shutdown();
    }
    if (ec == beast_http::error::body_limit) {
        return reject(error_code::payload_too_large,
                      "request body exceeds " + std::to_string(cfg_->max_body) + " bytes");
    }
    if (ec == beast_http::error::header_limit) {
        return reject(error_code::headers_too_large,
                      "request headers exceed " + std::to_string(cfg_->max_header) + " bytes");
    }
    if (ec) {
        if (ec.category() == beast_http::make_error_code(beast_http::error::bad_method).category()) {
            return reject(error_code::bad_request, "malformed HTTP request: " + ec.message());
        }
        return shutdown();  // connection reset and the like
    }
    busy_ = true;
    head_ = parser_->get().method() == verb::head;
    stream_.expires_never();  // the handler has its own bounds
    handler_.handle(parser_->release(), [self = shared_from_this()](response res) {
        asio::post(self->stream_.get_executor(),
                   [self, res = std::move(res)]() mutable { self->on_response(std::move(res)); });
    });
}

void session::on_response(response res) {
    if (closing_) res.keep_alive(false);
    if (head_) {
        // A HEAD answer has the headers of the answer to GET and no body (RFC 9110 section
        // 9.3.2): a body would be read as the start of the next response.
        auto length = res.body().size();
        res.body().clear();
        res.content_length(length);
    }
    res_.emplace(std::move(res));
    do_write();
}

void session::do_write() {
    stream_.expires_after(cfg_->request_timeout);
    const response& res = *res_;
    bool keep_alive = res.keep_alive();
    // The head as text and the body in one gather write (util/http_text.hpp): every
    // response has its Content-Length and no transfer coding.
    write_response_head(res, res_head_);
    std::array<asio::const_buffer, 2> buffers{asio::buffer(res_head_), asio::buffer(res.body())};
    asio::async_write(stream_, buffers, [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
        self->on_write(ec, keep_alive);
    });
}

void session::on_write(beast::error_code ec, bool keep_alive) {
    busy_ = false;
    ++served_;
    res_.reset();
    if (ec) return shutdown();
    if (lingering_) return do_linger();
    if (!keep_alive || closing_) return shutdown();
    do_wait();
}

void session::reject(error_code code, std::string_view message) {
    log_->debug("conn {}: {} ({})", id_, static_cast<unsigned>(status_of(code)), to_string(code));
    parser_.reset();  // what was read of the request goes now, not when the linger ends
    response res{status_of(code), 11};
    res.set(beast_http::field::content_type, "application/json");
    res.keep_alive(false);
    res.body() = error_body(code, message);
    res.prepare_payload();
    lingering_ = true;
    busy_ = true;
    res_.emplace(std::move(res));
    do_write();
}

void session::do_linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    stream_.expires_after(linger_time);  // one deadline for the whole drain
    linger_read();
}

void session::linger_read() {
    stream_.async_read_some(asio::buffer(scratch_), [self = shared_from_this()](beast::error_code ec, std::size_t) {
        if (ec) return self->shutdown();  // peer finished, or the linger deadline passed
        self->linger_read();
    });
}

void session::shutdown() {
    beast::error_code ignored;
    stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
}

}  // namespace webhookd::http
