#include "ingest/ingest_service.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>

#include <spdlog/spdlog.h>

#include "ingest/event_validator.hpp"
#include "metrics/metrics.hpp"
#include "store/writer.hpp"
#include "util/json_text.hpp"

namespace webhookd {

namespace {

using http_status = http::status;
namespace field = boost::beast::http;

// One event's answer: {"id","tenant"?,"event","timestamp","deliveries","duplicate"?}.
void append_outcome_json(std::string& out, const ingest_outcome& o) {
    out += "{\"id\":";
    append_json_string(out, o.id);
    if (o.tenant) {
        out += ",\"tenant\":";
        append_json_string(out, *o.tenant);
    }
    out += ",\"event\":";
    append_json_string(out, o.type);
    out += ",\"timestamp\":";
    append_json_string(out, o.timestamp);
    out += ",\"deliveries\":";
    out += std::to_string(o.deliveries);
    if (o.duplicate) out += ",\"duplicate\":true";
    out += '}';
}

// A producer request's events on their way through the writer.
class ingest_unit final : public write_unit {
public:
    using completion = std::function<void(const webhookd::status&, std::vector<ingest_outcome>&)>;
    // `done` runs on `ex` (not on the writer thread, whose time is the group commit's).
    // Deliveries are due first_delay_ms after the commit's time.
    ingest_unit(std::vector<new_event> events, bool batch, std::int64_t first_delay_ms,
                boost::asio::any_io_executor ex, completion done)
        : events_(std::move(events)),
          batch_(batch),
          first_delay_ms_(first_delay_ms),
          ex_(std::move(ex)),
          done_(std::move(done)) {}

    // One event refused (an unknown tenant, an id of another tenant's) refuses the whole
    // request: the writer rolls back the unit, and the message names the batch item.
    webhookd::status apply(outbox_store& store, std::int64_t now_ms) override {
        outcomes_.clear();
        for (std::size_t i = 0; i < events_.size(); ++i) {
            auto r = store.insert_event(events_[i], now_ms, now_ms + first_delay_ms_);
            if (!r) {
                if (!batch_) return r.err();
                return error{r.err().code, "events[" + std::to_string(i) + "]: " + r.err().message};
            }
            outcomes_.push_back(std::move(r).value());
        }
        return ok_v;
    }
    void stage(outbox_store& store, std::int64_t now_ms) override {
        store.stage_events(events_, now_ms, now_ms + first_delay_ms_);
    }
    void done(const webhookd::status& outcome) override {
        boost::asio::post(ex_, [outcome, outcomes = std::move(outcomes_), done = std::move(done_)]() mutable {
            done(outcome, outcomes);
        });
    }
    std::size_t weight() const override { return events_.size(); }

private:
    std::vector<new_event> events_;
    bool batch_;
    std::int64_t first_delay_ms_;
    std::vector<ingest_outcome> outcomes_;
    boost::asio::any_io_executor ex_;
    completion done_;
};

bool is_json_content_type(std::string_view ct) {
    auto semi = ct.find(';');
    auto mime = ct.substr(0, semi);
    while (!mime.empty() && mime.back() == ' ') mime.remove_suffix(1);
    return boost::beast::iequals(mime, "application/json");
}

}  // namespace

ingest_service::ingest_service(boost::asio::io_context& ioc, const ingest_config& cfg, duration first_attempt_delay,
                               writer& writer, metrics& metrics, const clock& clock,
                               std::shared_ptr<spdlog::logger> log)
    : ioc_(ioc),
      cfg_(cfg),
      first_attempt_delay_(first_attempt_delay),
      writer_(writer),
      metrics_(metrics),
      clock_(clock),
      log_(std::move(log)) {}

void ingest_service::register_routes(http::router& r) {
    r.add(http::verb::post, "/v1/events", http::access::listener,
          [this](http::request&& req, const http::route_context&, http::responder respond) {
              post_event(std::move(req), std::move(respond));
          });
    r.add(http::verb::post, "/v1/events/batch", http::access::listener,
          [this](http::request&& req, const http::route_context&, http::responder respond) {
              post_batch(std::move(req), std::move(respond));
          });
}

bool ingest_service::admit(const http::request& req, const http::responder& respond) {
    if (draining_) {
        auto res = http::json_error(req, http_status::service_unavailable, error_code::shutting_down, "webhookd is shutting down");
        res.set(field::field::retry_after, "5");
        res.keep_alive(false);
        respond(std::move(res));
        return false;
    }
    if (!is_json_content_type(req[field::field::content_type])) {
        respond(http::json_error(req, http_status::unsupported_media_type, error_code::unsupported_media_type,
                                 "Content-Type must be application/json"));
        return false;
    }
    return true;
}

void ingest_service::post_event(http::request&& req, http::responder respond) {
    if (!admit(req, respond)) return;
    std::optional<std::string_view> key;
    if (auto it = req.find("Idempotency-Key"); it != req.end()) key = it->value();
    auto event = parse_event(req.body(), key, clock_.now());
    if (!event) return respond(http::json_error(req, event.err()));
    std::vector<new_event> events;
    events.push_back(std::move(event).value());
    store(std::move(req), std::move(events), false, std::move(respond));
}

void ingest_service::post_batch(http::request&& req, http::responder respond) {
    if (!admit(req, respond)) return;
    auto events = parse_batch(req.body(), cfg_.max_batch_events, clock_.now());
    if (!events) return respond(http::json_error(req, events.err()));
    store(std::move(req), std::move(events).value(), true, std::move(respond));
}

void ingest_service::store(http::request&& req, std::vector<new_event> events, bool batch, http::responder respond) {
    auto shared_req = std::make_shared<http::request>(std::move(req));
    auto unit = std::make_shared<ingest_unit>(
        std::move(events), batch, first_attempt_delay_.count(), ioc_.get_executor(),
        [this, shared_req, batch, respond](const webhookd::status& s, std::vector<ingest_outcome>& out) {
            if (!s && (s.err().code == error_code::tenant_not_found || s.err().code == error_code::id_conflict)) {
                // The producer's mistake, not the store's: nothing was stored, and retrying
                // the same request cannot help.
                return respond(http::json_error(*shared_req, s.err()));
            }
            if (!s) {
                log_->error("ingest: storing events failed: {}", s.err().message);
                auto res = http::json_error(*shared_req, http_status::service_unavailable, s.err().code,
                                            "nothing was stored: " + s.err().message);
                res.set(field::field::retry_after, "1");
                return respond(std::move(res));
            }
            metrics_.ingest_batch_size.observe(static_cast<double>(out.size()));
            std::string body = batch ? "{\"events\":[" : "";
            bool any_new = false;
            std::vector<endpoint_ref> endpoints;
            for (std::size_t i = 0; i < out.size(); ++i) {
                auto& o = out[i];
                if (!o.duplicate) {
                    any_new = true;
                    metrics_.events_ingested.inc();
                    for (std::size_t k = 0; k < o.endpoint_ids.size(); ++k) {
                        endpoints.push_back({std::move(o.endpoint_ids[k]), o.endpoint_seqs[k]});
                    }
                }
                if (i > 0) body += ',';
                append_outcome_json(body, o);
            }
            body += batch ? "]}\n" : "\n";
            if (!endpoints.empty() && on_deliveries_) {
                std::sort(endpoints.begin(), endpoints.end());
                endpoints.erase(std::unique(endpoints.begin(), endpoints.end()), endpoints.end());
                on_deliveries_(std::move(endpoints), clock_.now_ms() + first_attempt_delay_.count());
            }
            respond(http::json_response(*shared_req, any_new ? http_status::accepted : http_status::ok, std::move(body)));
        });
    if (!writer_.submit(unit)) {
        metrics_.ingest_rejected_overloaded.inc();
        auto res = http::json_error(*shared_req, http_status::service_unavailable, error_code::overloaded,
                                    "the write queue is full; retry later");
        res.set(field::field::retry_after, "1");
        respond(std::move(res));
    }
}

}  // namespace webhookd
