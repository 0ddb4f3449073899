// Config parsing: a table of known keys per JSON object, each with a reader that checks
// the value and stores it. The first problem found is returned as an "invalid_config"
// error naming the dotted key path.

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>

#include "webhookd/config.hpp"

#include "util/redact_url.hpp"

namespace webhookd {
namespace {

using json = nlohmann::json;
namespace ip = boost::asio::ip;

// Durations above this are refused so that "now + duration" cannot overflow a clock.
constexpr duration max_duration = std::chrono::hours(24 * 3650);
constexpr std::size_t max_schedule_entries = 100;
constexpr std::size_t max_io_threads = 64;

constexpr std::string_view duration_example = R"(a duration like "50ms", "5m", "24h")";

error config_error(std::string message) { return error{error_code::invalid_config, std::move(message)}; }

// `value` as compact JSON, shortened so that a huge object does not flood the message.
std::string show(const json& value) {
    std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
    constexpr std::size_t limit = 80;
    if (text.size() > limit) text = text.substr(0, limit) + "...";
    return text;
}

error bad_value(const std::string& key, const json& value, std::string_view expected) {
    return config_error("invalid value for \"" + key + "\": " + show(value) + " (expected " +
                        std::string(expected) + ")");
}

template <std::size_t N>
std::string one_of(const std::array<std::string_view, N>& names) {
    std::string text = "one of";
    for (std::size_t i = 0; i < N; ++i) text += (i == 0 ? " " : "|") + std::string(names[i]);
    return text;
}

bool is_loopback_host(const std::string& host) {
    std::string lower = host;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == "localhost") return true;
    boost::system::error_code ec;
    const ip::address address = ip::make_address(host, ec);
    if (ec) return false;
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
        return ip::make_address_v4(ip::v4_mapped, address.to_v6()).is_loopback();
    }
    return address.is_loopback();
}

// A bearer token as clients send it: visible ASCII, no space. A blank token (or one with
// a stray space or newline from a copy) would never match what a client sends.
bool is_token(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}


// A reader checks one JSON value found at `key` and stores it; nullopt on success.
using failure = std::optional<error>;
using reader = std::function<failure(const json& value, const std::string& key)>;

struct field {
    std::string_view name;
    reader read;
};

failure read_object(const json& object, const std::string& path, const std::vector<field>& fields) {
    if (!object.is_object()) return bad_value(path, object, "an object");
    for (const auto& item : object.items()) {
        // Not a structured binding: clang before 16 cannot capture one in the lambda below.
        const std::string& name = item.key();
        const json& value = item.value();
        const std::string key = path.empty() ? name : path + "." + name;
        const auto it = std::find_if(fields.begin(), fields.end(),
                                     [&](const field& f) { return f.name == name; });
        if (it == fields.end()) return config_error("unknown config key \"" + key + "\"");
        if (auto f = it->read(value, key)) return f;
    }
    return std::nullopt;
}

reader object_reader(std::vector<field> fields) {
    return [fields = std::move(fields)](const json& value, const std::string& key) {
        return read_object(value, key, fields);
    };
}

// Reads a duration string into `out`. allow_zero: "0s" is accepted (schedules and
// retentions); otherwise the value must be greater than zero.
failure read_duration(const json& value, const std::string& key, bool allow_zero, duration& out) {
    const auto d =
        value.is_string() ? parse_duration(value.get_ref<const std::string&>()) : std::nullopt;
    if (!d) return bad_value(key, value, duration_example);
    if (*d > max_duration) {
        return bad_value(key, value,
                         "a duration of at most \"" + format_duration(max_duration) + "\"");
    }
    if (!allow_zero && d->count() == 0) {
        return bad_value(key, value, R"(a duration greater than zero, like "50ms", "30s")");
    }
    out = *d;
    return std::nullopt;
}

reader duration_reader(duration& out, bool allow_zero) {
    return [&out, allow_zero](const json& value, const std::string& key) {
        return read_duration(value, key, allow_zero, out);
    };
}

// Bytes as a JSON integer or a string like "1MiB"; must be > 0.
reader size_reader(std::size_t& out) {
    return [&out](const json& value, const std::string& key) -> failure {
        std::optional<std::uint64_t> bytes;
        if (value.is_number_unsigned()) bytes = value.get<std::uint64_t>();
        if (value.is_string()) bytes = parse_size(value.get_ref<const std::string&>());
        if (!bytes || *bytes == 0 || *bytes > std::numeric_limits<std::size_t>::max()) {
            return bad_value(
                key, value,
                R"(a size greater than zero: bytes or a string like "64KiB", "1MiB", "10MB")");
        }
        out = static_cast<std::size_t>(*bytes);
        return std::nullopt;
    };
}

// An integer from 0 (off) up.
reader count_or_zero_reader(std::size_t& out) {
    return [&out](const json& value, const std::string& key) -> failure {
        if (!value.is_number_unsigned()) return bad_value(key, value, "an integer >= 0 (0: never)");
        out = static_cast<std::size_t>(value.get<std::uint64_t>());
        return std::nullopt;
    };
}

reader count_reader(std::size_t& out, std::size_t max = std::numeric_limits<std::size_t>::max()) {
    return [&out, max](const json& value, const std::string& key) -> failure {
        if (!value.is_number_unsigned() || value.get<std::uint64_t>() < 1 ||
            value.get<std::uint64_t>() > max) {
            return bad_value(key, value,
                             max == std::numeric_limits<std::size_t>::max()
                                 ? std::string("an integer >= 1")
                                 : "an integer from 1 to " + std::to_string(max));
        }
        out = static_cast<std::size_t>(value.get<std::uint64_t>());
        return std::nullopt;
    };
}

// The index of `name` in names, or nullopt.
template <std::size_t N>
std::optional<std::size_t> index_of(const std::array<std::string_view, N>& names, std::string_view name) {
    auto it = std::find(names.begin(), names.end(), name);
    if (it == names.end()) return std::nullopt;
    return static_cast<std::size_t>(it - names.begin());
}

// One of `choices`, stored as the enumerator of the same index.
template <class E, std::size_t N>
reader choice_reader(E& out, const std::array<std::string_view, N>& choices) {
    return [&out, &choices](const json& value, const std::string& key) -> failure {
        auto index = value.is_string() ? index_of(choices, value.get_ref<const std::string&>()) : std::nullopt;
        if (!index) return bad_value(key, value, one_of(choices));
        out = static_cast<E>(*index);
        return std::nullopt;
    };
}

reader path_reader(std::string& out) {
    return [&out](const json& value, const std::string& key) -> failure {
        if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
            return bad_value(key, value, "a non-empty file path");
        }
        out = value.get<std::string>();
        return std::nullopt;
    };
}

reader bool_reader(bool& out) {
    return [&out](const json& value, const std::string& key) -> failure {
        if (!value.is_boolean()) return bad_value(key, value, "true or false");
        out = value.get<bool>();
        return std::nullopt;
    };
}

// A file path, or "" for none.
reader optional_path_reader(std::string& out) {
    return [&out](const json& value, const std::string& key) -> failure {
        if (!value.is_string()) return bad_value(key, value, "a file path or \"\"");
        out = value.get<std::string>();
        return std::nullopt;
    };
}

// A libpq connection string, or "" for none (validate() requires one for postgres).
reader connection_string_reader(std::string& out) {
    return [&out](const json& value, const std::string& key) -> failure {
        if (!value.is_string()) return bad_value(key, value, R"(a libpq connection string ("postgresql://user@host/db") or "")");
        out = value.get<std::string>();
        return std::nullopt;
    };
}

reader listen_reader(std::string& out) {
    return [&out](const json& value, const std::string& key) -> failure {
        if (!value.is_string() || !parse_host_port(value.get_ref<const std::string&>())) {
            return bad_value(
                key, value,
                R"(host:port with a port from 0 to 65535, like "127.0.0.1:8080" or "[::1]:8080")");
        }
        out = value.get<std::string>();
        return std::nullopt;
    };
}

// An array whose every element satisfies `valid`; errors name the element ("key[2]").
reader string_list_reader(std::vector<std::string>& out, bool (*valid)(std::string_view),
                          std::string_view expected) {
    return [&out, valid, expected](const json& value, const std::string& key) -> failure {
        if (!value.is_array()) return bad_value(key, value, "an array");
        std::vector<std::string> items;
        for (std::size_t i = 0; i < value.size(); ++i) {
            const json& item = value[i];
            if (!item.is_string() || !valid(item.get_ref<const std::string&>())) {
                return bad_value(key + "[" + std::to_string(i) + "]", item, expected);
            }
            items.push_back(item.get<std::string>());
        }
        out = std::move(items);
        return std::nullopt;
    };
}

// An array of CIDRs, parsed here once; errors name the element ("key[2]").
reader cidr_list_reader(std::vector<cidr>& out) {
    return [&out](const json& value, const std::string& key) -> failure {
        if (!value.is_array()) return bad_value(key, value, "an array");
        std::vector<cidr> items;
        for (std::size_t i = 0; i < value.size(); ++i) {
            const json& item = value[i];
            auto parsed = item.is_string() ? parse_cidr(item.get_ref<const std::string&>()) : std::nullopt;
            if (!parsed) return bad_value(key + "[" + std::to_string(i) + "]", item, R"(an IPv4 or IPv6 CIDR like "10.0.0.0/8")");
            items.push_back(*parsed);
        }
        out = std::move(items);
        return std::nullopt;
    };
}

reader schedule_reader(std::vector<duration>& out) {
    return [&out](const json& value, const std::string& key) -> failure {
        if (!value.is_array() || value.empty() || value.size() > max_schedule_entries) {
            return bad_value(
                key, value,
                "an array of 1 to " + std::to_string(max_schedule_entries) + " durations");
        }
        std::vector<duration> schedule(value.size());
        for (std::size_t i = 0; i < value.size(); ++i) {
            const std::string item_key = key + "[" + std::to_string(i) + "]";
            if (auto f = read_duration(value[i], item_key, true, schedule[i])) return f;
        }
        out = std::move(schedule);
        return std::nullopt;
    };
}

reader fraction_reader(double& out) {
    return [&out](const json& value, const std::string& key) -> failure {
        if (!value.is_number() || value.get<double>() < 0.0 || value.get<double>() > 1.0) {
            return bad_value(key, value, "a number from 0 to 1");
        }
        out = value.get<double>();
        return std::nullopt;
    };
}

// A CSP frame-ancestors source list: 'none' alone, or 'self' and origins (scheme://host
// with an optional port, "*." host prefix, or a bare scheme like https:), so that nothing
// else can be spliced into the Content-Security-Policy header.
bool is_frame_ancestors(std::string_view v) {
    if (v == "'none'") return true;
    std::size_t sources = 0;
    for (std::size_t at = 0; at < v.size();) {
        auto end = std::min(v.find(' ', at), v.size());
        auto s = v.substr(at, end - at);
        at = end + 1;
        if (s.empty()) continue;
        ++sources;
        if (s == "'self'") continue;
        bool ok = std::all_of(s.begin(), s.end(), [](unsigned char ch) {
            return std::isalnum(ch) || ch == '.' || ch == '-' || ch == ':' || ch == '/' || ch == '*' || ch == '_';
        });
        if (!ok || s.front() == ':' || s.front() == '/') return false;
    }
    return sources > 0;
}

reader frame_ancestors_reader(std::string& out) {
    return [&out](const json& value, const std::string& key) -> failure {
        if (!value.is_string() || !is_frame_ancestors(value.get_ref<const std::string&>())) {
            return bad_value(key, value, R"('none', or 'self' and origins like "https://app.example.com", space-separated)");
        }
        out = value.get<std::string>();
        return std::nullopt;
    };
}

std::vector<field> listener_fields(listener_config& l) {
    return {
        {"listen", listen_reader(l.listen)},
        {"tokens", string_list_reader(l.tokens, is_token, "a token of visible ASCII characters without spaces")},
        {"max_body", size_reader(l.max_body)},
        {"max_header", size_reader(l.max_header)},
        {"max_connections", count_reader(l.max_connections)},
        {"request_timeout", duration_reader(l.request_timeout, false)},
        {"idle_timeout", duration_reader(l.idle_timeout, false)},
    };
}

std::vector<field> config_fields(config& c) {
    std::vector<field> ingest = listener_fields(c.ingest);
    ingest.push_back({"max_batch_events", count_reader(c.ingest.max_batch_events)});
    ingest.push_back({"queue_limit", count_reader(c.ingest.queue_limit)});
    std::vector<field> admin = listener_fields(c.admin);
    admin.push_back({"console", object_reader({
                                    {"enabled", bool_reader(c.admin.console.enabled)},
                                    {"frame_ancestors", frame_ancestors_reader(c.admin.console.frame_ancestors)},
                                })});

    return {
        {"ingest", object_reader(std::move(ingest))},
        {"admin", object_reader(std::move(admin))},
        {"storage",
         object_reader({
             {"backend", choice_reader(c.storage.backend, storage_backend_names)},
             {"path", path_reader(c.storage.path)},
             {"url", connection_string_reader(c.storage.url)},
             {"synchronous", choice_reader(c.storage.synchronous, sync_mode_names)},
             {"busy_timeout", duration_reader(c.storage.busy_timeout, false)},
             {"delivered_retention", duration_reader(c.storage.delivered_retention, true)},
             {"secret_key_file", optional_path_reader(c.storage.secret_key_file)},
         })},
        {"delivery",
         object_reader({
             {"timeout", duration_reader(c.delivery.timeout, false)},
             {"max_in_flight", count_reader(c.delivery.max_in_flight)},
             {"max_in_flight_per_endpoint", count_reader(c.delivery.max_in_flight_per_endpoint)},
             {"allowed_cidrs", cidr_list_reader(c.delivery.allowed_cidrs)},
             {"ca_file", optional_path_reader(c.delivery.ca_file)},
             {"dangerous_skip_tls_verify", bool_reader(c.delivery.dangerous_skip_tls_verify)},
         })},
        {"retry", object_reader({
                      {"schedule", schedule_reader(c.retry.schedule)},
                      {"jitter", fraction_reader(c.retry.jitter)},
                  })},
        {"dead_letter",
         object_reader({
             {"retention", duration_reader(c.dead_letter.retention, true)},
             {"purge_interval", duration_reader(c.dead_letter.purge_interval, false)},
         })},
        {"endpoints",
         object_reader({
             {"disable_after", duration_reader(c.endpoints.disable_after, true)},
             {"failing_after", count_or_zero_reader(c.endpoints.failing_after)},
         })},
        {"log", object_reader({
                    {"level", choice_reader(c.log.level, log_level_names)},
                    {"format", choice_reader(c.log.format, log_format_names)},
                    {"file", optional_path_reader(c.log.file)},
                })},
        {"io_threads", count_reader(c.io_threads, max_io_threads)},
        {"shutdown_timeout", duration_reader(c.shutdown_timeout, false)},
        {"drain_delay", duration_reader(c.drain_delay, true)},
    };
}

status validate_listener(const listener_config& l, std::string_view name, std::string_view env) {
    const auto address = parse_host_port(l.listen);
    if (!address) {
        return config_error(std::string(name) + ".listen is \"" + l.listen +
                            "\", which is not host:port with a port from 0 to 65535");
    }
    // Tokens from the file were checked as they were read; these may come from the environment.
    for (std::size_t i = 0; i < l.tokens.size(); ++i) {
        if (!is_token(l.tokens[i])) {
            return config_error(std::string(name) + " token " + std::to_string(i + 1) + " (from " + std::string(name) +
                                ".tokens or " + std::string(env) +
                                ") is blank or holds a space or control character");
        }
    }
    if (!is_loopback_host(address->host) && l.tokens.empty()) {
        return config_error(std::string(name) + ".listen is " + l.listen +
                            " (not loopback) but no token is configured: set " + std::string(name) +
                            ".tokens or " + std::string(env));
    }
    return ok_v;
}

nlohmann::ordered_json listener_json(const listener_config& l) {
    nlohmann::ordered_json j;
    j["listen"] = l.listen;
    j["tokens"] = std::vector<std::string>(l.tokens.size(), "***");
    j["max_body"] = l.max_body;
    j["max_header"] = l.max_header;
    j["max_connections"] = l.max_connections;
    j["request_timeout"] = format_duration(l.request_timeout);
    j["idle_timeout"] = format_duration(l.idle_timeout);
    return j;
}

}  // namespace

config::config() {
    ingest.listen = "127.0.0.1:8080";
    admin.listen = "127.0.0.1:8081";
    retry.schedule = {std::chrono::seconds(0),  std::chrono::minutes(1), std::chrono::minutes(5),
                      std::chrono::minutes(15), std::chrono::hours(1),   std::chrono::hours(6),
                      std::chrono::hours(24)};
}

result<config> parse_config(std::string_view text) {
    auto stripped = strip_json_comments(text);
    if (!stripped) return stripped.err();

    json document;
    try {
        document = json::parse(stripped.value());
    } catch (const json::exception& e) {
        // A parse_error, or an out_of_range for a number no double holds (1e999). e.what() is
        // "[json.exception.parse_error.101] parse error at line 3, column 5: ...".
        std::string message = e.what();
        const std::size_t prefix_end = message.find("] ");
        if (message.starts_with("[json.exception.") && prefix_end != std::string::npos) {
            message.erase(0, prefix_end + 2);
        }
        return config_error("invalid JSON: " + message);
    }
    if (!document.is_object()) {
        return config_error("the config must be a JSON object, not " + show(document));
    }

    config cfg;
    if (auto f = read_object(document, "", config_fields(cfg))) return *f;
    return cfg;
}

result<config> load_config(const std::filesystem::path& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        return config_error("cannot read config file \"" + path.string() + "\": is a directory");
    }
    std::ifstream file(path, std::ios::binary);
    if (!file) {
        return config_error("cannot read config file \"" + path.string() +
                            "\": " + std::strerror(errno));
    }
    std::ostringstream text;
    text << file.rdbuf();
    if (file.bad()) return config_error("cannot read config file \"" + path.string() + "\"");
    auto parsed = parse_config(text.str());
    if (!parsed) return config_error(path.string() + ": " + parsed.err().message);
    return parsed;
}

void apply_environment(config& cfg, const std::function<const char*(const char*)>& getenv) {
    const auto add_token = [&](std::vector<std::string>& tokens, const char* name) {
        const char* token = getenv(name);
        if (token != nullptr && *token != '\0' &&
            std::find(tokens.begin(), tokens.end(), token) == tokens.end()) {
            tokens.emplace_back(token);
        }
    };
    add_token(cfg.ingest.tokens, "WEBHOOKD_INGEST_TOKEN");
    add_token(cfg.admin.tokens, "WEBHOOKD_ADMIN_TOKEN");
    // Kept out of the config file, as the tokens are: it may hold a password.
    if (const char* url = getenv("WEBHOOKD_STORAGE_URL"); url != nullptr && *url != '\0') cfg.storage.url = url;

    // spdlog's own spellings "warning" and "err" are accepted too; anything else
    // (including spdlog's per-logger "name=level" lists) is ignored.
    if (const char* level = getenv("SPDLOG_LEVEL"); level != nullptr) {
        std::string name = level;
        if (name == "warning") name = "warn";
        if (name == "err") name = "error";
        if (auto index = index_of(log_level_names, name)) cfg.log.level = static_cast<log_level>(*index);
    }
}

status validate(const config& cfg) {
    if (auto s = validate_listener(cfg.ingest, "ingest", "WEBHOOKD_INGEST_TOKEN"); !s) return s;
    if (auto s = validate_listener(cfg.admin, "admin", "WEBHOOKD_ADMIN_TOKEN"); !s) return s;
    if (cfg.ingest.listen == cfg.admin.listen && !cfg.ingest.listen.ends_with(":0")) {
        return config_error("ingest.listen and admin.listen are both " + cfg.ingest.listen);
    }
    if (cfg.retry.schedule.empty()) return config_error("retry.schedule is empty");
    if (cfg.storage.backend == storage_backend::postgres && cfg.storage.url.empty()) {
        return config_error("storage.backend is \"postgres\" and storage.url is empty: set it, or WEBHOOKD_STORAGE_URL, "
                            "to a libpq connection string (\"postgresql://webhookd@db.internal/webhookd\")");
    }
    return ok_v;
}

namespace {

std::vector<std::string> cidr_texts(const std::vector<cidr>& cidrs) {
    std::vector<std::string> out;
    for (const auto& c : cidrs) out.push_back(to_string(c));
    return out;
}

}  // namespace

std::string to_json(const config& cfg) {
    nlohmann::ordered_json j;
    j["ingest"] = listener_json(cfg.ingest);
    j["ingest"]["max_batch_events"] = cfg.ingest.max_batch_events;
    j["ingest"]["queue_limit"] = cfg.ingest.queue_limit;
    j["admin"] = listener_json(cfg.admin);
    j["admin"]["console"] = {{"enabled", cfg.admin.console.enabled},
                             {"frame_ancestors", cfg.admin.console.frame_ancestors}};
    j["storage"] = {
        {"backend", to_string(cfg.storage.backend)},
        {"path", cfg.storage.path},
        {"url", redact_url(cfg.storage.url)},  // never the password
        {"synchronous", to_string(cfg.storage.synchronous)},
        {"busy_timeout", format_duration(cfg.storage.busy_timeout)},
        {"delivered_retention", format_duration(cfg.storage.delivered_retention)},
        {"secret_key_file", cfg.storage.secret_key_file},  // the path only: the key is read at start-up
    };
    j["delivery"] = {
        {"timeout", format_duration(cfg.delivery.timeout)},
        {"max_in_flight", cfg.delivery.max_in_flight},
        {"max_in_flight_per_endpoint", cfg.delivery.max_in_flight_per_endpoint},
        {"allowed_cidrs", cidr_texts(cfg.delivery.allowed_cidrs)},
        {"ca_file", cfg.delivery.ca_file},
        {"dangerous_skip_tls_verify", cfg.delivery.dangerous_skip_tls_verify},
    };
    std::vector<std::string> schedule;
    for (const duration d : cfg.retry.schedule) schedule.push_back(format_duration(d));
    j["retry"] = {{"schedule", schedule}, {"jitter", cfg.retry.jitter}};
    j["dead_letter"] = {
        {"retention", format_duration(cfg.dead_letter.retention)},
        {"purge_interval", format_duration(cfg.dead_letter.purge_interval)},
    };
    j["endpoints"] = {
        {"disable_after", format_duration(cfg.endpoints.disable_after)},
        {"failing_after", cfg.endpoints.failing_after},
    };
    j["log"] = {{"level", to_string(cfg.log.level)}, {"format", to_string(cfg.log.format)}, {"file", cfg.log.file}};
    j["io_threads"] = cfg.io_threads;
    j["shutdown_timeout"] = format_duration(cfg.shutdown_timeout);
    j["drain_delay"] = format_duration(cfg.drain_delay);
    return j.dump(2);
}

}  // namespace webhookd
