#pragma once
// A small blocking HTTP(S) server on 127.0.0.1 for client tests. Each accepted connection
// runs the test's handler on its own thread, with plain blocking reads and writes, so a
// handler can misbehave on purpose: answer garbage, stop mid-response, never answer.
// The server records every request it reads and counts the connections it accepts.

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace webhookd::test {

// A request as the server read it.
struct recorded_request {
    std::string method;
    std::string target;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::string tls_server_name;  // the SNI the client sent; empty over plain TCP or without SNI

    // The first header of that name (case-insensitive), or "" when absent.
    std::string header(std::string_view name) const;
};

class test_server;

// One accepted connection, as a handler sees it. All calls block.
class test_connection {
public:
    virtual ~test_connection() = default;
    // Reads one request and records it; nullopt when the peer closed or the bytes were not HTTP.
    virtual std::optional<recorded_request> read_request() = 0;
    // Writes raw bytes; false once the peer is gone.
    virtual bool write(std::string_view bytes) = 0;
    // Reads and discards until the peer closes or the server stops.
    virtual void hold() = 0;
    // The 1-based number of this connection among all the server accepted.
    virtual std::size_t index() const = 0;
};

class test_server {
public:
    using handler = std::function<void(test_connection&)>;

    // Plain HTTP. Listens before returning.
    explicit test_server(handler h);
    // HTTPS with the given PEM certificate (chain) and key.
    test_server(handler h, const std::string& cert_file, const std::string& key_file);
    // Stops: closes the listener and every open connection, joins every thread.
    ~test_server();
    test_server(const test_server&) = delete;
    test_server& operator=(const test_server&) = delete;

    unsigned short port() const;
    // "http://127.0.0.1:<port><path>" (or https).
    std::string url(std::string_view path = "/") const;
    // Connections accepted so far (TLS: whether or not the handshake succeeded).
    std::size_t accepts() const;
    // Requests read so far, in order.
    std::vector<recorded_request> requests() const;

    // A handler that answers every request on a connection with `raw` (a whole HTTP
    // response, written verbatim) until the peer closes.
    static handler respond(std::string raw);

    struct state;  // shared with connection threads

private:
    void start();  // listens and starts the accept thread

    std::shared_ptr<state> state_;
};

}  // namespace webhookd::test
