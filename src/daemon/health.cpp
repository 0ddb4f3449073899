#include "daemon/health.hpp"

#include <boost/asio/post.hpp>

#include <spdlog/spdlog.h>

#include "delivery/dispatcher.hpp"
#include "metrics/metrics.hpp"
#include "store/lambda_unit.hpp"
#include "store/reader.hpp"
#include "store/writer.hpp"
#include "webhookd/service_notifier.hpp"

namespace webhookd {

namespace asio = boost::asio;
using http_status = http::status;

health_service::health_service(asio::io_context& ioc, writer& writer, reader& reader, metrics& metrics,
                               std::shared_ptr<spdlog::logger> log)
    : ioc_(ioc),
      writer_(writer),
      reader_(reader),
      metrics_(metrics),
      log_(std::move(log)),
      strand_(asio::make_strand(ioc)),
      timer_(strand_) {}

void health_service::register_routes(http::router& r) {
    r.add(http::verb::get, "/healthz", http::access::anyone,
          [](http::request&& req, const http::route_context&, http::responder respond) {
              respond(http::json_response(req, http_status::ok, "{\"status\":\"ok\"}\n"));
          });
    r.add(
        http::verb::get, "/readyz", http::access::anyone,
        [this](http::request&& req, const http::route_context&, http::responder respond) {
            if (draining_) {
                return respond(http::json_error(req, http_status::service_unavailable, error_code::shutting_down,
                                                "webhookd is shutting down"));
            }
            auto shared = std::make_shared<http::request>(std::move(req));
            probe(readiness_deadline, [shared, respond = std::move(respond)](const status& s) {
                respond(s ? http::json_response(*shared, http_status::ok, "{\"status\":\"ready\"}\n")
                          : http::json_error(*shared, http_status::service_unavailable, error_code::not_ready, s.err().message));
            });
        });
    r.add(http::verb::get, "/metrics", http::access::listener,
          [this](http::request&& req, const http::route_context&, http::responder respond) {
        metrics_.writer_queue_depth.set(static_cast<std::int64_t>(writer_.queued_weight()));
        auto shared = std::make_shared<http::request>(std::move(req));
        auto answer = [this, shared](http::responder& respond, const result<outbox_counts>& counts) {
            if (!counts) {
                return respond(http::json_error(*shared, http_status::service_unavailable, counts.err().code,
                                                "reading the gauges failed: " + counts.err().message));
            }
            respond(http::body_response(*shared, http_status::ok, "text/plain; version=0.0.4; charset=utf-8",
                                        metrics_.render(*counts)));
        };
        auto job = [answer, respond](outbox_store& s) mutable { answer(respond, s.counts()); };
        if (!reader_.submit(std::move(job))) {
            answer(respond, error{error_code::overloaded, "too many reads are waiting; retry shortly"});
        }
    });
}

bool health_service::submit_probe(std::function<void(const status&)> done) {
    return writer_.submit(make_unit([](outbox_store& s, std::int64_t now) { return s.heartbeat(now); }, std::move(done)));
}

void health_service::probe(duration deadline, std::function<void(const status&)> done) {
    // Whichever comes first, the writer's answer or the deadline, answers.
    struct state {
        // A constructor, not parenthesized aggregate init: clang before 16 lacks that.
        state(asio::steady_timer t, std::function<void(const status&)> d) : timer(std::move(t)), done(std::move(d)) {}
        std::atomic<bool> answered{false};
        asio::steady_timer timer;
        std::function<void(const status&)> done;
        void answer(const status& s) {
            if (answered.exchange(true)) return;
            auto d = std::move(done);  // release what it holds now; the timer may keep this a while
            d(s);
        }
    };
    auto st = std::make_shared<state>(asio::steady_timer(ioc_), std::move(done));
    st->timer.expires_after(deadline);
    st->timer.async_wait([st, deadline](boost::system::error_code ec) {
        if (!ec) {
            st->answer(error{error_code::not_ready, "the database writer did not answer within " + format_duration(deadline)});
        }
    });
    bool queued = submit_probe([st, &ioc = ioc_](const status& s) {
        asio::post(ioc, [st, s] {
            st->timer.cancel();
            st->answer(s ? s : status(error{error_code::not_ready, "the database does not take writes: " + s.err().message}));
        });
    });
    if (!queued) {
        asio::post(ioc_, [st] {
            st->timer.cancel();
            st->answer(error{error_code::not_ready, "the database writer is stopping"});
        });
    }
}

void health_service::supervise(const service_notifier& notifier, const dispatcher& dispatch) {
    if (!notifier.enabled()) return;
    asio::post(strand_, [self = shared_from_this(), &notifier, &dispatch] {
        self->notifier_ = &notifier;
        self->dispatch_ = &dispatch;
        auto ping = notifier.watchdog_ping_interval();
        self->watchdog_ = ping.has_value();
        self->interval_ = ping.value_or(status_interval);
        self->tick();
    });
}

void health_service::stop() {
    asio::post(strand_, [self = shared_from_this()] {
        self->stopped_ = true;
        self->timer_.cancel();
    });
}

void health_service::tick() {
    if (stopped_) return;
    auto now = std::chrono::steady_clock::now();
    // The probe sent at the last tick has had a whole interval; a scan finishes every
    // rescan_interval while the dispatcher works, so allow it three of those (a draining
    // dispatcher scans no more).
    bool writer_stuck = probe_out_ && now - probe_sent_ >= interval_;
    auto scan_age = now - dispatch_->last_scan();
    bool dispatcher_stuck =
        !draining_ && scan_age > std::max<std::chrono::steady_clock::duration>(3 * dispatch_->rescan_interval(), 2 * interval_);
    bool stalled = writer_stuck || dispatcher_stuck;
    if (stalled && !stalled_) {
        log_->error("watchdog: {}; withholding WATCHDOG=1 so that the service manager restarts webhookd",
                    writer_stuck ? "the database writer has not answered a probe for " +
                                       format_duration(std::chrono::duration_cast<duration>(now - probe_sent_))
                                 : "the dispatcher has not finished a scan for " +
                                       format_duration(std::chrono::duration_cast<duration>(scan_age)));
    } else if (!stalled && stalled_) {
        log_->warn("watchdog: the writer and the dispatcher make progress again");
    }
    stalled_ = stalled;
    std::string message = status_line();
    if (watchdog_ && !stalled) message.insert(0, "WATCHDOG=1\n");
    notifier_->send(message);

    if (!probe_out_) {
        probe_out_ = true;
        probe_sent_ = now;
        bool queued = submit_probe([self = shared_from_this()](const status& s) {
            asio::post(self->strand_, [self, s] {
                self->probe_out_ = false;
                if (!s) self->log_->warn("watchdog: probe transaction failed: {}", s.err().message);
            });
        });
        if (!queued) probe_out_ = false;  // the writer is stopping: so is the daemon
    }
    timer_.expires_after(interval_);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec) self->tick();
    });
}

std::string health_service::status_line() const {
    return fmt::format("STATUS={}: writer queue {}, {} attempt(s) in flight; since start {} event(s) ingested, "
                       "{} delivered, {} dead",
                       draining_ ? "draining" : "serving", writer_.queued_weight(), metrics_.attempts_in_flight.value(),
                       metrics_.events_ingested.value(), metrics_.deliveries_delivered.value(),
                       metrics_.deliveries_dead.value());
}

}  // namespace webhookd
