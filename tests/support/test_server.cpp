#include "support/test_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

namespace webhookd::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

std::string recorded_request::header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
        if (beast::iequals(n, name)) return v;
    }
    return {};
}

// Everything the server's threads share. The mutex guards requests, open_sockets and
// threads; accepts is atomic.
struct test_server::state {
    asio::io_context ioc;  // never run: the sockets are used synchronously
    tcp::acceptor acceptor{ioc};
    std::optional<ssl::context> tls;
    handler on_connection;
    std::atomic<std::size_t> accepts{0};
    std::atomic<bool> stopping{false};
    unsigned short port = 0;

    mutable std::mutex mu;
    std::vector<recorded_request> requests;
    std::set<int> open_sockets;  // native handles, shut down by stop()
    std::vector<std::thread> threads;

    void accept_loop();
    void serve(tcp::socket socket, std::size_t index);
    void stop();
};

namespace {

constexpr std::size_t max_test_body = 16 * 1024 * 1024;

// A test_connection over a plain socket or a TLS stream on it.
template <class Stream>
class connection_impl final : public test_connection {
public:
    connection_impl(Stream& stream, test_server::state& server, std::size_t index, std::string sni)
        : stream_(stream), server_(server), index_(index), sni_(std::move(sni)) {}

    std::optional<recorded_request> read_request() override {
        http::request_parser<http::string_body> parser;
        parser.body_limit(max_test_body);
        beast::error_code ec;
        http::read(stream_, buffer_, parser, ec);
        if (ec) return std::nullopt;
        const auto& req = parser.get();
        recorded_request r;
        r.method = std::string(req.method_string());
        r.target = std::string(req.target());
        for (const auto& field : req) r.headers.emplace_back(field.name_string(), field.value());
        r.body = req.body();
        r.tls_server_name = sni_;
        std::lock_guard lock(server_.mu);
        server_.requests.push_back(r);
        return r;
    }

    bool write(std::string_view bytes) override {
        beast::error_code ec;
        asio::write(stream_, asio::buffer(bytes.data(), bytes.size()), ec);
        return !ec;
    }

    void hold() override {
        std::array<char, 4096> scratch;
        beast::error_code ec;
        while (!ec) stream_.read_some(asio::buffer(scratch), ec);
    }

    std::size_t index() const override { return index_; }

private:
    Stream& stream_;
    test_server::state& server_;
    std::size_t index_;
    std::string sni_;
    beast::flat_buffer buffer_;
};

}  // namespace

void test_server::state::accept_loop() {
    while (!stopping) {
        beast::error_code ec;
        tcp::socket socket(ioc);
        acceptor.accept(socket, ec);
        if (ec) {
            if (stopping) return;
            continue;
        }
        const std::size_t index = ++accepts;
        std::lock_guard lock(mu);
        if (stopping) return;
        open_sockets.insert(socket.native_handle());
        threads.emplace_back([this, s = std::move(socket), index]() mutable { serve(std::move(s), index); });
    }
}

void test_server::state::serve(tcp::socket socket, std::size_t index) {
    const int fd = socket.native_handle();
    if (tls) {
        ssl::stream<tcp::socket&> stream(socket, *tls);
        beast::error_code ec;
        stream.handshake(ssl::stream_base::server, ec);
        if (!ec) {
            const char* sni = SSL_get_servername(stream.native_handle(), TLSEXT_NAMETYPE_host_name);
            connection_impl<ssl::stream<tcp::socket&>> c(stream, *this, index, sni ? sni : "");
            on_connection(c);
        }
    } else {
        connection_impl<tcp::socket> c(socket, *this, index, "");
        on_connection(c);
    }
    // Unregister before closing, so stop() never shuts down a reused descriptor number.
    std::lock_guard lock(mu);
    open_sockets.erase(fd);
    beast::error_code ignored;
    socket.close(ignored);
}

void test_server::state::stop() {
    std::vector<std::thread> to_join;
    {
        std::lock_guard lock(mu);
        stopping = true;
        ::shutdown(acceptor.native_handle(), SHUT_RDWR);  // wakes the blocked accept()
        for (int fd : open_sockets) ::shutdown(fd, SHUT_RDWR);  // wakes blocked reads
    }
    // No thread is added once stopping is set under the lock.
    {
        std::lock_guard lock(mu);
        to_join.swap(threads);
    }
    for (auto& t : to_join) t.join();
}

test_server::test_server(handler h) : state_(std::make_shared<state>()) {
    state_->on_connection = std::move(h);
    start();
}

test_server::test_server(handler h, const std::string& cert_file, const std::string& key_file)
    : state_(std::make_shared<state>()) {
    state_->on_connection = std::move(h);
    auto& ctx = state_->tls.emplace(ssl::context::tls_server);
    ctx.use_certificate_chain_file(cert_file);
    ctx.use_private_key_file(key_file, ssl::context::pem);
    start();
}

void test_server::start() {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    state_->acceptor.open(ep.protocol());
    state_->acceptor.set_option(tcp::acceptor::reuse_address(true));
    state_->acceptor.bind(ep);
    state_->acceptor.listen();
    state_->port = state_->acceptor.local_endpoint().port();
    std::lock_guard lock(state_->mu);
    state_->threads.emplace_back([s = state_.get()] { s->accept_loop(); });
}

test_server::~test_server() { state_->stop(); }

unsigned short test_server::port() const { return state_->port; }

std::string test_server::url(std::string_view path) const {
    return std::string(state_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(state_->port) +
           std::string(path);
}

std::size_t test_server::accepts() const { return state_->accepts; }

std::vector<recorded_request> test_server::requests() const {
    std::lock_guard lock(state_->mu);
    return state_->requests;
}

test_server::handler test_server::respond(std::string raw) {
    return [raw = std::move(raw)](test_connection& c) {
        while (c.read_request()) {
            if (!c.write(raw)) return;
        }
    };
}

}  // namespace webhookd::test
