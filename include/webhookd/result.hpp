#pragma once
// result<T>: the value of an operation that can fail with a client- or operator-visible
// error. Storage and config return it; exceptions stay at start-up and in main.

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace webhookd {

// The stable, machine-readable codes of every failure a client or an operator sees. The
// wire string of each (to_string) is its name; the HTTP status of each is the http layer's
// (http/types.hpp: status_of). A new code is added here, never spelled as a string.
enum class error_code {
    // Requests (clients see these in {"error": {"code": ...}}).
    bad_request,             // 400: malformed HTTP (framing, Host)
    invalid_json,            // 400: the body is no JSON we accept
    invalid_field,           // 400: valid JSON, invalid value (the message names the field)
    unauthorized,            // 401
    forbidden,               // 403
    not_found,               // 404
    tenant_not_found,        // 404: an event or endpoint names a tenant that does not exist
    method_not_allowed,      // 405
    conflict,                // 409: the resource's state forbids it
    id_conflict,             // 409: an event id taken by another tenant's event
    payload_too_large,       // 413
    unsupported_media_type,  // 415
    headers_too_large,       // 431
    internal_error,          // 500
    overloaded,              // 503: a queue is full; retry shortly
    shutting_down,           // 503: draining
    not_ready,               // 503: the database does not take writes
    storage_unavailable,     // 503: disk full, I/O error, locked: transient
    storage_error,           // 500: the store refused (a constraint, a damaged row): not transient
    // Start-up and operations (operators see these in the log and --check-config).
    invalid_config,
    invalid_url,
    listen_failed,
    log_file,
    crypto_error,
    secret_key_missing,
    secret_key_mismatch,
    secret_undecryptable,
    schema_too_new,
    migration_failed,
};

// The wire string: the enumerator's name ("invalid_field").
std::string_view to_string(error_code c) noexcept;

// A failure: a stable code and a human-readable message.
struct error {
    error_code code;
    std::string message;
};

template <class T>
class result {
public:
    result(T value) : v_(std::move(value)) {}           // NOLINT(google-explicit-constructor)
    result(error err) : v_(std::move(err)) {}           // NOLINT(google-explicit-constructor)

    bool ok() const noexcept { return v_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }

    // Precondition: ok().
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    // Precondition: !ok().
    const error& err() const { return std::get<1>(v_); }

private:
    std::variant<T, error> v_;
};

// result<void>: success carries nothing.
struct ok_t {};
inline constexpr ok_t ok_v{};
using status = result<ok_t>;

}  // namespace webhookd
