#pragma once
// The retention sweep: every `interval`, deletes dead letters older than
// dead_letter_retention and delivered deliveries older than delivered_retention (with
// their attempts, and their events once nothing refers to them). It deletes in batches,
// one write unit each, so ingest and delivery keep their turn at the writer between them.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <memory>

#include "webhookd/clock.hpp"
#include "webhookd/config.hpp"

namespace spdlog {
class logger;
}

namespace webhookd {

class writer;

class retention_sweeper : public std::enable_shared_from_this<retention_sweeper> {
public:
    static constexpr std::size_t batch = 1000;

    retention_sweeper(boost::asio::io_context& ioc, writer& writer, const clock& clock,
                      duration interval, duration dead_letter_retention, duration delivered_retention,
                      std::shared_ptr<spdlog::logger> log);

    // Sweeps now, then every interval.
    void start();
    // Thread-safe.
    void stop();

private:
    void sweep(bool dead_letters);
    void schedule();

    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    boost::asio::steady_timer timer_;
    writer& writer_;
    const clock& clock_;
    duration interval_;
    duration dead_letter_retention_;
    duration delivered_retention_;
    std::shared_ptr<spdlog::logger> log_;
    bool stopped_ = false;
};

}  // namespace webhookd
