#pragma once
// The service manager's end of sd_notify, for tests: a datagram socket bound to a file path
// or to an abstract name ("@..."), which collects what the daemon sends.

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace webhookd::test {

class notify_socket {
public:
    explicit notify_socket(std::string name) : name_(std::move(name)) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (fd_ < 0 || name_.size() >= sizeof addr.sun_path) throw std::runtime_error("notify socket");
        std::memcpy(addr.sun_path, name_.data(), name_.size());
        bool abstract = name_.front() == '@';
        if (abstract) addr.sun_path[0] = '\0';
        auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size() + (abstract ? 0 : 1));
        if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), len) != 0) throw std::runtime_error("bind notify socket");
    }
    ~notify_socket() {
        ::close(fd_);
        if (name_.front() != '@') ::unlink(name_.c_str());
    }
    notify_socket(const notify_socket&) = delete;
    notify_socket& operator=(const notify_socket&) = delete;

    const std::string& name() const { return name_; }

    // The next datagram, or "" after timeout_ms.
    std::string receive(int timeout_ms) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0) return "";
        char buf[4096];
        auto n = ::recv(fd_, buf, sizeof buf, 0);
        if (n <= 0) return "";
        std::string m(buf, static_cast<std::size_t>(n));
        received_.push_back(m);
        return m;
    }

    // Receives until a datagram containing `needle` (true) or timeout_ms (false).
    bool wait_for(const std::string& needle, int timeout_ms) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            if (receive(static_cast<int>(left.count())).find(needle) != std::string::npos) return true;
        }
    }

    // How many datagrams containing `needle` arrive within timeout_ms.
    int count_for(const std::string& needle, int timeout_ms) {
        int n = 0;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return n;
            if (receive(static_cast<int>(left.count())).find(needle) != std::string::npos) ++n;
        }
    }

    // Everything received so far, one datagram per line.
    std::string transcript() const {
        std::string out;
        for (const auto& m : received_) out += "[" + m + "]\n";
        return out;
    }

private:
    std::string name_;
    int fd_ = -1;
    std::vector<std::string> received_;
};

}  // namespace webhookd::test
