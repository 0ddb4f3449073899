#pragma once
// The reader: one thread with a read connection of its own, for the admin API's queries.
// In WAL mode reads never wait for the writer, and the writer's group commits never wait
// for a slow list; both see committed data only.

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "store/outbox_store.hpp"

namespace webhookd {

class reader {
public:
    // queue_limit bounds the jobs waiting; more are refused (the caller answers 503).
    reader(std::unique_ptr<outbox_store> store, std::size_t queue_limit);
    ~reader();  // stop()s

    reader(const reader&) = delete;
    reader& operator=(const reader&) = delete;

    // Runs job on the reader thread. False when the queue is full or the reader stopped.
    bool submit(std::function<void(outbox_store&)> job);

    // Runs the jobs already queued, then joins the thread.
    void stop();

private:
    void run();

    std::unique_ptr<outbox_store> store_;
    const std::size_t queue_limit_;
    std::mutex mu_;  // guards queue_, stopping_
    std::condition_variable cv_;
    std::deque<std::function<void(outbox_store&)>> queue_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace webhookd
