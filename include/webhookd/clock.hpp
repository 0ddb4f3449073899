#pragma once
// The source of wall-clock time. Everything that schedules or stamps asks a clock, so
// tests can drive time by hand.

#include <atomic>
#include <chrono>
#include <cstdint>

namespace webhookd {

class clock {
public:
    using time_point = std::chrono::system_clock::time_point;
    virtual ~clock() = default;
    virtual time_point now() const = 0;

    // Milliseconds since the Unix epoch: the unit of every time stored in the outbox.
    std::int64_t now_ms() const {
        return std::chrono::duration_cast<std::chrono::milliseconds>(now().time_since_epoch()).count();
    }
};

class system_clock final : public clock {
public:
    time_point now() const override { return std::chrono::system_clock::now(); }
};

// A clock that moves only when told to. Thread-safe.
class manual_clock final : public clock {
public:
    explicit manual_clock(time_point start = time_point(std::chrono::seconds(1745073000)))
        : ms_(std::chrono::duration_cast<std::chrono::milliseconds>(start.time_since_epoch()).count()) {}
    time_point now() const override { return time_point(std::chrono::milliseconds(ms_.load())); }
    void advance(std::chrono::milliseconds d) { ms_ += d.count(); }

private:
    std::atomic<std::int64_t> ms_;
};

}  // namespace webhookd
