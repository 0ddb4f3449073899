// The backend-neutral half of the outbox (outbox_store_base.hpp): secrets, routes, and
// endpoint health, in the transaction that records the attempt, so that a crash can
// neither lose an operational event nor invent one.

#include "store/outbox_store_base.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>

#include <nlohmann/json.hpp>

#include "store/envelope.hpp"
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

json about_endpoint(std::string_view id, const std::optional<std::string>& tenant, const json& url) {
    return json{{"endpoint_id", id}, {"tenant", tenant ? json(*tenant) : json(nullptr)}, {"url", url}};
}

void append_count_line(std::string& out, std::string_view id, const count_change& c) {
    char numbers[48];
    auto* end = std::to_chars(numbers, numbers + 20, c.pending).ptr;
    *end++ = ' ';
    end = std::to_chars(end, numbers + sizeof numbers, c.dead).ptr;
    *end++ = '\n';
    ((out += id) += ' ').append(numbers, end);
}

}  // namespace

std::vector<std::string> parse_patterns(std::string_view patterns_json) {
    std::vector<std::string> out;
    auto patterns = nlohmann::json::parse(patterns_json, nullptr, false);
    if (!patterns.is_array()) return out;
    for (const auto& p : patterns) {
        if (p.is_string()) out.push_back(p.get<std::string>());
    }
    return out;
}

result<bool> needs_sealing(const secret_box* box, const std::string& endpoint_id, std::string_view stored) {
    if (!secret_box::is_sealed(stored)) return box != nullptr;
    if (!box) {
        return error{error_code::secret_key_missing,
                     "the database holds encrypted endpoint secrets (endpoint " + endpoint_id +
                         "): set storage.secret_key_file to the key they were encrypted with"};
    }
    if (auto opened = box->open(stored, endpoint_id); !opened) {
        return error{error_code::secret_key_mismatch,
                     "the secret of endpoint " + endpoint_id + " does not decrypt with the key of storage.secret_key_file (" +
                         opened.err().message + "): start with the key the secrets were encrypted with"};
    }
    return false;
}

result<std::string> outbox_store_base::stored_secret(std::string_view endpoint_id, const std::string& secret) const {
    if (!secrets_) return secret;
    return secrets_->seal(secret, endpoint_id);
}

result<std::string> outbox_store_base::clear_secret(std::string_view endpoint_id, std::string_view stored) const {
    if (!secret_box::is_sealed(stored)) return std::string(stored);
    if (!secrets_) {
        return error{error_code::secret_key_missing, "a secret of endpoint " + std::string(endpoint_id) +
                                                         " is encrypted, and storage.secret_key_file is not set"};
    }
    auto clear = secrets_->open(stored, endpoint_id);
    if (!clear) {
        return error{error_code::secret_key_mismatch, "a secret of endpoint " + std::string(endpoint_id) +
                                                          " does not decrypt with the key of storage.secret_key_file: " +
                                                          clear.err().message};
    }
    return clear;
}

const tenant_routes* outbox_store_base::routes_for(const std::optional<std::string>& tenant) {
    if (!routes_scanned_) {
        // One scan instead of one read per tenant: with 10,000 tenants, those reads were
        // 2% of the writer's time for the first seconds after a start.
        routes_scanned_ = true;
        scanned_at_ = routes_read_.size();
        ++route_reads_;
        tenant_routes* current = nullptr;
        std::string_view current_tenant;
        scan_routes(max_cached_tenants, [&](const route_row& r) {
            if (!current || r.tenant != current_tenant) {
                auto it = routes_.try_emplace(std::string(r.tenant)).first;
                current = &it->second;
                current->tenant_seq = r.tenant_seq;
                current_tenant = it->first;
            }
            if (r.endpoint) {
                current->endpoints.push_back(make_route(std::string(*r.endpoint), r.seq, r.patterns_json, r.fifo));
            }
        });
    }
    std::string_view key = tenant ? std::string_view(*tenant) : std::string_view();
    if (auto it = routes_.find(key); it != routes_.end()) return &it->second;
    ++route_reads_;
    auto fresh = load_routes(tenant);
    if (!fresh) return nullptr;
    if (routes_.size() >= max_cached_tenants) forget_all_routes();
    routes_read_.emplace_back(key);
    return &routes_.emplace(std::string(key), std::move(*fresh)).first->second;
}

void outbox_store_base::forget_all_routes() {
    routes_.clear();
    pattern_sets_.clear();
}

void outbox_store_base::begin_try() {
    routes_read_.clear();
    scanned_at_.reset();
    drop_group_counts();
}

void outbox_store_base::undo_unit(unit_mark mark) {
    group_changes_used_ = std::min(group_changes_used_, mark.count_changes);
    forget_routes_since(mark.routes_read);
}

void outbox_store_base::undo_try() {
    forget_routes_since(0);
    drop_group_counts();
}

void outbox_store_base::forget_routes_since(std::size_t mark) {
    if (scanned_at_ && *scanned_at_ >= mark) {
        forget_all_routes();
        routes_scanned_ = false;  // the next event scans them all again
        scanned_at_.reset();
        routes_read_.clear();
        return;
    }
    for (std::size_t i = mark; i < routes_read_.size(); ++i) routes_.erase(routes_read_[i]);
    routes_read_.resize(std::min(mark, routes_read_.size()));
}

route outbox_store_base::make_route(std::string id, std::int64_t seq, std::string_view patterns_json, bool fifo) {
    auto it = pattern_sets_.find(patterns_json);
    if (it == pattern_sets_.end()) {
        if (pattern_sets_.size() >= max_cached_tenants) pattern_sets_.clear();  // routes keep theirs
        auto parsed = std::make_shared<const std::vector<std::string>>(parse_patterns(patterns_json));
        it = pattern_sets_.emplace(std::string(patterns_json), std::move(parsed)).first;
    }
    return {std::move(id), seq, it->second, fifo};
}

void outbox_store_base::emit_operational(std::string_view type, const std::string& data_json, std::int64_t now_ms,
                                         attempt_effects& fx) {
    // Kept only for the platform endpoints that name it: nobody asked for the others.
    const auto* routes = routes_for(std::nullopt);
    bool wanted = std::any_of(routes->endpoints.begin(), routes->endpoints.end(),
                              [&](const route& r) { return r.wants(type); });
    if (!wanted) return;
    auto at = std::chrono::system_clock::time_point(std::chrono::milliseconds(now_ms));
    auto event = build_envelope(new_id("evt", at), std::string(type), format_rfc3339(at), data_json);
    auto stored = insert_event(event, now_ms, now_ms);
    if (!stored) fail("storing " + std::string(type) + ": " + stored.err().message);
    for (auto& id : stored->endpoint_ids) fx.notified.push_back(std::move(id));
}

result<std::vector<attempt_effects>> outbox_store_base::record_attempts(std::span<const attempt_record* const> batch,
                                                                       const health_policy& health,
                                                                       std::int64_t now_ms) {
    std::vector<attempt_effects> out;
    out.reserve(batch.size());
    for (const auto* a : batch) {
        auto fx = record_attempt(*a, health, now_ms);
        if (!fx) return fx.err();
        out.push_back(std::move(*fx));
    }
    return out;
}

void outbox_store_base::apply_health(const attempt_record& a, const health_policy& policy, std::int64_t now_ms,
                                     attempt_effects& fx, std::optional<endpoint_health> h) {
    if (!h) return;  // deleted meanwhile
    if (a.delivered) {
        // Nearly every attempt: a success of a healthy endpoint changes nothing.
        if (h->consecutive_failures == 0 && !h->failing_reported) return;
        end_streak(a.endpoint_id);
        if (h->failing_reported) {
            json data = about_endpoint(a.endpoint_id, h->tenant, h->url);
            data["failing_since"] = time_or_null(h->failing_since_ms);
            data["consecutive_failures"] = h->consecutive_failures;
            emit_operational("webhookd.endpoint.recovered", data.dump(), now_ms, fx);
        }
        return;
    }

    extend_streak(a.endpoint_id, a.started_ms);
    ++h->consecutive_failures;
    if (!h->failing_since_ms) h->failing_since_ms = a.started_ms;
    json about = about_endpoint(a.endpoint_id, h->tenant, h->url);
    json failure = about;
    failure["consecutive_failures"] = h->consecutive_failures;
    failure["failing_since"] = time_or_null(h->failing_since_ms);
    failure["last_status"] = status_or_null(a.status_code);
    failure["last_error"] = a.error.empty() ? json(nullptr) : json(a.error);

    if (policy.failing_after > 0 && h->consecutive_failures >= policy.failing_after && !h->failing_reported) {
        mark_failing_reported(a.endpoint_id);
        emit_operational("webhookd.endpoint.failing", failure.dump(), now_ms, fx);
    }
    if (!h->enabled) return;
    std::string reason, why;
    if (a.status_code == 410) {
        reason = "gone";
        why = "the endpoint answered 410 Gone";
    } else if (policy.disable_after_ms > 0 && a.started_ms - *h->failing_since_ms >= policy.disable_after_ms) {
        reason = "failing";
        why = "the endpoint has failed every attempt since " + format_rfc3339_ms(*h->failing_since_ms);
    } else {
        return;
    }
    auto dead = disable_and_kill_pending(a.endpoint_id, reason, why, now_ms);
    forget_routes(h->tenant);
    fx.disabled = a.endpoint_id;
    fx.disabled_reason = reason;
    fx.also_dead += static_cast<std::int64_t>(dead.size());
    failure["reason"] = reason;
    // The event says what happened first, then which deliveries it killed.
    emit_operational("webhookd.endpoint.disabled", failure.dump(), now_ms, fx);
    for (const auto& d : dead) {
        if (is_operational_type(d.event_type)) continue;  // never about an operational event's delivery
        emit_operational("webhookd.delivery.dead", dead_data(about, "endpoint_disabled", d).dump(), now_ms, fx);
    }
}

void outbox_store_base::emit_exhausted(const attempt_record& a, std::int64_t now_ms, attempt_effects& fx,
                                       const std::optional<endpoint_health>& h) {
    if (is_operational_type(a.event_type)) return;
    json data = h ? about_endpoint(a.endpoint_id, h->tenant, h->url) : about_endpoint(a.endpoint_id, std::nullopt, nullptr);
    dead_row d{a.delivery_id, a.event_id, a.event_type, a.attempt, a.status_code, a.error};
    emit_operational("webhookd.delivery.dead", dead_data(std::move(data), "exhausted", d).dump(), now_ms, fx);
}

void outbox_store_base::count_rows(std::string_view endpoint_id, std::int64_t pending, std::int64_t dead) {
    if (pending == 0 && dead == 0) return;
    if (group_changes_used_ == group_changes_.size()) group_changes_.emplace_back();
    auto& e = group_changes_[group_changes_used_++];
    e.endpoint_id.assign(endpoint_id);
    e.change = {pending, dead};
}

void outbox_store_base::drop_group_counts() {
    group_changes_used_ = 0;
    // A group that changed many endpoints (a batch of thousands) does not keep its
    // entries' memory for good.
    if (group_changes_.size() > max_kept_count_entries) group_changes_.resize(max_kept_count_entries);
}

std::string outbox_store_base::take_group_counts() {
    group_sums_.clear();
    for (std::size_t i = 0; i < group_changes_used_; ++i) {
        auto& sum = group_sums_[group_changes_[i].endpoint_id];
        sum.pending += group_changes_[i].change.pending;
        sum.dead += group_changes_[i].change.dead;
    }
    std::string text;
    for (const auto& [id, c] : group_sums_) {
        if (c.pending != 0 || c.dead != 0) {
            append_count_line(text, id, c);
            ++lines_since_fold_;
        }
    }
    group_sums_.clear();
    drop_group_counts();
    return text;
}

bool outbox_store_base::fold_counts_due() {
    if (++groups_since_fold_ < count_fold_groups && lines_since_fold_ < count_fold_lines) return false;
    groups_since_fold_ = 0;
    lines_since_fold_ = 0;
    return true;
}

namespace {

bool read_count(std::string_view s, std::int64_t& out) {
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && end == s.data() + s.size();
}

// One line of counts text, without its line break: false when it is unreadable.
bool read_count_line(std::string_view line, std::string_view& id, count_change& c) {
    auto a = line.find(' ');
    auto b = a == std::string_view::npos ? a : line.find(' ', a + 1);
    if (b == std::string_view::npos) return false;
    id = line.substr(0, a);
    return read_count(line.substr(a + 1, b - a - 1), c.pending) && read_count(line.substr(b + 1), c.dead);
}

// Calls each(line) for each line of `text`, without its line break.
template <class Each>
void for_each_line(std::string_view text, Each each) {
    while (!text.empty()) {
        auto eol = text.find('\n');
        each(text.substr(0, eol));
        text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    }
}

}  // namespace

std::string folded_counts(std::string_view base, count_map changes) {
    std::string out;
    out.reserve(base.size() + changes.size() * 24);
    for_each_line(base, [&](std::string_view line) {
        auto space = line.find(' ');
        auto it = space == std::string_view::npos ? changes.end() : changes.find(line.substr(0, space));
        if (it == changes.end()) {
            if (!line.empty()) (out += line) += '\n';
            return;
        }
        auto c = it->second;
        std::string_view id;
        if (count_change was; read_count_line(line, id, was)) {
            c.pending += was.pending;
            c.dead += was.dead;
        }
        changes.erase(it);
        if (c.pending != 0 || c.dead != 0) append_count_line(out, line.substr(0, space), c);
    });
    for (const auto& [id, c] : changes) {
        if (c.pending != 0 || c.dead != 0) append_count_line(out, id, c);
    }
    return out;
}

void add_counts(count_map& into, std::string_view text) {
    if (into.empty()) into.reserve(text.size() / 16);
    for_each_line(text, [&](std::string_view line) {
        std::string_view id;
        count_change c;
        if (!read_count_line(line, id, c)) return;
        auto it = into.find(id);
        if (it == into.end()) it = into.emplace(std::string(id), count_change{}).first;
        it->second.pending += c.pending;
        it->second.dead += c.dead;
    });
}

std::string counts_text(const count_map& counts) {
    std::string out;
    for (const auto& [id, c] : counts) {
        if (c.pending != 0 || c.dead != 0) append_count_line(out, id, c);
    }
    return out;
}

outbox_counts gauges_of(const count_map& counts, std::vector<std::pair<std::string, std::int64_t>> endpoints) {
    outbox_counts c;
    for (const auto& [id, n] : counts) {
        c.pending += n.pending;
        c.dead_letters += n.dead;
    }
    c.endpoints.reserve(endpoints.size());
    for (auto& [id, failures] : endpoints) {
        auto n = counts.find(id);
        auto pending = n == counts.end() ? 0 : n->second.pending;
        c.endpoints.push_back({std::move(id), pending, failures});
    }
    return c;
}

}  // namespace webhookd::detail
