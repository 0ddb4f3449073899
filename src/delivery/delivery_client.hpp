#pragma once
// The HTTP(S) client that makes delivery attempts: POSTs one request to an endpoint URL and
// reports a classified outcome. Fully asynchronous on the io_context it is given.
//
// Guarantees: redirects are never followed; TLS always verifies the chain, the host name
// and sends SNI (unless dangerous_skip_tls_verify); the host is resolved once and only an
// address that passes the SSRF guard is dialled; every step has a deadline and the whole
// attempt is bounded by `timeout`; at most `max_response_body` bytes of the response are
// read, and `max_snippet` kept. Keep-alive connections are pooled per (scheme, host, port)
// up to `max_idle_per_host`; a connection that errors is discarded.

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "delivery/address_guard.hpp"
#include "util/attempt_outcome.hpp"
#include "webhookd/config.hpp"

namespace spdlog {
class logger;
}

namespace webhookd {

struct delivery_client_options {
    duration timeout = std::chrono::seconds(30);
    std::size_t max_response_body = 64 * 1024;
    std::size_t max_snippet = 4 * 1024;
    std::size_t max_idle_per_host = 16;
    duration idle_keepalive = std::chrono::seconds(30);  // pooled connections older than this are closed
    std::vector<cidr> allowed_cidrs;
    std::string extra_ca_file;                 // PEM bundle added to the system trust store
    bool dangerous_skip_tls_verify = false;
    std::string user_agent = "webhookd";
};

struct delivery_request {
    std::string url;                                         // http:// or https://
    std::vector<std::pair<std::string, std::string>> headers;  // Content-Type etc. are the caller's
    std::string body;
};

struct delivery_response {
    attempt_outcome outcome = attempt_outcome::connect_error;
    int status_code = 0;                     // 0 when no response was read
    std::string error;                       // empty on success; else what failed, for the log
    std::string snippet;                     // first max_snippet bytes of the response body
    std::optional<duration> retry_after;     // parsed Retry-After of a 429 or 503
    std::chrono::microseconds elapsed{0};    // whole attempt
};

class delivery_client {
public:
    delivery_client(boost::asio::io_context& ioc, delivery_client_options options, std::shared_ptr<spdlog::logger> log);
    ~delivery_client();

    // Makes one attempt. `done` is called exactly once, on an io_context thread, unless the
    // io_context is stopped first. Thread-safe.
    void send(delivery_request request, std::function<void(delivery_response)> done);

    // Closes every pooled connection. Thread-safe.
    void close_idle();

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace webhookd
