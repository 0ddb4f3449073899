#pragma once
// The single writer: one thread that owns the outbox's write connection and commits
// whatever is waiting as one transaction (group commit). Producers submit units from any
// thread; each unit's done() is called on the writer thread after its group committed.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "store/outbox_store.hpp"
#include "webhookd/clock.hpp"

namespace webhookd {

class writer {
public:
    // queue_limit bounds the summed weight() of waiting units. max_group bounds the units
    // of one transaction. on_group (optional) is called on the writer thread after each
    // group with its unit count, for metrics.
    writer(outbox_store& store, const clock& clock, std::size_t queue_limit, std::size_t max_group = 4096,
           std::function<void(std::size_t)> on_group = {});
    ~writer();  // stop()s

    writer(const writer&) = delete;
    writer& operator=(const writer&) = delete;

    // Queues a unit. False (and the unit untouched) when the queue is full or the writer
    // is stopping: the caller answers 503.
    bool submit(std::shared_ptr<write_unit> unit);

    // Stops taking units, commits everything already queued, joins the thread.
    void stop();

    std::size_t queued_weight() const;

private:
    void run();

    outbox_store& store_;
    const clock& clock_;
    const std::size_t queue_limit_;
    const std::size_t max_group_;
    std::function<void(std::size_t)> on_group_;

    mutable std::mutex mu_;  // guards queue_, weight_, stopping_
    std::condition_variable cv_;
    std::deque<std::shared_ptr<write_unit>> queue_;
    std::size_t weight_ = 0;
    bool stopping_ = false;

    std::thread thread_;
};

}  // namespace webhookd
