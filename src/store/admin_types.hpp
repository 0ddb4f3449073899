#pragma once
// What the admin API reads from and writes to the outbox (docs/api.md): endpoint
// settings, the delivery log and dead letters, and the keyset pages lists are cut into.
// Times are milliseconds since the Unix epoch; the API formats them.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace webhookd {

// An endpoint's settings as the operator gives them. Every field of a create; in a patch,
// only the fields that are set change.
struct endpoint_settings {
    std::optional<std::string> url;
    std::optional<std::string> description;
    std::optional<std::string> patterns_json;     // JSON array of event patterns
    std::optional<std::string> signature_format;  // hex | sha256 | stripe
    std::optional<std::string> signature_header;
    std::optional<std::string> headers_json;      // JSON object of custom request headers
    std::optional<std::string> body_mode;         // envelope | data
    std::optional<bool> enabled;
    std::optional<std::string> tenant;            // at creation only: the tenant it belongs to
    std::optional<std::optional<std::int64_t>> rate_limit;  // attempts per second; set to none: no limit
    std::optional<std::string> ordering;          // unordered | fifo
};

// A tenant's settings: every field of a create (defaults filled in); in a patch, only the
// fields that are set change.
struct tenant_settings {
    std::optional<std::string> name;
    std::optional<std::string> metadata_json;  // JSON object of strings
};

struct tenant_view {
    std::string id;
    std::int64_t seq{};
    std::string name;
    std::string metadata_json;
    std::int64_t created_ms{};
    std::int64_t updated_ms{};
};

// A tenant token as stored: its hash, never the token.
struct token_record {
    std::string id;          // tok_...
    std::string tenant_id;
    std::string token_hash;  // lowercase hex SHA-256 of the token
    std::string description;
    std::int64_t created_ms{};
    std::optional<std::int64_t> expires_ms;  // none: never
};

struct token_view {
    std::string id;
    std::int64_t seq{};
    std::string tenant_id;
    std::string description;
    std::int64_t created_ms{};
    std::optional<std::int64_t> expires_ms;
};

// What a path's {id} names, for the scope check of a tenant token: the resource and
// whose it is.
enum class resource_kind { endpoint, event, delivery, dead_letter };
struct resource_ref {
    resource_kind kind = resource_kind::endpoint;
    std::string id;         // endpoints and events
    std::int64_t number{};  // deliveries and dead letters
};
struct resource_owner {
    bool exists{};
    std::optional<std::string> tenant;  // none: the platform's
};

struct secret_view {
    std::string secret;                       // the caller masks it
    std::int64_t created_ms{};
    std::optional<std::int64_t> expires_ms;   // set for a previous secret in its grace period
};

struct endpoint_view {
    std::string id;
    std::int64_t seq{};
    std::string url;
    std::string description;
    std::string patterns_json;
    std::string signature_format;
    std::string signature_header;
    std::string headers_json;
    std::string body_mode;
    bool enabled = true;
    std::optional<std::int64_t> paused_ms;
    std::int64_t created_ms{};
    std::int64_t updated_ms{};
    std::int64_t consecutive_failures{};          // failed attempts since the last success
    std::optional<std::int64_t> failing_since_ms;  // first of those failures
    std::optional<std::string> disabled_reason;   // manual | failing | gone, while disabled
    std::optional<std::int64_t> disabled_ms;
    std::optional<std::int64_t> rate_limit;
    std::string ordering = "unordered";
    std::optional<std::string> tenant;            // none: a platform endpoint
    std::int64_t deliveries_pending{};            // its pending deliveries, counted at the read
    std::vector<secret_view> secrets;  // valid ones, newest (the current secret) first
};

struct attempt_view {
    std::int64_t id{};
    std::optional<std::int64_t> delivery_id;  // none for a test event
    std::string endpoint_id;
    int attempt{};
    std::int64_t started_ms{};
    std::int64_t duration_us{};
    std::string outcome;
    std::optional<int> status_code;
    std::string error;
    std::string response_snippet;
};

// A delivery, pending, delivered or dead (a dead letter keeps its delivery's id).
struct delivery_view {
    std::int64_t id{};
    std::string status;  // pending | delivered | dead
    std::string event_id;
    std::string event_type;
    std::string endpoint_id;
    std::optional<std::string> tenant;  // the event's
    int attempts{};
    std::int64_t created_ms{};
    std::optional<std::int64_t> next_attempt_ms;  // pending only
    std::optional<std::int64_t> last_attempt_ms;
    std::optional<int> last_status;
    std::string last_error;
    std::optional<std::int64_t> delivered_ms;
    std::optional<std::int64_t> died_ms;
    std::string last_response;                    // dead letters: the last response snippet
    std::vector<attempt_view> attempt_log;        // filled by the detail reads only
};

struct event_view {
    std::string id;
    std::string type;
    std::string timestamp;
    std::string body;          // the envelope
    std::size_t data_offset{};
    std::int64_t created_ms{};
    std::optional<std::string> tenant;
    std::vector<delivery_view> deliveries;  // get_event only
    std::int64_t seq{};                     // the page key of list_events
};

// A page request: newest first, strictly older than `after` when set. Keys are (time, id)
// pairs; lists ordered by id alone use the id twice.
struct page_key {
    std::int64_t primary{};
    std::int64_t id{};
};
struct page_request {
    std::size_t limit = 50;
    std::optional<page_key> after;
};

// Which tenant's rows a list holds: none (every row), or one tenant's.
struct endpoint_filter {
    std::optional<std::string> tenant;
};

struct event_filter {
    std::optional<std::string> tenant;
    std::optional<std::string> event_type;  // exact, "prefix.*" or "*"
    std::optional<std::int64_t> since_ms;   // stored at or after
    std::optional<std::int64_t> until_ms;   // stored before
};

struct delivery_filter {
    std::optional<std::string> tenant;
    std::optional<std::string> status;  // pending | delivered | dead
    std::optional<std::string> endpoint_id;
    std::optional<std::string> event_type;
    std::optional<std::string> event_id;   // the deliveries of one event
    std::optional<std::int64_t> since_ms;  // created at or after
    std::optional<std::int64_t> until_ms;  // created before
};

struct dead_letter_filter {
    std::optional<std::string> tenant;
    std::optional<std::string> endpoint_id;
    std::optional<std::string> event_type;
    std::optional<std::int64_t> since_ms;  // died at or after
    std::optional<std::int64_t> until_ms;  // died before
};

// What a bulk retry did (or, in a dry run, would do).
struct requeue_result {
    std::int64_t requeued{};
    std::int64_t skipped{};  // dead letters of deleted endpoints: nowhere to send them
};

}  // namespace webhookd
