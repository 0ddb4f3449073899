#pragma once
// One HTTP/1.1 connection. States, in order, repeating while keep-alive holds:
//   waiting  (for the first byte of a request: request_timeout on a new connection,
//            idle_timeout between kept-alive requests)
//   reading  (request_timeout for the whole request: header, optional 100-continue, body)
//   handling (the handler owns the request; the connection waits for its responder)
//   writing  (request_timeout for the response)
// Limits violated while reading answer 413 / 431 / 400 and close after a short linger.
// All handlers run on the connection's strand; the session lives through the
// shared_ptr bound into every pending handler.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "http/types.hpp"
#include "webhookd/config.hpp"

namespace spdlog {
class logger;
}

namespace webhookd::http {

class session;

// The open sessions of one listener, for the connection cap and for stop().
class connection_registry {
public:
    void add(const std::shared_ptr<session>& s);
    void remove(session* s);
    std::size_t size() const;
    // Asks every open session to close (idle ones at once, busy ones after responding).
    void close_all();

private:
    mutable std::mutex mu_;  // guards sessions_
    std::unordered_map<session*, std::weak_ptr<session>> sessions_;
};

class session : public std::enable_shared_from_this<session> {
public:
    session(boost::asio::ip::tcp::socket socket, std::shared_ptr<const listener_config> cfg, request_handler& handler,
            std::shared_ptr<spdlog::logger> log, std::shared_ptr<connection_registry> registry, std::uint64_t id);
    ~session();

    void start();
    // Thread-safe: closes now if no request is being handled, else after its response.
    void close();

private:
    void do_wait();
    void on_wait(boost::beast::error_code ec, std::size_t n);
    void do_read();
    void on_header(boost::beast::error_code ec);
    void on_continue(boost::beast::error_code ec);
    void on_read(boost::beast::error_code ec);
    void on_response(response res);
    void do_write();
    void on_write(boost::beast::error_code ec, bool keep_alive);
    void reject(error_code code, std::string_view message);
    void do_linger();
    void linger_read();
    void shutdown();

    boost::beast::tcp_stream stream_;
    boost::beast::flat_buffer buffer_;
    std::optional<beast_http::request_parser<beast_http::string_body>> parser_;
    std::optional<response> res_;
    std::string res_head_;      // res_'s status line and fields as do_write sends them
    std::shared_ptr<const listener_config> cfg_;
    request_handler& handler_;
    std::shared_ptr<spdlog::logger> log_;
    std::shared_ptr<connection_registry> registry_;
    std::uint64_t id_;
    std::uint64_t served_ = 0;  // responses written on this connection
    bool busy_ = false;     // a request is with the handler or its response is being written
    bool closing_ = false;  // close after the current response
    bool lingering_ = false;
    bool head_ = false;     // the request being answered is HEAD: its response goes without a body
    std::array<char, 4096> scratch_{};
};

}  // namespace webhookd::http
