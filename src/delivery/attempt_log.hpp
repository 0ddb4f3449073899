#pragma once
// The attempt log entry of one HTTP attempt: what the dispatcher records for a delivery and
// the admin API for a test send, built in one place so both logs read alike.

#include <cstdint>

#include "delivery/delivery_client.hpp"
#include "store/outbox_store.hpp"

namespace webhookd {

// The record of `r`, an attempt started at started_ms (Unix ms) to endpoint_id; delivery_id
// 0 for a test send. The decision fields (delivered, dead, next_attempt_ms) are left to the
// caller. Moves the error and snippet out of r.
inline attempt_record attempt_record_of(std::int64_t delivery_id, std::string endpoint_id, int attempt,
                                        std::int64_t started_ms, delivery_response& r) {
    attempt_record rec;
    rec.delivery_id = delivery_id;
    rec.endpoint_id = std::move(endpoint_id);
    rec.attempt = attempt;
    rec.started_ms = started_ms;
    rec.duration_us = r.elapsed.count();
    rec.outcome = r.outcome;
    rec.status_code = r.status_code;
    rec.error = std::move(r.error);
    rec.response_snippet = std::move(r.snippet);
    return rec;
}

}  // namespace webhookd
