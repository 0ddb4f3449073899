#include "webhookd/service_notifier.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstddef>
#include <cstring>
#include <memory>

namespace webhookd {

service_notifier::service_notifier(std::string socket_path, std::optional<duration> watchdog)
    : path_(std::move(socket_path)), watchdog_(watchdog) {
    if (path_.empty()) return;
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

service_notifier::~service_notifier() {
    if (fd_ >= 0) ::close(fd_);
}

std::unique_ptr<service_notifier> service_notifier::from_environment(
    const std::function<const char*(const char*)>& getenv) {
    const char* socket = getenv("NOTIFY_SOCKET");
    if (!socket || !*socket) return std::make_unique<service_notifier>();
    std::optional<duration> watchdog;
    const char* usec = getenv("WATCHDOG_USEC");
    const char* pid = getenv("WATCHDOG_PID");
    long long watchdog_pid = 0;
    bool ours = !pid || (std::from_chars(pid, pid + std::strlen(pid), watchdog_pid).ec == std::errc() &&
                         watchdog_pid == static_cast<long long>(::getpid()));
    unsigned long long us = 0;
    if (usec && ours && std::from_chars(usec, usec + std::strlen(usec), us).ec == std::errc() && us > 0) {
        watchdog = std::chrono::duration_cast<duration>(std::chrono::microseconds(us));
        if (watchdog->count() == 0) watchdog = duration(1);
    }
    return std::make_unique<service_notifier>(socket, watchdog);
}

std::optional<duration> service_notifier::watchdog_ping_interval() const {
    if (!watchdog_) return std::nullopt;
    return std::max(duration(1), *watchdog_ / 2);
}

bool service_notifier::send(std::string_view message) const {
    if (fd_ < 0) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof addr.sun_path) return false;
    std::memcpy(addr.sun_path, path_.data(), path_.size());
    if (path_.front() == '@') addr.sun_path[0] = '\0';  // abstract namespace: no trailing NUL
    auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path_.size() + (path_.front() == '@' ? 0 : 1));
    auto sent = ::sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), len);
    return sent == static_cast<ssize_t>(message.size());
}

}  // namespace webhookd
