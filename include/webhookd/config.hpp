#pragma once
// The daemon's configuration: typed values with the defaults of docs/operations.md (Configuration),
// parsed from commented JSON. Parsing is pure (no environment, no files) so tests feed
// it strings; load_config() reads a file and apply_environment() adds the env overrides.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "webhookd/net.hpp"
#include "webhookd/result.hpp"

namespace webhookd {

using duration = std::chrono::milliseconds;

// The choices of the keys that name one of a few words, each with its config spelling.
enum class storage_backend { sqlite, postgres };                          // storage.backend
enum class sync_mode { off, normal, full, extra };                       // storage.synchronous
enum class log_level { trace, debug, info, warn, error, critical, off };  // log.level
enum class log_format { text, json };                                     // log.format

inline constexpr std::array<std::string_view, 2> storage_backend_names{"sqlite", "postgres"};
inline constexpr std::array<std::string_view, 4> sync_mode_names{"off", "normal", "full", "extra"};
inline constexpr std::array<std::string_view, 7> log_level_names{"trace", "debug",    "info", "warn",
                                                                 "error", "critical", "off"};
inline constexpr std::array<std::string_view, 2> log_format_names{"text", "json"};

constexpr std::string_view to_string(storage_backend b) { return storage_backend_names[static_cast<std::size_t>(b)]; }
constexpr std::string_view to_string(sync_mode m) { return sync_mode_names[static_cast<std::size_t>(m)]; }
constexpr std::string_view to_string(log_level l) { return log_level_names[static_cast<std::size_t>(l)]; }
constexpr std::string_view to_string(log_format f) { return log_format_names[static_cast<std::size_t>(f)]; }

// One HTTP listener (ingest or admin).
struct listener_config {
    std::string listen;                          // "host:port"; IPv6 as "[::1]:8080"
    std::vector<std::string> tokens;             // bearer tokens; empty = no auth (loopback only)
    std::size_t max_body = 1024 * 1024;          // 413 above this
    std::size_t max_header = 16 * 1024;          // 431 above this (request line + headers)
    std::size_t max_connections = 1024;          // accepted sockets beyond this are closed
    duration request_timeout = std::chrono::seconds(10);  // deadline to read one whole request
    duration idle_timeout = std::chrono::seconds(60);     // keep-alive wait for the next request
};

struct ingest_config : listener_config {
    std::size_t max_batch_events = 1000;         // POST /v1/events/batch item limit
    std::size_t queue_limit = 16384;             // events waiting for the writer; 503 above
};

// The web console (GET /console/...), served by the admin listener.
struct console_config {
    bool enabled = true;
    // The CSP frame-ancestors sources that may embed the console: 'none', 'self', or
    // origins like https://app.example.com (space-separated).
    std::string frame_ancestors = "'none'";
};

struct admin_config : listener_config {
    console_config console;
};

struct storage_config {
    storage_backend backend = storage_backend::sqlite;
    std::string path = "webhookd.db";            // sqlite
    std::string url;                             // postgres: a libpq connection string (may hold a password)
    sync_mode synchronous = sync_mode::full;
    duration busy_timeout = std::chrono::seconds(5);
    duration delivered_retention = std::chrono::hours(24 * 7);
    std::string secret_key_file;                 // key that encrypts endpoint secrets at rest; "" = stored in clear
};

struct delivery_config {
    duration timeout = std::chrono::seconds(30);
    std::size_t max_in_flight = 1024;
    std::size_t max_in_flight_per_endpoint = 64;
    std::vector<cidr> allowed_cidrs;             // parsed from "10.0.0.0/8", "fd00::/8", ...
    std::string ca_file;                         // extra PEM CA bundle; "" = system store only
    bool dangerous_skip_tls_verify = false;      // never in production: no certificate checks
};

struct retry_config {
    std::vector<duration> schedule;              // default 0s,1m,5m,15m,1h,6h,24h
    double jitter = 0.1;                         // fraction in [0, 1], only ever added
};

struct dead_letter_config {
    duration retention = std::chrono::hours(24 * 30);
    duration purge_interval = std::chrono::hours(1);
};

// Endpoint health: when a failing endpoint is reported and when it is disabled.
struct endpoints_config {
    duration disable_after = std::chrono::hours(24 * 5);  // failing this long: disabled; 0: never
    std::size_t failing_after = 5;  // consecutive failures that emit webhookd.endpoint.failing; 0: never
};

struct log_config {
    log_level level = log_level::info;
    log_format format = log_format::text;
    std::string file;                            // "" = stderr; else appended to, reopened on SIGHUP
};

struct config {
    ingest_config ingest;                        // listen defaults to 127.0.0.1:8080
    admin_config admin;                          // listen defaults to 127.0.0.1:8081
    storage_config storage;
    delivery_config delivery;
    retry_config retry;
    dead_letter_config dead_letter;
    endpoints_config endpoints;
    log_config log;
    std::size_t io_threads = 1;                  // threads running the network event loop
    duration shutdown_timeout = std::chrono::seconds(20);  // drain deadline on SIGTERM
    // On SIGTERM, how long /readyz answers 503 while both listeners still serve, before
    // they stop accepting: the time a load balancer needs to see the instance go.
    duration drain_delay = std::chrono::seconds(0);

    config();                                    // every default (config/webhookd.json lists them)
};

// Parses "50ms", "2s", "1m", "6h", "30d" (also "us", "w"; integer amounts only).
// Returns nullopt on anything else, including overflow and a missing unit.
std::optional<duration> parse_duration(std::string_view text);

// Parses "1024", "64KiB", "1MiB", "1GiB", "10KB", "1MB" (KB = 1000). nullopt when invalid.
std::optional<std::uint64_t> parse_size(std::string_view text);

// Formats a duration in the largest unit that divides it exactly ("1m", "1500ms", "30d").
std::string format_duration(duration d);

// Removes // line and /* block */ comments and trailing commas outside strings.
// Returns an error for an unterminated block comment.
result<std::string> strip_json_comments(std::string_view text);

// Parses commented JSON into a config. Every key is optional; an unknown key is an error
// that names its path ("storage.pathh"); a bad value names the key and the value.
// Semantic checks that need the environment (auth on non-loopback) live in validate().
result<config> parse_config(std::string_view text);

// Reads and parses a file. An unreadable file is an error naming the path.
result<config> load_config(const std::filesystem::path& path);

// Adds WEBHOOKD_INGEST_TOKEN / WEBHOOKD_ADMIN_TOKEN to the token lists and takes the log
// level from SPDLOG_LEVEL when set. `getenv` is injected for tests.
void apply_environment(config& cfg, const std::function<const char*(const char*)>& getenv);

// Start-up checks across keys: a listener bound to a non-loopback address must have
// tokens; listen addresses must parse. Returns the first violation.
status validate(const config& cfg);

// The effective config as JSON text (tokens masked), for --check-config.
std::string to_json(const config& cfg);

}  // namespace webhookd
