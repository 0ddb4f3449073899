#pragma once
// An HTTP/1.1 listener: accepts connections on one address and runs a session per
// connection, each on its own strand. stop() closes the acceptor and every idle
// connection; connections with a request in progress close after their response.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>
#include <string>

#include "webhookd/config.hpp"
#include "webhookd/result.hpp"

namespace spdlog {
class logger;
}

namespace webhookd::http {

class request_handler;
class connection_registry;

class listener : public std::enable_shared_from_this<listener> {
public:
    // The handler and logger must outlive every session (the daemon owns them).
    listener(boost::asio::io_context& ioc, const listener_config& cfg, std::string name, request_handler& handler,
             std::shared_ptr<spdlog::logger> log);
    ~listener();

    // Binds and listens on cfg.listen ("host:0" picks a free port). Error "listen_failed".
    webhookd::status bind();
    // Starts accepting. Call once after bind().
    void start();
    // Thread-safe. Idempotent.
    void stop();

    unsigned short port() const { return port_; }
    // Open connections right now.
    std::size_t connections() const;

private:
    void do_accept();

    boost::asio::io_context& ioc_;
    std::shared_ptr<const listener_config> cfg_;
    std::string name_;
    request_handler& handler_;
    std::shared_ptr<spdlog::logger> log_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::shared_ptr<connection_registry> registry_;
    unsigned short port_ = 0;
    std::uint64_t next_session_id_ = 1;
};

}  // namespace webhookd::http
