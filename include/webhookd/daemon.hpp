#pragma once
// The whole daemon: storage, writer, listeners and the event loop, owned by one object
// that main() and the integration tests drive the same way.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "webhookd/clock.hpp"
#include "webhookd/config.hpp"
#include "webhookd/result.hpp"

namespace spdlog {
class logger;
}

namespace webhookd {

class daemon {
public:
    // The clock must outlive the daemon.
    daemon(config cfg, std::shared_ptr<spdlog::logger> log, const clock& clock);
    ~daemon();  // stop()s

    daemon(const daemon&) = delete;
    daemon& operator=(const daemon&) = delete;

    // Opens and migrates the database, binds both listeners and starts the threads.
    // Returns the first failure (nothing keeps running then).
    status start();

    // Blocks until SIGTERM or SIGINT (or stop() from another thread), then drains.
    void wait_for_signal();

    // Graceful stop: closes the listeners, answers what is in flight, commits everything
    // queued, joins the threads. Bounded by config shutdown_timeout. Idempotent.
    void stop();

    unsigned short ingest_port() const;
    unsigned short admin_port() const;
    // Every route both listeners serve, as "METHOD /pattern" (for the API docs' test).
    std::vector<std::string> routes() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// A logger for the daemon: text or JSON lines on stderr at the given level.
std::shared_ptr<spdlog::logger> make_logger(const log_config& cfg);

}  // namespace webhookd
