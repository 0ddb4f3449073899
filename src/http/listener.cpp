#include "http/listener.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <spdlog/spdlog.h>

#include "http/session.hpp"

namespace webhookd::http {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {
// Pause after a failed accept (EMFILE and the like) before trying again.
constexpr auto accept_backoff = std::chrono::milliseconds(50);
}  // namespace


listener::listener(asio::io_context& ioc, const listener_config& cfg, std::string name, request_handler& handler,
                   std::shared_ptr<spdlog::logger> log)
    : ioc_(ioc),
      cfg_(std::make_shared<const listener_config>(cfg)),
      name_(std::move(name)),
      handler_(handler),
      log_(std::move(log)),
      acceptor_(asio::make_strand(ioc)),
      registry_(std::make_shared<connection_registry>()) {}

listener::~listener() = default;

webhookd::status listener::bind() {
    // The same parse as the config's check at start-up (webhookd/net.hpp).
    auto address = parse_host_port(cfg_->listen);
    if (!address) return error{error_code::listen_failed, name_ + ".listen is not host:port: " + cfg_->listen};
    boost::system::error_code ec;
    tcp::resolver resolver(ioc_);
    auto found = resolver.resolve(address->host, std::to_string(address->port),
                                  tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec || found.empty()) {
        return error{error_code::listen_failed,
                     "cannot resolve " + name_ + ".listen host " + address->host + ": " + ec.message()};
    }
    tcp::endpoint ep = found.begin()->endpoint();
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return error{error_code::listen_failed, "cannot listen on " + cfg_->listen + " (" + name_ + "): " + ec.message()};
    port_ = acceptor_.local_endpoint().port();
    return ok_v;
}

void listener::start() {
    log_->info("{} listening on {}:{}", name_, acceptor_.local_endpoint().address().to_string(), port_);
    asio::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->do_accept(); });
}

void listener::stop() {
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
        boost::system::error_code ignored;
        self->acceptor_.close(ignored);
        self->registry_->close_all();
    });
}

std::size_t listener::connections() const { return registry_->size(); }

void listener::do_accept() {
    acceptor_.async_accept(asio::make_strand(ioc_), [self = shared_from_this()](boost::system::error_code ec,
                                                                                tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
        if (ec) {
            // Out of file descriptors and the like: back off briefly instead of spinning.
            self->log_->warn("{} accept failed: {}; retrying in {} ms", self->name_, ec.message(),
                             accept_backoff.count());
            auto timer = std::make_shared<asio::steady_timer>(self->acceptor_.get_executor(), accept_backoff);
            timer->async_wait([self, timer](boost::system::error_code) { self->do_accept(); });
            return;
        }
        if (self->registry_->size() >= self->cfg_->max_connections) {
            self->log_->debug("{}: {} connections open (the limit); closing a new one", self->name_,
                             self->cfg_->max_connections);
            boost::system::error_code ignored;
            socket.close(ignored);
        } else {
            socket.set_option(tcp::no_delay(true), ec);
            std::make_shared<session>(std::move(socket), self->cfg_, self->handler_, self->log_, self->registry_,
                                      self->next_session_id_++)
                ->start();
        }
        self->do_accept();
    });
}

}  // namespace webhookd::http
