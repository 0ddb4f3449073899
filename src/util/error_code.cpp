#include "webhookd/result.hpp"

namespace webhookd {

std::string_view to_string(error_code c) noexcept {
    switch (c) {
        case error_code::bad_request:
            return "bad_request";
        case error_code::invalid_json:
            return "invalid_json";
        case error_code::invalid_field:
            return "invalid_field";
        case error_code::unauthorized:
            return "unauthorized";
        case error_code::forbidden:
            return "forbidden";
        case error_code::not_found:
            return "not_found";
        case error_code::tenant_not_found:
            return "tenant_not_found";
        case error_code::method_not_allowed:
            return "method_not_allowed";
        case error_code::conflict:
            return "conflict";
        case error_code::id_conflict:
            return "id_conflict";
        case error_code::payload_too_large:
            return "payload_too_large";
        case error_code::unsupported_media_type:
            return "unsupported_media_type";
        case error_code::headers_too_large:
            return "headers_too_large";
        case error_code::internal_error:
            return "internal_error";
        case error_code::overloaded:
            return "overloaded";
        case error_code::shutting_down:
            return "shutting_down";
        case error_code::not_ready:
            return "not_ready";
        case error_code::storage_unavailable:
            return "storage_unavailable";
        case error_code::storage_error:
            return "storage_error";
        case error_code::invalid_config:
            return "invalid_config";
        case error_code::invalid_url:
            return "invalid_url";
        case error_code::listen_failed:
            return "listen_failed";
        case error_code::log_file:
            return "log_file";
        case error_code::crypto_error:
            return "crypto_error";
        case error_code::secret_key_missing:
            return "secret_key_missing";
        case error_code::secret_key_mismatch:
            return "secret_key_mismatch";
        case error_code::secret_undecryptable:
            return "secret_undecryptable";
        case error_code::schema_too_new:
            return "schema_too_new";
        case error_code::migration_failed:
            return "migration_failed";
    }
    return "internal_error";
}

}  // namespace webhookd
