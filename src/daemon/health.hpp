#pragma once
// The daemon's health, for load balancers, Prometheus and the service manager:
//   GET /healthz   the process answers;
//   GET /readyz    the writer commits a probe transaction within 2 s: the database takes
//                  writes and the writer is not wedged (503 not_ready), and the daemon is
//                  not draining (503 shutting_down);
//   GET /metrics   the Prometheus exposition; its row-count gauges are read on the
//                  reader's connection for each scrape;
// and, under systemd, WATCHDOG=1 only while the writer answers probes and the dispatcher
// finishes its scans, with a STATUS= line at every tick.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>

#include "http/router.hpp"
#include "webhookd/config.hpp"
#include "webhookd/result.hpp"

namespace spdlog {
class logger;
}

namespace webhookd {

class writer;
class reader;
class dispatcher;
class service_notifier;
struct metrics;

class health_service : public std::enable_shared_from_this<health_service> {
public:
    // How long /readyz waits for the writer.
    static constexpr duration readiness_deadline = std::chrono::seconds(2);
    // How often STATUS= is sent when there is no watchdog.
    static constexpr duration status_interval = std::chrono::seconds(10);

    health_service(boost::asio::io_context& ioc, writer& writer, reader& reader, metrics& metrics,
                   std::shared_ptr<spdlog::logger> log);

    // /healthz, /readyz and /metrics, on both listeners.
    void register_routes(http::router& r);

    // Commits a probe transaction (it writes the heartbeat row). done gets its outcome, or
    // an error when the writer has not answered within `deadline`: exactly once, on an io
    // thread.
    void probe(duration deadline, std::function<void(const status&)> done);

    // Starts the watchdog and status loop for this notifier (nothing when it is disabled).
    // The dispatcher's last_scan() tells its progress. Both must outlive stop().
    void supervise(const service_notifier& notifier, const dispatcher& dispatch);

    // /readyz answers 503 shutting_down from now on, and STATUS= says draining. Thread-safe.
    void begin_drain() { draining_ = true; }

    // Stops the loop. Thread-safe.
    void stop();

private:
    void tick();
    std::string status_line() const;
    // Queues a probe unit; done(status) runs on the writer thread. False when refused.
    bool submit_probe(std::function<void(const status&)> done);

    boost::asio::io_context& ioc_;
    writer& writer_;
    reader& reader_;
    metrics& metrics_;
    std::shared_ptr<spdlog::logger> log_;
    std::atomic<bool> draining_{false};

    // The supervision loop's state, on strand_.
    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    boost::asio::steady_timer timer_;
    const service_notifier* notifier_ = nullptr;
    const dispatcher* dispatch_ = nullptr;
    duration interval_{};
    bool watchdog_ = false;
    bool stopped_ = false;
    bool probe_out_ = false;                              // a probe is with the writer
    std::chrono::steady_clock::time_point probe_sent_;
    bool stalled_ = false;                                // last tick withheld the ping
};

}  // namespace webhookd
