#include "store/writer.hpp"

#include <pthread.h>

#include <vector>

namespace webhookd {

writer::writer(outbox_store& store, const clock& clock, std::size_t queue_limit, std::size_t max_group,
               std::function<void(std::size_t)> on_group)
    : store_(store),
      clock_(clock),
      queue_limit_(queue_limit),
      max_group_(max_group),
      on_group_(std::move(on_group)),
      thread_([this] {
          pthread_setname_np(pthread_self(), "wh-writer");  // for top -H, perf and /proc
          run();
      }) {}

writer::~writer() { stop(); }

bool writer::submit(std::shared_ptr<write_unit> unit) {
    {
        std::lock_guard lock(mu_);
        std::size_t w = unit->weight();
        // An empty queue takes any unit, so one batch larger than the limit still fits.
        if (stopping_ || (weight_ > 0 && weight_ + w > queue_limit_)) return false;
        weight_ += w;
        queue_.push_back(std::move(unit));
    }
    cv_.notify_one();
    return true;
}

void writer::stop() {
    {
        std::lock_guard lock(mu_);
        if (stopping_ && !thread_.joinable()) return;
        stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
}

std::size_t writer::queued_weight() const {
    std::lock_guard lock(mu_);
    return weight_;
}

void writer::run() {
    std::vector<std::shared_ptr<write_unit>> group;
    std::vector<write_unit*> raw;
    for (;;) {
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, and everything is committed
            while (!queue_.empty() && group.size() < max_group_) {
                weight_ -= queue_.front()->weight();
                group.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        raw.clear();
        for (auto& u : group) raw.push_back(u.get());
        store_.write_group(raw, clock_.now_ms());
        if (on_group_) on_group_(group.size());
        group.clear();
    }
}

}  // namespace webhookd
