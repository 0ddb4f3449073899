#include "support/process.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string_view>
#include <thread>

namespace webhookd::test {

process::process(std::vector<std::string> argv, std::vector<std::string> env) {
    // Built before fork: the child only calls async-signal-safe functions.
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    for (char** e = environ; *e; ++e) {
        std::string_view entry(*e);
        auto name = entry.substr(0, entry.find('=') + 1);
        bool overridden = false;
        for (const auto& mine : env) overridden = overridden || std::string_view(mine).starts_with(name);
        if (!overridden) envp.push_back(*e);
    }
    envp.push_back(nullptr);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        execve(args[0], args.data(), envp.data());
        _exit(127);
    }
    close(fds[1]);
    fd_ = fds[0];
}

process::~process() {
    if (status_ < 0 && pid_ > 0) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
    }
    if (drain_.joinable()) drain_.join();  // the child is gone: its pipe is at its end
    if (fd_ >= 0) close(fd_);
}

void process::discard_output() {
    if (drain_.joinable()) return;
    drain_ = std::thread([fd = fd_] {
        char buf[4096];
        while (::read(fd, buf, sizeof buf) > 0) {
        }
    });
}

bool process::read_some(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[4096];
    auto n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) return false;
    output_.append(buf, static_cast<std::size_t>(n));
    return true;
}

bool process::wait_for_occurrences(const std::string& needle, std::size_t count, int timeout_ms) {
    auto occurrences = [&] {
        std::size_t n = 0;
        for (auto at = output_.find(needle); at != std::string::npos; at = output_.find(needle, at + 1)) ++n;
        return n;
    };
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (occurrences() < count) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0 || !read_some(static_cast<int>(left.count()))) return false;
    }
    return true;
}

void process::signal(int sig) { kill(pid_, sig); }

int process::wait(int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (status_ < 0) {
        int st = 0;
        if (waitpid(pid_, &st, WNOHANG) == pid_) {
            status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
        if (std::chrono::steady_clock::now() > deadline) return -1;
        read_some(10);
    }
    while (read_some(0)) {
    }
    return status_;
}

std::pair<int, std::string> process::run(std::vector<std::string> argv, int timeout_ms) {
    process p(std::move(argv));
    int code = p.wait(timeout_ms);
    return {code, p.output()};
}

std::string find_program(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::string_view dirs = path ? path : "/usr/bin:/bin";
    while (!dirs.empty()) {
        auto colon = dirs.find(':');
        auto dir = dirs.substr(0, colon);
        auto candidate = std::filesystem::path(dir) / name;
        if (!dir.empty() && access(candidate.c_str(), X_OK) == 0) return candidate.string();
        dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
    }
    return "";
}

std::string write_config(const temp_dir& dir, const std::string& extra, const std::string& storage) {
    auto path = dir.file("webhookd.json");
    std::ofstream(path) << R"({
      "ingest": {"listen": "127.0.0.1:0"},
      "admin": {"listen": "127.0.0.1:0"},
      "storage": {"path": ")" << dir.file("webhookd.db") << "\"" << storage << "}" << extra << "\n}\n";
    return path;
}

unsigned short port_from_log(const std::string& log, const std::string& listener) {
    const std::string marker = listener + " listening on 127.0.0.1:";
    auto at = log.find(marker);
    if (at == std::string::npos) return 0;
    return static_cast<unsigned short>(std::stoi(log.substr(at + marker.size(), 5)));
}

}  // namespace webhookd::test
