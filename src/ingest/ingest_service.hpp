#pragma once
// The ingest API (POST /v1/events, POST /v1/events/batch). Validation runs on the
// connection's thread; storage goes through the writer, and the producer is answered only after the
// group holding its events has committed.

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <functional>
#include <memory>

#include "http/router.hpp"
#include "store/outbox_store.hpp"
#include "webhookd/clock.hpp"
#include "webhookd/config.hpp"

namespace spdlog {
class logger;
}

namespace webhookd {

class writer;
struct metrics;

class ingest_service {
public:
    // Deliveries of an accepted event are due first_attempt_delay after its commit.
    ingest_service(boost::asio::io_context& ioc, const ingest_config& cfg, duration first_attempt_delay,
                   writer& writer, metrics& metrics, const clock& clock, std::shared_ptr<spdlog::logger> log);

    // Called after a commit with the endpoints that got new deliveries (each once) and when
    // those are due, on an io thread. Set before the listeners start.
    using deliveries_fn = std::function<void(std::vector<endpoint_ref> endpoints, std::int64_t due_ms)>;
    void on_deliveries(deliveries_fn fn) { on_deliveries_ = std::move(fn); }

    void register_routes(http::router& r);

    // From now on ingest answers 503 shutting_down. Thread-safe.
    void begin_drain() { draining_ = true; }

private:
    void post_event(http::request&& req, http::responder respond);
    void post_batch(http::request&& req, http::responder respond);
    // Queues the events for the writer; answers 202/200 after commit, 503 on overload or storage failure.
    void store(http::request&& req, std::vector<new_event> events, bool batch, http::responder respond);
    // Common checks of both POST routes; answers and returns false when the request fails them.
    bool admit(const http::request& req, const http::responder& respond);

    boost::asio::io_context& ioc_;
    const ingest_config& cfg_;
    duration first_attempt_delay_;
    writer& writer_;
    metrics& metrics_;
    const clock& clock_;
    std::shared_ptr<spdlog::logger> log_;
    std::atomic<bool> draining_{false};
    deliveries_fn on_deliveries_;
};

}  // namespace webhookd
