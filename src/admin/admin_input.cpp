#include "admin/admin_input.hpp"

#include <boost/beast/core/string.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>

#include "delivery/request_builder.hpp"
#include "delivery/signer.hpp"
#include "delivery/url.hpp"
#include "util/base64.hpp"
#include "util/endpoint_matcher.hpp"
#include "util/ids.hpp"
#include "util/ids.hpp"
#include "util/json_parse.hpp"
#include "util/time_format.hpp"

namespace webhookd::admin {

using json = nlohmann::json;

namespace {

error invalid(std::string message) { return error{error_code::invalid_field, std::move(message)}; }

// RFC 9110 token characters: what a header name may consist of.
bool is_header_name(std::string_view name) {
    if (name.empty() || name.size() > 128) return false;
    return std::all_of(name.begin(), name.end(), [](unsigned char c) {
        return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
    });
}

// Visible ASCII, space and tab: no line breaks or NUL that could split the request.
bool is_header_value(std::string_view value) {
    return value.size() <= max_header_value && std::all_of(value.begin(), value.end(), [](unsigned char c) {
               return c == '\t' || (c >= 0x20 && c != 0x7f);
           });
}

template <class T>
std::optional<T> parse_integer(std::string_view text) {
    T value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

}  // namespace

result<json> parse_object(std::string_view body, bool empty_is_object) {
    if (body.empty() && empty_is_object) return json::object();
    auto doc = parse_json_body<json>(body);
    if (!doc) return doc;
    json parsed = std::move(doc).value();
    if (!parsed.is_object()) return error{error_code::invalid_json, "request body must be a JSON object"};
    return parsed;
}

status only_fields(const json& object, std::initializer_list<std::string_view> allowed, std::string_view prefix) {
    for (auto it = object.begin(); it != object.end(); ++it) {
        if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
            return invalid("unknown field \"" + std::string(prefix) + it.key() + "\"");
        }
    }
    return ok_v;
}

result<endpoint_settings> parse_endpoint_settings(const json& body, bool create,
                                                  std::optional<std::string>* secret_out) {
    for (const char* health : {"status", "disabled_reason", "disabled_at", "failing_since", "consecutive_failures"}) {
        if (body.contains(health)) {
            return invalid("\"" + std::string(health) +
                           "\" is kept by webhookd and cannot be set: use \"enabled\", or pause and resume");
        }
    }
    if (auto st = create ? only_fields(body, {"url", "events", "description", "secret", "signature", "headers",
                                              "body", "enabled", "tenant", "rate_limit", "ordering"})
                         : only_fields(body, {"url", "events", "description", "signature", "headers", "body",
                                              "enabled", "rate_limit", "ordering"});
        !st) {
        if (!create && body.contains("secret")) {
            return invalid("\"secret\" cannot be patched: use POST /v1/endpoints/{id}/rotate-secret");
        }
        if (!create && body.contains("tenant")) return invalid("\"tenant\" is fixed when the endpoint is created");
        return st.err();
    }
    endpoint_settings s;

    if (body.contains("tenant") && !body["tenant"].is_null()) {
        const auto& t = body["tenant"];
        if (!t.is_string() || !is_tenant_id(t.get<std::string>())) {
            return invalid("\"tenant\" must be a tenant id: 1-255 characters of [A-Za-z0-9_.:-]");
        }
        s.tenant = t.get<std::string>();
    }

    if (body.contains("url")) {
        const auto& url = body["url"];
        if (!url.is_string()) return invalid("\"url\" must be a string");
        auto text = url.get<std::string>();
        if (text.size() > 2048) return invalid("\"url\" is longer than 2048 characters");
        if (auto t = parse_target(text); !t) return invalid("\"url\": " + t.err().message);
        s.url = std::move(text);
    } else if (create) {
        return invalid("\"url\" is required");
    }

    if (body.contains("events")) {
        const auto& events = body["events"];
        if (!events.is_array()) return invalid("\"events\" must be an array of event names or patterns");
        if (events.size() > max_patterns) return invalid("\"events\" has more than " + std::to_string(max_patterns) + " entries");
        for (std::size_t i = 0; i < events.size(); ++i) {
            if (!events[i].is_string() || !is_valid_pattern(events[i].get<std::string>())) {
                return invalid("\"events[" + std::to_string(i) +
                               "]\" must be an event name, a \"prefix.*\" pattern or \"*\"");
            }
        }
        s.patterns_json = events.dump();
    } else if (create) {
        s.patterns_json = "[]";
    }

    if (body.contains("rate_limit")) {
        const auto& r = body["rate_limit"];
        if (r.is_null()) {
            s.rate_limit.emplace(std::nullopt);
        } else if (!r.is_number_integer() || r.get<std::int64_t>() < 1 || r.get<std::int64_t>() > max_rate_limit) {
            return invalid("\"rate_limit\" must be an integer from 1 to " + std::to_string(max_rate_limit) +
                           " (attempts per second), or null for no limit");
        } else {
            s.rate_limit.emplace(r.get<std::int64_t>());
        }
    }

    if (body.contains("ordering")) {
        const auto& o = body["ordering"];
        if (!o.is_string() || (o.get<std::string>() != "unordered" && o.get<std::string>() != "fifo")) {
            return invalid("\"ordering\" must be \"unordered\" or \"fifo\"");
        }
        s.ordering = o.get<std::string>();
    }

    if (body.contains("description")) {
        const auto& d = body["description"];
        if (!d.is_string()) return invalid("\"description\" must be a string");
        if (d.get<std::string>().size() > max_description) {
            return invalid("\"description\" is longer than " + std::to_string(max_description) + " bytes");
        }
        s.description = d.get<std::string>();
    } else if (create) {
        s.description = "";
    }

    if (body.contains("secret") && create) {
        const auto& sec = body["secret"];
        if (!sec.is_string() || !is_valid_secret(sec.get<std::string>())) {
            return invalid("\"secret\" must be \"whsec_\" followed by the base64 of 24 to 64 random bytes");
        }
        if (secret_out) *secret_out = sec.get<std::string>();
    }

    if (body.contains("signature")) {
        const auto& sig = body["signature"];
        if (!sig.is_object()) return invalid("\"signature\" must be an object {\"format\", \"header\"}");
        if (auto st = only_fields(sig, {"format", "header"}, "signature."); !st) return st.err();
        if (sig.contains("format")) {
            if (!sig["format"].is_string() || !parse_signature_format(sig["format"].get<std::string>())) {
                return invalid("\"signature.format\" must be \"hex\", \"sha256\" or \"stripe\"");
            }
            s.signature_format = sig["format"].get<std::string>();
        }
        if (sig.contains("header")) {
            if (!sig["header"].is_string() || !is_header_name(sig["header"].get<std::string>())) {
                return invalid("\"signature.header\" must be an HTTP header name");
            }
            auto name = sig["header"].get<std::string>();
            // Any other name webhookd or HTTP sets itself is taken (compared against a name
            // no header has, so that only the reserved list decides).
            if (!boost::beast::iequals(name, "X-Webhook-Signature") && is_reserved_header(name, "\n")) {
                return invalid("\"signature.header\": " + name + " is a header webhookd or HTTP sets itself");
            }
            s.signature_header = std::move(name);
        }
    }
    if (create) {
        if (!s.signature_format) s.signature_format = "hex";
        if (!s.signature_header) s.signature_header = "X-Webhook-Signature";
    }

    if (body.contains("headers")) {
        const auto& h = body["headers"];
        if (!h.is_object()) return invalid("\"headers\" must be an object of header names to string values");
        if (h.size() > max_custom_headers) {
            return invalid("\"headers\" has more than " + std::to_string(max_custom_headers) + " entries");
        }
        for (auto it = h.begin(); it != h.end(); ++it) {
            const std::string field = "\"headers." + it.key() + "\"";
            if (!is_header_name(it.key())) return invalid(field + ": not a valid HTTP header name");
            if (!it.value().is_string() || !is_header_value(it.value().get<std::string>())) {
                return invalid(field + " must be a string of at most " + std::to_string(max_header_value) +
                               " visible characters");
            }
            // Signature and framing headers are webhookd's; the endpoint's own signature
            // header too (checked against the header this body or the default names).
            if (is_reserved_header(it.key(), s.signature_header.value_or("X-Webhook-Signature"))) {
                return invalid(field + ": " + it.key() + " is a header webhookd or HTTP sets itself");
            }
        }
        s.headers_json = h.dump();
    } else if (create) {
        s.headers_json = "{}";
    }

    if (body.contains("body")) {
        const auto& b = body["body"];
        if (!b.is_string() || (b.get<std::string>() != "envelope" && b.get<std::string>() != "data")) {
            return invalid("\"body\" must be \"envelope\" or \"data\"");
        }
        s.body_mode = b.get<std::string>();
    } else if (create) {
        s.body_mode = "envelope";
    }

    if (body.contains("enabled")) {
        if (!body["enabled"].is_boolean()) return invalid("\"enabled\" must be true or false");
        s.enabled = body["enabled"].get<bool>();
    } else if (create) {
        s.enabled = true;
    }
    return s;
}

bool is_tenant_id(std::string_view text) { return is_valid_token(text, max_tenant_id); }

result<tenant_settings> parse_tenant_settings(const json& body, bool create, std::optional<std::string>* id_out) {
    if (auto st = create ? only_fields(body, {"id", "name", "metadata"}) : only_fields(body, {"name", "metadata"});
        !st) {
        if (!create && body.contains("id")) return invalid("\"id\" of a tenant cannot change");
        return st.err();
    }
    tenant_settings s;
    if (create && body.contains("id")) {
        const auto& id = body["id"];
        if (!id.is_string() || !is_tenant_id(id.get<std::string>())) {
            return invalid("\"id\" must be 1-255 characters of [A-Za-z0-9_.:-]");
        }
        if (id_out) *id_out = id.get<std::string>();
    }
    if (body.contains("name")) {
        const auto& n = body["name"];
        if (!n.is_string()) return invalid("\"name\" must be a string");
        if (n.get<std::string>().size() > max_tenant_name) {
            return invalid("\"name\" is longer than " + std::to_string(max_tenant_name) + " bytes");
        }
        s.name = n.get<std::string>();
    } else if (create) {
        s.name = "";
    }
    if (body.contains("metadata")) {
        const auto& m = body["metadata"];
        if (!m.is_object()) return invalid("\"metadata\" must be an object of string values");
        if (m.size() > max_metadata_keys) {
            return invalid("\"metadata\" has more than " + std::to_string(max_metadata_keys) + " keys");
        }
        for (auto it = m.begin(); it != m.end(); ++it) {
            const std::string field = "\"metadata." + it.key() + "\"";
            if (it.key().empty() || it.key().size() > max_metadata_key) {
                return invalid("\"metadata\" keys must be 1-" + std::to_string(max_metadata_key) + " bytes");
            }
            if (!it.value().is_string() || it.value().get<std::string>().size() > max_metadata_value) {
                return invalid(field + " must be a string of at most " + std::to_string(max_metadata_value) +
                               " bytes");
            }
        }
        s.metadata_json = m.dump();
    } else if (create) {
        s.metadata_json = "{}";
    }
    return s;
}

result<token_request> parse_token_request(const json& body) {
    if (auto st = only_fields(body, {"description", "expires_in"}); !st) return st.err();
    token_request r;
    if (body.contains("description")) {
        const auto& d = body["description"];
        if (!d.is_string()) return invalid("\"description\" must be a string");
        if (d.get<std::string>().size() > max_description) {
            return invalid("\"description\" is longer than " + std::to_string(max_description) + " bytes");
        }
        r.description = d.get<std::string>();
    }
    if (body.contains("expires_in")) {
        const auto& e = body["expires_in"];
        const char* why = "\"expires_in\" must be a duration from \"1s\" to \"366d\", or \"never\"";
        if (!e.is_string()) return invalid(why);
        if (e.get<std::string>() == "never") {
            r.expires_in = std::nullopt;
        } else {
            auto d = parse_duration(e.get<std::string>());
            if (!d || *d < std::chrono::seconds(1) || *d > max_token_lifetime) return invalid(why);
            r.expires_in = *d;
        }
    }
    return r;
}

std::string encode_cursor(const page_key& key) {
    auto text = base64_encode(std::to_string(key.primary) + "." + std::to_string(key.id));
    for (auto& c : text) {
        if (c == '+') c = '-';
        if (c == '/') c = '_';
    }
    while (!text.empty() && text.back() == '=') text.pop_back();
    return "c1" + text;
}

std::optional<page_key> decode_cursor(std::string_view cursor) {
    if (!cursor.starts_with("c1") || cursor.size() > 64) return std::nullopt;
    std::string text(cursor.substr(2));
    for (auto& c : text) {
        if (c == '-') c = '+';
        else if (c == '_') c = '/';
        else if (c == '+' || c == '/') return std::nullopt;
    }
    while (text.size() % 4 != 0) text.push_back('=');
    auto decoded = base64_decode(text);
    if (!decoded) return std::nullopt;
    auto dot = decoded->find('.');
    if (dot == std::string::npos) return std::nullopt;
    auto primary = parse_integer<std::int64_t>(std::string_view(*decoded).substr(0, dot));
    auto id = parse_integer<std::int64_t>(std::string_view(*decoded).substr(dot + 1));
    if (!primary || !id) return std::nullopt;
    return page_key{*primary, *id};
}

result<page_request> parse_page(const std::optional<std::string>& limit, const std::optional<std::string>& cursor) {
    page_request page;
    page.limit = default_page_limit;
    if (limit) {
        auto n = parse_integer<std::size_t>(*limit);
        if (!n || *n < 1 || *n > max_page_limit) {
            return invalid("\"limit\" must be a whole number from 1 to " + std::to_string(max_page_limit));
        }
        page.limit = *n;
    }
    if (cursor && !cursor->empty()) {
        auto key = decode_cursor(*cursor);
        if (!key) return invalid("\"cursor\" is not a cursor this API returned");
        page.after = *key;
    }
    return page;
}

result<std::int64_t> parse_time(std::string_view field, std::string_view text) {
    if (auto seconds = parse_integer<std::int64_t>(text); seconds && *seconds >= 0 && *seconds < 253402300800) {
        return *seconds * 1000;
    }
    if (auto ms = parse_rfc3339_ms(text)) return *ms;
    return invalid("\"" + std::string(field) + "\" must be an RFC 3339 time (2026-11-25T10:00:00Z) or Unix seconds");
}

result<duration> parse_grace_period(std::string_view text) {
    auto d = parse_duration(text);
    if (!d) return invalid("\"grace_period\" must be a duration such as \"24h\" or \"30m\"");
    if (*d > max_grace_period) return invalid("\"grace_period\" is longer than 7 days (\"7d\")");
    return *d;
}

}  // namespace webhookd::admin
