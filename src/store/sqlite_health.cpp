// Endpoint health and operational events (docs/operations.md, "Endpoint health"): what an
// attempt's outcome does to its endpoint, in the transaction that records the attempt, so
// that a crash can neither lose an operational event nor invent one.

#include <algorithm>
#include <chrono>

#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "store/envelope.hpp"
#include "store/sqlite.hpp"
#include "store/sqlite_store_impl.hpp"
#include "util/endpoint_matcher.hpp"
#include "util/ids.hpp"
#include "util/time_format.hpp"

namespace webhookd::detail {

namespace {

using json = nlohmann::ordered_json;

json time_or_null(const std::optional<std::int64_t>& ms) {
    return ms ? json(format_rfc3339_ms(*ms)) : json(nullptr);
}

json status_or_null(int status_code) {
    return status_code ? json(status_code) : json(nullptr);
}

// The data of webhookd.delivery.dead: the endpoint (`about`), why, and the delivery.
json dead_data(json about, std::string_view reason, const dead_row& d) {
    about["reason"] = reason;
    about["delivery_id"] = "dlv_" + std::to_string(d.delivery_id);
    about["event_id"] = d.event_id;
    about["event"] = d.event_type;
    about["attempts"] = d.attempts;
    about["last_status"] = status_or_null(d.last_status);
    about["last_error"] = d.last_error.empty() ? json(nullptr) : json(d.last_error);
    return about;
}

// What an operational event says about an endpoint, read after the attempt's writes.
struct endpoint_health {
    std::optional<std::string> tenant;
    std::string url;
    bool enabled{};
    std::int64_t consecutive_failures{};
    std::optional<std::int64_t> failing_since_ms;
    bool failing_reported{};
};

}  // namespace

void sqlite_outbox_store::emit_operational(std::string_view type, const std::string& data_json, std::int64_t now_ms,
                                           attempt_effects& fx) {
    // Kept only for the platform endpoints that name it: nobody asked for the others.
    const auto* routes = routes_for(std::nullopt);
    bool wanted = std::any_of(routes->begin(), routes->end(),
                              [&](const route& r) { return any_pattern_matches(r.patterns, type); });
    if (!wanted) return;
    auto at = std::chrono::system_clock::time_point(std::chrono::milliseconds(now_ms));
    auto event = build_envelope(new_id("evt", at), std::string(type), format_rfc3339(at), data_json);
    auto stored = insert_event(event, now_ms, now_ms);
    if (!stored) throw sqlite::failure(SQLITE_ERROR, "storing " + std::string(type) + ": " + stored.err().message);
    for (auto& id : stored->endpoint_ids) fx.notified.push_back(std::move(id));
}

void sqlite_outbox_store::apply_health(const attempt_record& a, const health_policy& policy, std::int64_t now_ms,
                                       attempt_effects& fx) {
    // One read of the row; its texts only when something is to be reported (a success of a
    // healthy endpoint, nearly every attempt, stops at the numbers).
    endpoint_health h;
    {
        auto& q = db_->prepare(
            "SELECT enabled, consecutive_failures, failing_since, failing_reported, tenant_id, url FROM endpoints "
            "WHERE id = ?");
        q.bind(1, a.endpoint_id);
        if (!q.step()) {
            q.reset();
            return;  // deleted meanwhile
        }
        h.enabled = q.int64(0) != 0;
        h.consecutive_failures = q.int64(1);
        if (!q.is_null(2)) h.failing_since_ms = q.int64(2);
        h.failing_reported = q.int64(3) != 0;
        if (a.delivered && h.consecutive_failures == 0 && !h.failing_reported) {
            q.reset();
            return;
        }
        if (!q.is_null(4)) h.tenant = q.text(4);
        h.url = q.text(5);
        q.reset();
    }
    json about{{"endpoint_id", a.endpoint_id}, {"tenant", h.tenant ? json(*h.tenant) : json(nullptr)}, {"url", h.url}};

    if (a.delivered) {
        db_->prepare(
               "UPDATE endpoints SET consecutive_failures = 0, failing_since = NULL, failing_reported = 0 "
               "WHERE id = ?")
            .bind(1, a.endpoint_id)
            .run();
        if (h.failing_reported) {
            json data = about;
            data["failing_since"] = time_or_null(h.failing_since_ms);
            data["consecutive_failures"] = h.consecutive_failures;
            emit_operational("webhookd.endpoint.recovered", data.dump(), now_ms, fx);
        }
        return;
    }

    db_->prepare(
           "UPDATE endpoints SET consecutive_failures = consecutive_failures + 1, "
           "failing_since = coalesce(failing_since, ?2) WHERE id = ?1")
        .bind(1, a.endpoint_id)
        .bind(2, a.started_ms)
        .run();
    ++h.consecutive_failures;
    if (!h.failing_since_ms) h.failing_since_ms = a.started_ms;
    json failure = about;
    failure["consecutive_failures"] = h.consecutive_failures;
    failure["failing_since"] = time_or_null(h.failing_since_ms);
    failure["last_status"] = status_or_null(a.status_code);
    failure["last_error"] = a.error.empty() ? json(nullptr) : json(a.error);

    if (policy.failing_after > 0 && h.consecutive_failures >= policy.failing_after && !h.failing_reported) {
        db_->prepare("UPDATE endpoints SET failing_reported = 1 WHERE id = ?").bind(1, a.endpoint_id).run();
        emit_operational("webhookd.endpoint.failing", failure.dump(), now_ms, fx);
    }
    if (!h.enabled) return;
    std::string reason, why;
    if (a.status_code == 410) {
        reason = "gone";
        why = "the endpoint answered 410 Gone";
    } else if (policy.disable_after_ms > 0 && a.started_ms - *h.failing_since_ms >= policy.disable_after_ms) {
        reason = "failing";
        why = "the endpoint has failed every attempt since " + format_rfc3339_ms(*h.failing_since_ms);
    } else {
        return;
    }
    auto dead = disable_failed_endpoint(a.endpoint_id, h.tenant, reason, why, now_ms, fx);
    failure["reason"] = reason;
    // The event says what happened first, then which deliveries it killed.
    emit_operational("webhookd.endpoint.disabled", failure.dump(), now_ms, fx);
    for (const auto& d : dead) {
        if (is_operational_type(d.event_type)) continue;  // never about an operational event's delivery
        emit_operational("webhookd.delivery.dead", dead_data(about, "endpoint_disabled", d).dump(), now_ms, fx);
    }
}

std::vector<dead_row> sqlite_outbox_store::disable_failed_endpoint(const std::string& id,
                                                                   const std::optional<std::string>& tenant,
                                                                   const std::string& reason, const std::string& why,
                                                                   std::int64_t now_ms, attempt_effects& fx) {
    db_->prepare(
           "UPDATE endpoints SET enabled = 0, disabled_reason = ?2, disabled_at = ?3, updated_at = ?3 "
           "WHERE id = ?1")
        .bind(1, id)
        .bind(2, reason)
        .bind(3, now_ms)
        .run();
    forget_routes(tenant);
    fx.disabled = id;
    fx.disabled_reason = reason;
    // Its pending deliveries, leased ones included: nothing keeps hammering the receiver,
    // and a bulk retry replays them once it is enabled again.
    auto& select = db_->prepare(
        "SELECT d.id, e.id, e.type, d.attempts, d.last_status, d.last_error FROM deliveries d "
        "JOIN events e ON e.seq = d.event_seq WHERE d.endpoint_id = ? AND d.state = 'pending' ORDER BY d.id");
    select.bind(1, id);
    std::vector<dead_row> dead;
    while (select.step()) {
        dead.push_back({select.int64(0), select.text(1), select.text(2), select.int64(3),
                        select.is_null(4) ? 0 : static_cast<int>(select.int64(4)),
                        select.is_null(5) ? std::string() : select.text(5)});
    }
    select.reset();
    db_->prepare(
           "INSERT INTO dead_letters (id, event_seq, endpoint_id, attempts, created_at, died_at, last_status, "
           "last_error, last_response) SELECT id, event_seq, endpoint_id, attempts, created_at, ?2, last_status, "
           "?3 || coalesce(' (last attempt: ' || last_error || ')', ''), '' "
           "FROM deliveries WHERE endpoint_id = ?1 AND state = 'pending'")
        .bind(1, id)
        .bind(2, now_ms)
        .bind(3, "endpoint_disabled: " + why)
        .run();
    db_->prepare("DELETE FROM deliveries WHERE endpoint_id = ? AND state = 'pending'").bind(1, id).run();
    fx.also_dead += static_cast<std::int64_t>(dead.size());
    return dead;
}

void sqlite_outbox_store::emit_exhausted(const attempt_record& a, std::int64_t now_ms, attempt_effects& fx) {
    if (is_operational_type(a.event_type)) return;
    auto& q = db_->prepare("SELECT tenant_id, url FROM endpoints WHERE id = ?");
    q.bind(1, a.endpoint_id);
    json data{{"endpoint_id", a.endpoint_id}, {"tenant", nullptr}, {"url", nullptr}};
    if (q.step()) {
        if (!q.is_null(0)) data["tenant"] = q.text(0);
        data["url"] = q.text(1);
    }
    q.reset();
    dead_row d{a.delivery_id, a.event_id, a.event_type, a.attempt, a.status_code, a.error};
    emit_operational("webhookd.delivery.dead", dead_data(std::move(data), "exhausted", d).dump(), now_ms, fx);
}

}  // namespace webhookd::detail
