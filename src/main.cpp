// webhookd: the webhook delivery daemon. See README.md and docs/.
#include <malloc.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string_view>

#include "webhookd/config.hpp"
#include "webhookd/daemon.hpp"
#include "webhookd/service_notifier.hpp"
#include "webhookd/version.hpp"

namespace {

constexpr std::string_view usage = R"(usage: webhookd [--config PATH]
       webhookd --check-config PATH
       webhookd --version | --help

Runs the webhook delivery daemon. Without --config every key has its default: ingest on
127.0.0.1:8080, admin on 127.0.0.1:8081, database ./webhookd.db.
Environment: WEBHOOKD_INGEST_TOKEN, WEBHOOKD_ADMIN_TOKEN, SPDLOG_LEVEL; under systemd
(Type=notify) NOTIFY_SOCKET and WATCHDOG_USEC. Signals: SIGTERM/SIGINT drain and exit 0,
SIGHUP reopens log.file.
)";

webhookd::result<webhookd::config> configure(const std::optional<std::string>& path) {
    auto cfg = path ? webhookd::load_config(*path) : webhookd::result<webhookd::config>(webhookd::config{});
    if (!cfg) return cfg;
    webhookd::apply_environment(*cfg, [](const char* name) { return std::getenv(name); });
    if (auto s = webhookd::validate(*cfg); !s) return s.err();
    return cfg;
}

}  // namespace

int main(int argc, char** argv) {
    // Request bodies up to ingest.max_body come and go. With glibc's default, the mmap
    // threshold rises to the largest block freed so far, after which such bodies live on the
    // heap, whose freed space is not given back: a stream of refused 1 MiB bodies would
    // leave the peak RSS several MiB up. A fixed threshold keeps every large body mmapped,
    // returned to the system when freed.
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    std::optional<std::string> path;
    bool check_only = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view arg = argv[i];
        if (arg == "--version") {
            std::cout << "webhookd " << webhookd::version << "\n";
            return 0;
        }
        if (arg == "--help" || arg == "-h") {
            std::cout << usage;
            return 0;
        }
        if ((arg == "--config" || arg == "--check-config") && i + 1 < argc) {
            check_only = check_only || arg == "--check-config";
            path = argv[++i];
            continue;
        }
        std::cerr << "webhookd: unknown argument: " << arg << "\n" << usage;
        return 2;
    }

    auto cfg = configure(path);
    if (!cfg) {
        std::cerr << "webhookd: " << cfg.err().message << "\n";
        return 2;
    }
    if (check_only) {
        std::cout << webhookd::to_json(*cfg) << "\n";
        return 0;
    }

    auto log = webhookd::make_logger(cfg->log);
    if (!log) {
        std::cerr << "webhookd: " << log.err().message << "\n";
        return 2;
    }
    auto notifier = webhookd::service_notifier::from_environment([](const char* name) { return std::getenv(name); });
    webhookd::system_clock clock;
    webhookd::daemon d(std::move(cfg).value(), *log, clock, notifier.get());
    if (auto s = d.start(); !s) {
        (*log)->critical("start-up failed ({}): {}", to_string(s.err().code), s.err().message);
        return 1;
    }
    d.wait_for_signal();
    return 0;
}
