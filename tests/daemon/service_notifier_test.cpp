// sd_notify without libsystemd: what the environment turns on, and datagrams on both kinds
// of socket name.

#include <gtest/gtest.h>

#include <unistd.h>

#include <map>

#include "support/notify_socket.hpp"
#include "support/temp_dir.hpp"
#include "webhookd/service_notifier.hpp"

namespace webhookd {
namespace {

using namespace std::chrono_literals;

std::unique_ptr<service_notifier> from(std::map<std::string, std::string> env) {
    return service_notifier::from_environment([&](const char* name) -> const char* {
        auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
    });
}

TEST(service_notifier, without_notify_socket_nothing_is_enabled_or_sent) {
    auto n = from({{"WATCHDOG_USEC", "30000000"}});
    EXPECT_FALSE(n->enabled());
    EXPECT_FALSE(n->watchdog_ping_interval());
    EXPECT_FALSE(n->send("READY=1"));
}

TEST(service_notifier, the_watchdog_pings_at_half_its_deadline_only_for_this_process) {
    auto pid = std::to_string(::getpid());
    EXPECT_EQ(from({{"NOTIFY_SOCKET", "@x"}, {"WATCHDOG_USEC", "30000000"}})->watchdog_ping_interval(), 15s);
    EXPECT_EQ(from({{"NOTIFY_SOCKET", "@x"}, {"WATCHDOG_USEC", "30000000"}, {"WATCHDOG_PID", pid}})->watchdog_ping_interval(),
              15s);
    EXPECT_FALSE(from({{"NOTIFY_SOCKET", "@x"}, {"WATCHDOG_USEC", "30000000"}, {"WATCHDOG_PID", "1"}})->watchdog_ping_interval());
    EXPECT_FALSE(from({{"NOTIFY_SOCKET", "@x"}, {"WATCHDOG_USEC", "soon"}})->watchdog_ping_interval());
    EXPECT_FALSE(from({{"NOTIFY_SOCKET", "@x"}, {"WATCHDOG_USEC", "0"}})->watchdog_ping_interval());
    EXPECT_FALSE(from({{"NOTIFY_SOCKET", "@x"}})->watchdog_ping_interval());
    EXPECT_EQ(from({{"NOTIFY_SOCKET", "@x"}, {"WATCHDOG_USEC", "1500"}})->watchdog_ping_interval(), 1ms);
}

TEST(service_notifier, sends_to_a_socket_file) {
    test::temp_dir dir;
    test::notify_socket manager(dir.file("notify.sock"));
    auto n = from({{"NOTIFY_SOCKET", manager.name()}});
    ASSERT_TRUE(n->enabled());
    EXPECT_TRUE(n->send("READY=1\nSTATUS=serving"));
    EXPECT_EQ(manager.receive(1000), "READY=1\nSTATUS=serving");
}

TEST(service_notifier, sends_to_an_abstract_socket) {
    test::notify_socket manager("@webhookd-test-" + std::to_string(::getpid()));
    auto n = from({{"NOTIFY_SOCKET", manager.name()}});
    EXPECT_TRUE(n->send("WATCHDOG=1"));
    EXPECT_EQ(manager.receive(1000), "WATCHDOG=1");
}

TEST(service_notifier, a_missing_socket_fails_the_send_and_nothing_else) {
    test::temp_dir dir;
    auto n = from({{"NOTIFY_SOCKET", dir.file("nobody-listens.sock")}});
    EXPECT_TRUE(n->enabled());
    EXPECT_FALSE(n->send("READY=1"));
}

}  // namespace
}  // namespace webhookd
