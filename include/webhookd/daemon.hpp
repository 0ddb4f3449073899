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

class service_notifier;

class daemon {
public:
    // The clock must outlive the daemon, and so must the notifier when given: then the daemon
    // tells the service manager READY=1 when it serves, STOPPING=1 when it drains, pings its
    // watchdog while the writer and the dispatcher make progress, and sends STATUS= lines.
    daemon(config cfg, std::shared_ptr<spdlog::logger> log, const clock& clock,
           const service_notifier* notifier = nullptr);
    ~daemon();  // stop()s

    daemon(const daemon&) = delete;
    daemon& operator=(const daemon&) = delete;

    // Opens and migrates the database, binds both listeners and starts the threads.
    // Returns the first failure (nothing keeps running then).
    status start();

    // Blocks until SIGTERM or SIGINT (or stop() from another thread), then drains. SIGHUP
    // meanwhile reopens log.file.
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

// A logger for the daemon: text or JSON lines at the given level, on stderr or appended to
// log.file (an error when it cannot be opened).
result<std::shared_ptr<spdlog::logger>> make_logger(const log_config& cfg);

// Reopens the logger's log.file at its path (after logrotate moved it; SIGHUP). On failure
// the old file stays in use.
status reopen_log_files(spdlog::logger& log);

}  // namespace webhookd
