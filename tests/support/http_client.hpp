#pragma once
// A blocking HTTP/1.1 client for tests: one keep-alive connection to 127.0.0.1:port.

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <map>
#include <string>

namespace webhookd::test {

struct http_result {
    int status = 0;
    std::string body;
    std::map<std::string, std::string> headers;  // lower-case names
    bool closed = false;                         // the server closed the connection after it
};

// The status, body, lower-case headers and keep-alive of a parsed response.
http_result to_result(const boost::beast::http::response<boost::beast::http::string_body>& res);

class http_client {
public:
    explicit http_client(unsigned short port);
    // Sends one request and reads the response. Throws boost::system::system_error.
    http_result request(const std::string& method, const std::string& target, const std::string& body = "",
                        const std::map<std::string, std::string>& headers = {{"Content-Type", "application/json"}});
    http_result post(const std::string& target, const std::string& body) { return request("POST", target, body); }
    http_result get(const std::string& target) { return request("GET", target, "", {}); }

private:
    boost::asio::io_context ioc_;
    boost::beast::tcp_stream stream_;
    boost::beast::flat_buffer buffer_;
};

}  // namespace webhookd::test
