#pragma once
// The service manager's notification protocol (sd_notify(3)) without libsystemd: each
// message is one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET, a file path or an
// abstract name written with a leading '@'. With no NOTIFY_SOCKET every send is a no-op, so
// the daemon runs the same outside systemd.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "webhookd/config.hpp"

namespace webhookd {

class service_notifier {
public:
    // Disabled: sends nothing.
    service_notifier() = default;
    // Sends to socket_path ("/run/...", or "@name" for an abstract socket). watchdog is
    // WATCHDOG_USEC: the service manager's deadline between two WATCHDOG=1.
    service_notifier(std::string socket_path, std::optional<duration> watchdog);
    ~service_notifier();

    service_notifier(const service_notifier&) = delete;
    service_notifier& operator=(const service_notifier&) = delete;

    // From NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (the watchdog is ours only when
    // WATCHDOG_PID is unset or names this process). `getenv` is injected for tests.
    static std::unique_ptr<service_notifier> from_environment(const std::function<const char*(const char*)>& getenv);

    bool enabled() const { return !path_.empty(); }

    // How often to send WATCHDOG=1: half the service manager's deadline, as sd_watchdog_enabled(3)
    // advises. nullopt when no watchdog is set for this process.
    std::optional<duration> watchdog_ping_interval() const;

    // Sends one message ("READY=1", "WATCHDOG=1", "STATUS=..."; several may be joined by
    // '\n'). False when disabled or the datagram was not sent. Thread-safe.
    bool send(std::string_view message) const;

private:
    std::string path_;
    std::optional<duration> watchdog_;
    int fd_ = -1;
};

}  // namespace webhookd
