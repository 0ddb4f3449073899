#include "store/reader.hpp"

#include <pthread.h>

namespace webhookd {

reader::reader(std::unique_ptr<outbox_store> store, std::size_t queue_limit)
    : store_(std::move(store)), queue_limit_(queue_limit), thread_([this] {
          pthread_setname_np(pthread_self(), "wh-reader");
          run();
      }) {}

reader::~reader() { stop(); }

bool reader::submit(std::function<void(outbox_store&)> job) {
    {
        std::lock_guard lock(mu_);
        if (stopping_ || queue_.size() >= queue_limit_) return false;
        queue_.push_back(std::move(job));
    }
    cv_.notify_one();
    return true;
}

void reader::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
}

void reader::run() {
    for (;;) {
        std::function<void(outbox_store&)> job;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;
            job = std::move(queue_.front());
            queue_.pop_front();
        }
        job(*store_);
    }
}

}  // namespace webhookd
