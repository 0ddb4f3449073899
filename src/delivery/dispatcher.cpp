#include "delivery/dispatcher.hpp"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <cmath>
#include <cctype>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "delivery/attempt_log.hpp"
#include "delivery/delivery_client.hpp"
#include "delivery/request_builder.hpp"
#include "delivery/signer.hpp"
#include "metrics/metrics.hpp"
#include "store/lambda_unit.hpp"
#include "store/writer.hpp"

namespace webhookd {

namespace asio = boost::asio;

namespace {

// After a write failed for want of storage (disk full, I/O error, locked): how long before
// the dispatcher tries that write again.
constexpr std::int64_t storage_retry_ms = 1000;

// An endpoint's tenant as log lines show it: "-" for a platform endpoint.
std::string_view tenant_label(const endpoint_record& rec) { return rec.tenant ? std::string_view(*rec.tenant) : "-"; }

// Removes the secrets (and their expiry times) at the indexes where drop(k) is true.
template <class Drop>
void erase_secrets_if(endpoint_record& rec, Drop drop) {
    for (std::size_t k = rec.secrets.size(); k-- > 0;) {
        if (!drop(k)) continue;
        rec.secrets.erase(rec.secrets.begin() + static_cast<std::ptrdiff_t>(k));
        rec.secret_expires_ms.erase(rec.secret_expires_ms.begin() + static_cast<std::ptrdiff_t>(k));
    }
}

}  // namespace

dispatcher::dispatcher(asio::io_context& ioc, writer& writer, delivery_client& client, retry_policy policy,
                       const clock& clock, metrics& metrics, dispatcher_options options,
                       std::shared_ptr<spdlog::logger> log)
    : strand_(asio::make_strand(ioc)),
      timer_(strand_),
      writer_(writer),
      client_(client),
      policy_(std::move(policy)),
      clock_(clock),
      metrics_(metrics),
      options_(std::move(options)),
      log_(std::move(log)) {
    metrics_.concurrency.set_cap(options_.max_in_flight_per_endpoint);
}

template <class Apply, class Done>
bool dispatcher::submit(Apply apply, Done on_done) {
    return writer_.submit(make_unit(
        std::move(apply),
        [self = shared_from_this(), on_done = std::move(on_done)](const status& st) {
            asio::post(self->strand_, [self, on_done, st] { on_done(*self, st); });
        },
        commit::lazy));
}

void dispatcher::start() {
    asio::post(strand_, [self = shared_from_this()] {
        self->started_ = true;
        if (!self->options_.release_leases_at_start) return self->rescan();
        self->do_release_leases();
    });
}

void dispatcher::do_release_leases() {
    claiming_ = true;
    auto released = std::make_shared<std::int64_t>(0);
    bool queued = submit(storing_into(released, [](outbox_store& s, std::int64_t now) { return s.release_leases(now); }),
                         [released](dispatcher& self, const status& st) { self.on_leases_released(st, *released); });
    if (!queued) claiming_ = false;
}

void dispatcher::on_leases_released(const status& st, std::int64_t released) {
    claiming_ = false;
    if (!st) log_->error("dispatcher: releasing leases failed: {}", st.err().message);
    if (released > 0) log_->info("dispatcher: {} delivery(ies) in flight at the last stop are due again", released);
    rescan();
}

void dispatcher::stop() {
    asio::post(strand_, [self = shared_from_this()] {
        self->stopping_ = true;
        self->timer_.cancel();
        self->pump();
    });
}

void dispatcher::update_idle() {
    idle_ = stopping_ && in_flight_ == 0 && !recording_ && outcomes_.empty() && !claiming_ && ready_ == 0 &&
            !releasing_ && releases_.empty();
}

void dispatcher::notify_due(std::vector<endpoint_ref> endpoints, std::int64_t due_ms) {
    asio::post(strand_, [self = shared_from_this(), endpoints = std::move(endpoints), due_ms] {
        for (const auto& [id, seq] : endpoints) {
            const auto* slot = self->notice_slot_of(seq);
            if (slot && due_ms >= slot->settled_from && slot->id_hash == string_hash{}(id)) continue;
            auto* ep = self->find_endpoint(id, seq);
            if (!ep) {
                self->rescan_requested_ = true;  // an endpoint we have not loaded yet
                continue;
            }
            // A FIFO endpoint with a queue: the new deliveries wait behind its head, whose
            // due time it has.
            if (ep->record.fifo && ep->next_due) continue;
            self->advance_next_due(*ep, due_ms);
        }
        self->pump();
    });
}

void dispatcher::notify_changed() {
    asio::post(strand_, [self = shared_from_this()] {
        self->rescan_requested_ = true;
        ++self->changes_;
        self->pump();
    });
}

void dispatcher::rescan() {
    if (stopping_) return update_idle();
    claiming_ = true;
    rescan_requested_ = false;  // this scan starts after the request: it will see what was asked for
    auto scan = std::make_shared<endpoint_scan>();
    auto changes_seen = changes_;
    bool queued = submit(storing_into(scan,
                                      [seen = scanned_, after = sweep_next_, sweep = options_.due_sweep](
                                          outbox_store& s, std::int64_t now) {
                                          return s.scan_endpoints(seen, now, after, sweep);
                                      }),
                         [scan, changes_seen](dispatcher& self, const status& st) {
                             self.on_scanned(st, std::move(*scan), changes_seen);
                         });
    if (!queued) {
        claiming_ = false;
        arm_timer(clock_.now_ms(), clock_.now_ms() + 100);  // the writer is stopping or full; try later
    }
}

void dispatcher::on_scanned(const status& st, endpoint_scan scan, std::uint64_t changes_seen) {
    claiming_ = false;
    last_scan_ = std::chrono::steady_clock::now().time_since_epoch().count();
    next_rescan_ms_ = clock_.now_ms() + options_.rescan_interval.count();
    if (!st) {
        log_->error("dispatcher: scanning endpoints failed: {}", st.err().message);
        return pump();
    }
    if (scan.complete) ++complete_scans_;
    for (auto& rec : scan.changed) apply_record(std::move(rec));
    if (scan.complete) {
        // The deleted ones, gathered first, so that no iterator is held across an erase.
        std::vector<std::string> deleted;
        for (const auto& [id, ep] : endpoints_) {
            if (ep->seen_in_scan != complete_scans_) deleted.push_back(id);
        }
        for (const auto& id : deleted) forget(endpoints_.find(id));
    }
    // Only ever earlier: a due time the scan read before a commit it did not see is older
    // than the one that commit's notice brought. A claim finds out what is really due.
    for (const auto& [id, due] : scan.due) {
        if (auto* ep = find_endpoint(id)) advance_next_due(*ep, due);
    }
    scanned_ = scan.mark;
    sweep_next_ = scan.sweep_next;
    changes_seen_ = changes_seen;
    flush_releases();  // what paused, disabled and deleted endpoints held
    pump();
}

void dispatcher::apply_record(endpoint_record rec) {
    erase_secrets_if(rec, [&](std::size_t k) { return !is_valid_secret(rec.secrets[k]); });
    if (options_.tls_unverified && rec.url.starts_with("https://") && warned_tls_.insert(rec.id).second) {
        log_->warn("endpoint {}: TLS certificates are NOT verified (delivery.dangerous_skip_tls_verify)", rec.id);
    }
    auto [it, added] = endpoints_.try_emplace(rec.id);
    if (added) {
        it->second = std::make_unique<endpoint_state>();
        it->second->concurrency = options_.max_in_flight_per_endpoint;
    }
    auto& ep = *it->second;
    auto due = ep.next_due;
    set_next_due(ep, std::nullopt);  // out of due_index_ while sendable() may change
    auto scanned_due = rec.next_due_ms;
    ep.record = std::move(rec);
    ep.seen_in_scan = complete_scans_;
    set_next_due(ep, due);
    update_notice_slot(ep);  // its record may have changed what a notice does (FIFO, seq)
    if (scanned_due) advance_next_due(ep, *scanned_due);
    if (!ep.sendable()) take_back(ep);  // paused or disabled: what it holds goes back at once
    // Made FIFO while it held more: the next claim takes the head alone.
    if (ep.record.fifo && ep.in_flight + ep.ready.size() > 1) take_back(ep);
    metrics_.concurrency.set(ep.record.id, ep.concurrency_cap());
}

void dispatcher::forget(endpoint_map_iterator it) {
    auto& ep = *it->second;
    take_back(ep);
    set_next_due(ep, std::nullopt);
    forget_notice_slot(ep);
    if (ep.listed) std::erase(with_ready_, &ep);
    metrics_.concurrency.forget(it->first);
    endpoints_.erase(it);
}

void dispatcher::set_next_due(endpoint_state& ep, std::optional<std::int64_t> due) {
    if (ep.next_due == due) return;
    if (ep.next_due) due_index_.erase({*ep.next_due, &ep});
    ep.next_due = due;
    if (due && ep.sendable()) due_index_.emplace(*due, &ep);
    update_notice_slot(ep);
}

void dispatcher::update_notice_slot(endpoint_state& ep) {
    auto seq = ep.record.seq;
    if (seq <= 0) return;
    auto at = static_cast<std::size_t>(seq);
    if (at >= notice_slots_.size()) {
        if (at >= max_notice_slot()) return;
        notice_slots_.resize(at + 1);
    }
    auto& slot = notice_slots_[at];
    slot.id_hash = string_hash{}(ep.record.id);
    slot.state = &ep;
    slot.settled_from = !ep.next_due     ? std::numeric_limits<std::int64_t>::max()
                        : ep.record.fifo ? std::numeric_limits<std::int64_t>::min()
                                         : *ep.next_due;
}

void dispatcher::forget_notice_slot(const endpoint_state& ep) {
    if (const auto* slot = notice_slot_of(ep.record.seq); slot && slot->state == &ep) {
        notice_slots_[static_cast<std::size_t>(ep.record.seq)] = notice_slot{};
    }
}

const dispatcher::notice_slot* dispatcher::notice_slot_of(std::int64_t seq) const {
    if (seq <= 0 || static_cast<std::size_t>(seq) >= notice_slots_.size()) return nullptr;
    return &notice_slots_[static_cast<std::size_t>(seq)];
}

void dispatcher::advance_next_due(endpoint_state& ep, std::int64_t due) {
    if (!ep.next_due || due < *ep.next_due) set_next_due(ep, due);
}

void dispatcher::pump() {
    if (!started_) return;
    flush_outcomes();  // outcomes held back after a failed write are due again
    if (stopping_) {
        for (auto* ep : with_ready_) {
            ep->listed = false;
            take_back(*ep);
        }
        with_ready_.clear();
        flush_releases();  // after the loop: a release the writer refuses pumps, which comes back here
        return update_idle();
    }
    auto now = clock_.now_ms();
    start_ready(now);
    if (claiming_) return;
    if (rescan_requested_ || now >= next_rescan_ms_) return rescan();
    claim(now);
}

void dispatcher::start_ready(std::int64_t now_ms) {
    // An admin change (a pause, a new secret, a new URL) is in the store: nothing queued
    // starts before the dispatcher has loaded it.
    if (changes_seen_ != changes_) return;
    auto min_lease_left = (options_.attempt_timeout + (options_.lease - options_.attempt_timeout) / 2).count();
    rate_wake_ms_.reset();
    // Round the endpoints with queued deliveries, each visited once, until the global cap
    // is reached: when it is full, an ending attempt's pump starts one attempt and stops.
    // Leases go back after the loop: a release the writer refuses pumps, which would come
    // back here.
    for (std::size_t n = with_ready_.size(); n > 0 && !with_ready_.empty() && in_flight_ < options_.max_in_flight;
         --n) {
        auto& ep = *with_ready_.front();
        with_ready_.pop_front();
        if (!ep.sendable()) take_back(ep);
        while (!ep.ready.empty() && ep.in_flight < ep.concurrency_cap() &&
               in_flight_ < options_.max_in_flight && token_ready(ep, now_ms)) {
            auto d = std::move(ep.ready.front());
            ep.ready.pop_front();
            --ready_;
            if (d.lease_until_ms - now_ms < min_lease_left) {
                // Queued too long (the endpoint is slow, or the global cap is full): the
                // attempt might outlive the lease, so give it back and claim it afresh.
                releases_.push_back({d.id, std::move(d.endpoint_id)});
                continue;
            }
            if (ep.record.rate_limit) ep.tokens -= 1;
            attempt(ep, std::move(d));
        }
        if (ep.ready.empty()) {
            ep.listed = false;
        } else {
            with_ready_.push_back(&ep);
        }
    }
    flush_releases();
}

bool dispatcher::token_ready(endpoint_state& ep, std::int64_t now_ms) {
    if (!ep.record.rate_limit) return true;
    auto rate = static_cast<double>(*ep.record.rate_limit);
    // Full at first: a burst of `rate`, then `rate` a second.
    auto refill = ep.tokens_at_ms ? static_cast<double>(now_ms - *ep.tokens_at_ms) * rate / 1e3 : rate;
    ep.tokens = std::min(rate, ep.tokens + refill);
    ep.tokens_at_ms = now_ms;
    if (ep.tokens >= 1) return true;
    auto wake = now_ms + std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil((1 - ep.tokens) * 1e3 / rate)));
    if (!rate_wake_ms_ || wake < *rate_wake_ms_) rate_wake_ms_ = wake;
    return false;
}

std::size_t dispatcher::lease_cap(const endpoint_state& ep) const {
    if (ep.record.fifo) return 1;
    auto cap = 2 * ep.concurrency;
    if (!ep.record.rate_limit) return cap;
    return std::min(cap, static_cast<std::size_t>(std::max<std::int64_t>(1, *ep.record.rate_limit)));
}

void dispatcher::claim(std::int64_t now_ms) {
    // Due, sendable endpoints whose in-flight attempts and ready queue are below twice
    // the per-endpoint cap, oldest due first, within twice the global cap.
    // The front of due_index_ is due, oldest first; the first entry not due yet is when to
    // wake. Endpoints at their cap are passed over: an attempt ending pumps again.
    auto leased = in_flight_ + ready_;
    std::size_t room = 2 * options_.max_in_flight > leased ? 2 * options_.max_in_flight - leased : 0;
    std::vector<endpoint_state*> due;
    std::optional<std::int64_t> wake = next_rescan_ms_;
    if (rate_wake_ms_ && (!wake || *rate_wake_ms_ < *wake)) wake = rate_wake_ms_;
    for (const auto& [at, ep] : due_index_) {
        if (at > now_ms) {
            if (!wake || at < *wake) wake = at;
            break;
        }
        if (ep->in_flight + ep->ready.size() >= lease_cap(*ep)) continue;
        if (due.size() >= room) break;  // every order claims one at least
        due.push_back(ep);
    }
    if (!outcomes_.empty() && (!wake || outcomes_retry_at_ms_ < *wake)) wake = outcomes_retry_at_ms_;
    if (due.empty() || room == 0) return arm_timer(now_ms, due.empty() ? wake : std::nullopt);
    auto orders = std::make_shared<std::vector<claim_order>>();
    for (auto* ep : due) {
        orders->push_back({ep->record.id, lease_cap(*ep) - ep->in_flight - ep->ready.size(), ep->record.fifo,
                           ep->concurrency_cap(), ep->record.seq});
    }

    claiming_ = true;
    auto results = std::make_shared<std::vector<endpoint_claim>>();
    auto lease_until = now_ms + options_.lease.count();
    // The room is shared as the claims come back: an endpoint with little due takes little
    // of it, so one claim serves many small endpoints.
    bool queued = submit(storing_into(results,
                                      [orders, room, lease_until, owner = options_.owner](outbox_store& s,
                                                                                           std::int64_t at) {
                                          return s.claim(*orders, room, at, lease_until, owner);
                                      }),
                         [results, orders](dispatcher& self, const status& st) {
                             self.on_claimed(st, std::move(*results), *orders);
                         });
    if (!queued) {
        claiming_ = false;
        arm_timer(now_ms, now_ms + 100);
    }
}

void dispatcher::on_claimed(const status& st, std::vector<endpoint_claim> results,
                            const std::vector<claim_order>& orders) {
    claiming_ = false;
    if (!st) {
        log_->error("dispatcher: claiming deliveries failed: {}", st.err().message);
        arm_timer(clock_.now_ms(), clock_.now_ms() + storage_retry_ms);
        return;
    }
    for (std::size_t i = 0; i < results.size(); ++i) {
        auto& r = results[i];  // one per order, in order
        auto* found = find_endpoint(r.endpoint_id, i < orders.size() ? orders[i].endpoint_seq : 0);
        if (!found) {
            for (auto& d : r.deliveries) releases_.push_back({d.id, std::move(d.endpoint_id)});
            continue;
        }
        auto& ep = *found;
        set_next_due(ep, r.next_due);
        for (auto& d : r.deliveries) {
            // Queued since its lease ended (the global cap was full), and leased again: the
            // new lease replaces the old, or the stale copy's release would end the new one.
            auto same = std::find_if(ep.ready.begin(), ep.ready.end(),
                                     [&](const claimed_delivery& q) { return q.id == d.id; });
            if (same != ep.ready.end()) {
                *same = std::move(d);
                continue;
            }
            ep.ready.push_back(std::move(d));
            ++ready_;
        }
        list_ready(ep);
    }
    flush_releases();
    pump();
}

void dispatcher::list_ready(endpoint_state& ep) {
    if (ep.listed || ep.ready.empty()) return;
    ep.listed = true;
    with_ready_.push_back(&ep);
}

void dispatcher::take_back(endpoint_state& ep) {
    for (auto& d : ep.ready) releases_.push_back({d.id, std::move(d.endpoint_id)});
    ready_ -= ep.ready.size();
    ep.ready.clear();  // still listed: the next pump unlists it
}


void dispatcher::flush_releases() {
    if (releasing_ || releases_.empty()) return update_idle();
    releasing_ = true;
    auto batch = std::make_shared<std::vector<lease_ref>>(std::move(releases_));
    releases_.clear();
    bool queued = submit(
        [batch, owner = options_.owner](outbox_store& s, std::int64_t now) -> status {
            std::vector<std::int64_t> ids;
            ids.reserve(batch->size());
            for (const auto& l : *batch) ids.push_back(l.delivery_id);
            if (auto released = s.release(ids, owner, now); !released) return released.err();
            return ok_v;
        },
        [batch](dispatcher& self, const status& st) { self.on_released(st, *batch); });
    if (!queued) on_released(error{error_code::storage_unavailable, "the writer is stopping"}, *batch);
}

void dispatcher::on_released(const status& st, const std::vector<lease_ref>& batch) {
    releasing_ = false;
    if (!st) {
        // The leases end by themselves; the deliveries are due again then.
        log_->error("dispatcher: giving back {} lease(s) failed: {}", batch.size(), st.err().message);
    } else {
        // Due again now (release() wrote the time the writer ran it, at most now).
        auto now = clock_.now_ms();
        for (const auto& l : batch) {
            if (auto* ep = find_endpoint(l.endpoint_id)) advance_next_due(*ep, now);
        }
    }
    flush_releases();
    pump();
}

void dispatcher::arm_timer(std::int64_t now_ms, std::optional<std::int64_t> wake_ms) {
    if (!wake_ms || stopping_) return;
    if (armed_for_ms_ == *wake_ms) return;  // already set for then (pump() runs once per ingest request)
    armed_for_ms_ = *wake_ms;
    timer_.expires_after(std::chrono::milliseconds(std::max<std::int64_t>(0, *wake_ms - now_ms)));
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (ec) return;  // re-armed or stopped
        self->armed_for_ms_.reset();
        self->pump();
    });
}

std::string_view dispatcher::tenant_of(const std::string& endpoint_id) const {
    const auto* ep = find_endpoint(endpoint_id);
    return ep ? tenant_label(ep->record) : "-";
}

dispatcher::endpoint_state* dispatcher::find_endpoint(std::string_view id, std::int64_t seq) const {
    if (const auto* slot = notice_slot_of(seq); slot && slot->state && slot->state->record.id == id) {
        return slot->state;
    }
    auto it = endpoints_.find(id);
    return it == endpoints_.end() ? nullptr : it->second.get();
}

void dispatcher::attempt(endpoint_state& ep, claimed_delivery d) {
    auto started = clock_.now_ms();
    auto seq = ep.record.seq;
    ++in_flight_;  // on_attempt_done() counts every attempt out again
    ++ep.in_flight;
    metrics_.attempts_in_flight.add(1);
    // A rotation's grace period ends with no write to scan: the old secret stops signing
    // on time.
    auto& rec = ep.record;
    erase_secrets_if(rec, [&](std::size_t k) { return rec.secret_expires_ms[k] && *rec.secret_expires_ms[k] <= started; });
    if (rec.secrets.empty()) {
        // Never send unsigned: record a failed attempt so the operator sees why.
        delivery_response r;
        r.outcome = attempt_outcome::connect_error;
        r.error = "endpoint " + d.endpoint_id + " has no valid signing secret";
        // Posted, not called: start_ready() is walking the ready queues.
        return asio::post(strand_, [self = shared_from_this(), d = std::move(d), seq, started,
                                    r = std::move(r)]() mutable {
            self->on_attempt_done(std::move(d), seq, started, std::move(r));
        });
    }
    auto req = build_request(rec, d, started / 1000);
    if (log_->should_log(spdlog::level::debug)) {
        log_->debug("attempt {} of delivery dlv_{} (event {}) to endpoint {} tenant={}", d.attempt, d.id,
                    d.event_id, d.endpoint_id, tenant_label(rec));
    }
    client_.send(std::move(req), [self = shared_from_this(), d = std::move(d), seq,
                                  started](delivery_response r) mutable {
        asio::post(self->strand_, [self, d = std::move(d), seq, started, r = std::move(r)]() mutable {
            self->on_attempt_done(std::move(d), seq, started, std::move(r));
        });
    });
}

void dispatcher::on_attempt_done(claimed_delivery d, std::int64_t seq, std::int64_t started_ms,
                                 delivery_response r) {
    --in_flight_;
    metrics_.attempts_in_flight.add(-1);
    endpoint_state* ep = find_endpoint(d.endpoint_id, seq);
    const std::string_view tenant = ep ? tenant_label(ep->record) : "-";
    if (ep) {
        if (ep->in_flight > 0) --ep->in_flight;
        adapt_concurrency(*ep, r);
    }
    auto now = clock_.now_ms();
    metrics_.attempts[static_cast<std::size_t>(r.outcome)].inc();
    metrics_.attempt_duration.observe(static_cast<double>(r.elapsed.count()) / 1e6);

    auto rec = attempt_record_of(d.id, d.endpoint_id, d.attempt, started_ms, r);
    rec.event_id = d.event_id;
    rec.event_type = d.event_type;
    decided_outcome decided;
    if (r.outcome == attempt_outcome::success) {
        rec.delivered = true;
        decided.latency_s = static_cast<double>(now - d.event_created_ms) / 1e3;
    } else {
        auto retry_after = (r.status_code == 429 || r.status_code == 503) ? r.retry_after : std::nullopt;
        double draw = std::uniform_real_distribution<double>(0.0, 1.0)(random_);
        auto decision = policy_.after_failure(d.ladder_attempt, now, retry_after, draw);
        rec.dead = decision.exhausted;
        rec.next_attempt_ms = decision.next_attempt_ms;
        if (rec.dead) {
            log_->warn("delivery dlv_{} (event {}) to endpoint {} tenant={} is dead after {} attempts: {}", d.id,
                       d.event_id, d.endpoint_id, tenant, d.attempt,
                       rec.error.empty() ? "HTTP " + std::to_string(rec.status_code) : rec.error);
        } else {
            log_->info("delivery dlv_{} (event {}) to endpoint {} tenant={}: attempt {} failed ({}{}), next in {} ms",
                       d.id, d.event_id, d.endpoint_id, tenant, d.attempt, to_string(rec.outcome),
                       rec.status_code ? " " + std::to_string(rec.status_code) : "",
                       rec.next_attempt_ms - now);
        }
    }
    if (r.status_code == 410) {
        // Gone: its record disables the endpoint. Nothing more is sent meanwhile.
        if (ep && ep->record.enabled) {
            ep->record.enabled = false;
            take_back(*ep);
            flush_releases();
        }
    }
    decided.record = std::move(rec);
    decided.endpoint_seq = seq;
    outcomes_.push_back(std::move(decided));
    flush_outcomes();
    pump();
}

void dispatcher::adapt_concurrency(endpoint_state& ep, const delivery_response& r) {
    auto was = ep.concurrency;
    if (r.status_code == 429 || r.status_code == 503) {
        ep.concurrency = std::max<std::size_t>(1, ep.concurrency / 2);
    } else if (r.outcome == attempt_outcome::success) {
        ep.concurrency = std::min(options_.max_in_flight_per_endpoint, ep.concurrency + 1);
    }
    if (ep.concurrency == was) return;
    if (ep.concurrency < was) {
        log_->info("endpoint {} tenant={} answered {}: at most {} attempt(s) in flight to it until it succeeds again",
                   ep.record.id, tenant_label(ep.record), r.status_code, ep.concurrency);
    }
    metrics_.concurrency.set(ep.record.id, ep.concurrency_cap());
}

void dispatcher::flush_outcomes() {
    if (recording_ || outcomes_.empty()) return update_idle();
    if (!stopping_ && clock_.now_ms() < outcomes_retry_at_ms_) return update_idle();  // the last write failed
    recording_ = true;
    auto batch = std::make_shared<std::vector<decided_outcome>>(std::move(outcomes_));
    outcomes_.clear();
    record(std::move(batch));
}

void dispatcher::record(std::shared_ptr<std::vector<decided_outcome>> batch) {
    ++recording_units_;
    auto effects = std::make_shared<std::vector<attempt_effects>>();
    bool queued = submit(
        [batch, effects, health = options_.health](outbox_store& s, std::int64_t now) -> status {
            effects->clear();
            std::vector<const attempt_record*> records;
            records.reserve(batch->size());
            for (const auto& o : *batch) records.push_back(&o.record);
            auto all = s.record_attempts(records, health, now);
            if (!all) return all.err();
            for (auto& fx : *all) {
                if (fx.disabled || !fx.notified.empty()) effects->push_back(std::move(fx));
            }
            return ok_v;
        },
        [batch, effects](dispatcher& self, const status& st) {
            if (st) self.apply_effects(*effects);
            self.on_recorded(st, batch);
        });
    if (!queued) on_recorded(error{error_code::storage_unavailable, "the writer is stopping"}, std::move(batch));
}

void dispatcher::apply_effects(std::vector<attempt_effects>& effects) {
    auto now = clock_.now_ms();
    for (auto& fx : effects) {
        if (fx.disabled) {
            metrics_.deliveries_dead.inc(static_cast<std::uint64_t>(fx.also_dead));
            log_->warn("endpoint {} tenant={} is disabled ({}): its {} pending deliveries became dead letters",
                       *fx.disabled, tenant_of(*fx.disabled),
                       fx.disabled_reason == "gone" ? "its receiver answered 410 Gone"
                                                    : "it kept failing for endpoints.disable_after",
                       fx.also_dead);
            if (auto* ep = find_endpoint(*fx.disabled)) {
                // Its leased-ahead deliveries are dead letters now: none may still be sent.
                ep->record.enabled = false;
                take_back(*ep);
            }
            rescan_requested_ = true;
        }
        for (const auto& id : fx.notified) {
            if (auto* ep = find_endpoint(id)) {
                advance_next_due(*ep, now);
            } else {
                rescan_requested_ = true;
            }
        }
    }
    flush_releases();
}

void dispatcher::on_recorded(const status& st, std::shared_ptr<std::vector<decided_outcome>> batch) {
    --recording_units_;
    if (!st && st.err().code == error_code::storage_unavailable && stopping_) {
        // The deliveries stay leased and are due again at the next start.
        log_->error("dispatcher: recording {} attempt(s) failed at the stop: {}", batch->size(), st.err().message);
    } else if (!st && st.err().code == error_code::storage_unavailable) {
        // Disk full, I/O error, database locked: the attempts were made, so keep their
        // outcomes and write them again shortly; dropped, each delivery would be sent
        // again when its lease ends.
        log_->warn("dispatcher: recording {} attempt(s) failed, trying again in {} ms: {}", batch->size(),
                   storage_retry_ms, st.err().message);
        outcomes_.insert(outcomes_.begin(), std::make_move_iterator(batch->begin()),
                         std::make_move_iterator(batch->end()));
        outcomes_retry_at_ms_ = clock_.now_ms() + storage_retry_ms;
    } else if (!st && batch->size() > 1) {
        // One outcome the store refuses (a bug, a damaged row) must not take the others
        // with it: each is written again alone, in its own unit.
        log_->error("dispatcher: recording {} attempt(s) failed, recording each alone: {}", batch->size(),
                    st.err().message);
        for (auto& o : *batch) record(std::make_shared<std::vector<decided_outcome>>(1, std::move(o)));
    } else if (!st) {
        // This outcome cannot be stored. Left leased, the delivery would be attempted again
        // after every lease, for ever: it is parked for an operator instead.
        const auto& a = batch->front().record;
        log_->error("delivery dlv_{} to endpoint {} tenant={}: the outcome of attempt {} cannot be recorded, "
                    "parking the delivery: {}",
                    a.delivery_id, a.endpoint_id, tenant_of(a.endpoint_id), a.attempt, st.err().message);
        if (a.delivery_id != 0) park(a.delivery_id, "the outcome of attempt " + std::to_string(a.attempt) +
                                                        " could not be recorded: " + st.err().message);
    } else {
        for (const auto& o : *batch) count_recorded(o);
    }
    if (recording_units_ == 0) recording_ = false;
    flush_outcomes();
    pump();
}

void dispatcher::count_recorded(const decided_outcome& o) {
    const auto& a = o.record;
    if (a.delivered) {
        metrics_.deliveries_delivered.inc();
        if (o.latency_s) metrics_.delivery_latency.observe(*o.latency_s);
    } else if (a.dead) {
        metrics_.deliveries_dead.inc();
    }
    auto* ep = find_endpoint(a.endpoint_id, o.endpoint_seq);
    if (!ep) return;
    if (!a.delivered && !a.dead) {
        advance_next_due(*ep, a.next_attempt_ms);
    } else if (ep->record.fifo) {
        advance_next_due(*ep, clock_.now_ms());  // the head is done: the next one is up
    }
}

void dispatcher::park(std::int64_t delivery_id, std::string reason) {
    ++recording_units_;
    bool queued = submit(
        [delivery_id, reason](outbox_store& s, std::int64_t now) { return s.park(delivery_id, reason, now); },
        [delivery_id](dispatcher& self, const status& st) {
            if (!st) {
                self.log_->error("dispatcher: parking delivery dlv_{} failed: {}", delivery_id, st.err().message);
            }
            if (--self.recording_units_ == 0) self.recording_ = false;
            self.flush_outcomes();
            self.pump();
        });
    if (!queued && --recording_units_ == 0) recording_ = false;
}

}  // namespace webhookd
