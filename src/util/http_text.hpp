#pragma once
// HTTP/1.1 message heads written out as text, so that a head and its body go in one gather
// write instead of through Beast's serializer, whose nested buffer sequences cost an ingest
// answer about 17,000 instructions (decision 87). Responses are templates over Beast's
// message types, so this header includes no Beast header; the delivery client's requests
// are written from its own header list. tests/util/http_text_test.cpp checks the bytes
// against Beast's serializer.
//
// For messages with a Content-Length (prepare_payload) and no transfer coding: the body
// follows the head as it is.

#include <string>
#include <string_view>

namespace webhookd {

// Appends one field as "Name: value\r\n".
inline void append_http_field(std::string& out, std::string_view name, std::string_view value) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
}

// Appends each of a Beast message's fields in order, then the empty line that ends a head.
template <class Fields>
void append_http_fields(const Fields& fields, std::string& out) {
    for (const auto& field : fields) append_http_field(out, field.name_string(), field.value());
    out += "\r\n";
}

// Appends "HTTP/1.1" (or the message's own version).
template <class Message>
void append_http_version(const Message& m, std::string& out) {
    out += "HTTP/";
    out += static_cast<char>('0' + m.version() / 10);
    out += '.';
    out += static_cast<char>('0' + m.version() % 10);
}

// Replaces `out` with a response's status line and fields.
template <class Response>
void write_response_head(const Response& res, std::string& out) {
    out.clear();
    append_http_version(res, out);
    out += ' ';
    out += std::to_string(res.result_int());
    out += ' ';
    out += res.reason();
    out += "\r\n";
    append_http_fields(res, out);
}

// Replaces `out` with the head of an HTTP/1.1 keep-alive POST to `target` with these
// fields, in order, after Host and User-Agent, and its Content-Length: the delivery
// client's requests, written without building a Beast message (whose fields are one
// allocation and one ordered insert each).
template <class Headers>
void write_post_head(std::string& out, std::string_view target, std::string_view host, std::string_view user_agent,
                     const Headers& headers, std::size_t content_length) {
    out.clear();
    out += "POST ";
    out += target;
    out += " HTTP/1.1\r\n";
    append_http_field(out, "Host", host);
    append_http_field(out, "User-Agent", user_agent);
    for (const auto& [name, value] : headers) append_http_field(out, name, value);
    append_http_field(out, "Content-Length", std::to_string(content_length));
    out += "\r\n";
}

}  // namespace webhookd
