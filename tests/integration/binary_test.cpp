// The webhookd executable: command line, start-up refusals, signals and exit codes.

#include <signal.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

#include "store/sqlite.hpp"
#include "support/daemon_fixture.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/test_server.hpp"
#include "support/temp_dir.hpp"
#include "webhookd/version.hpp"

namespace webhookd {
namespace {

using test::process;
using test::port_from_log;
using test::write_config;

TEST(binary, version_and_help) {
    auto [code, out] = process::run({WEBHOOKD_BINARY, "--version"});
    EXPECT_EQ(code, 0);
    EXPECT_EQ(out, std::string("webhookd ") + version + "\n");
    auto [hcode, hout] = process::run({WEBHOOKD_BINARY, "--help"});
    EXPECT_EQ(hcode, 0);
    EXPECT_NE(hout.find("--check-config"), std::string::npos);
    auto [bcode, bout] = process::run({WEBHOOKD_BINARY, "--bogus"});
    EXPECT_EQ(bcode, 2);
    EXPECT_NE(bout.find("--bogus"), std::string::npos);
}

TEST(binary, check_config_prints_the_effective_config_or_names_the_bad_key) {
    auto [code, out] = process::run({WEBHOOKD_BINARY, "--check-config", WEBHOOKD_SOURCE_DIR "/config/webhookd.json"});
    ASSERT_EQ(code, 0) << out;
    auto j = nlohmann::json::parse(out);
    EXPECT_EQ(j["ingest"]["listen"], "127.0.0.1:8080");
    EXPECT_EQ(j["storage"]["synchronous"], "full");

    test::temp_dir dir;
    auto bad = write_config(dir, R"(, "retry": {"schedule": ["0s", "soon"]})");
    auto [bcode, bout] = process::run({WEBHOOKD_BINARY, "--check-config", bad});
    EXPECT_EQ(bcode, 2);
    EXPECT_NE(bout.find("retry.schedule[1]"), std::string::npos) << bout;
    EXPECT_NE(bout.find("soon"), std::string::npos) << bout;
}

TEST(binary, a_public_listener_without_a_token_refuses_to_start) {
    test::temp_dir dir;
    auto path = dir.file("c.json");
    std::ofstream(path) << R"({"ingest": {"listen": "0.0.0.0:0"}})";
    auto [code, out] = process::run({WEBHOOKD_BINARY, "--config", path});
    EXPECT_EQ(code, 2);
    EXPECT_NE(out.find("WEBHOOKD_INGEST_TOKEN"), std::string::npos) << out;
}

TEST(binary, sigterm_drains_and_exits_zero_with_events_on_disk) {
    test::temp_dir dir;
    process d({WEBHOOKD_BINARY, "--config", write_config(dir)});
    ASSERT_TRUE(d.wait_for_line("admin listening on")) << d.output();
    auto port = port_from_log(d.output(), "ingest");
    ASSERT_NE(port, 0) << d.output();
    test::http_client c(port);
    for (int i = 0; i < 20; ++i) {
        ASSERT_EQ(c.post("/v1/events", R"({"event":"a.b","data":)" + std::to_string(i) + "}").status, 202);
    }
    d.signal(SIGTERM);
    EXPECT_EQ(d.wait(), 0) << d.output();
    EXPECT_NE(d.output().find("stopped"), std::string::npos);
    EXPECT_EQ(test::query_int(dir.file("webhookd.db"), "SELECT COUNT(*) FROM events"), 20);
}

TEST(binary, a_database_from_a_newer_webhookd_refuses_to_start) {
    test::temp_dir dir;
    {
        sqlite::connection db(dir.file("webhookd.db"));
        db.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);"
                "INSERT INTO schema_migrations VALUES (999, 'from_the_future', 0);");
    }
    auto [code, out] = process::run({WEBHOOKD_BINARY, "--config", write_config(dir)});
    EXPECT_EQ(code, 1);
    EXPECT_NE(out.find("schema version 999"), std::string::npos) << out;
}

TEST(binary, an_unreadable_ca_file_refuses_to_start_with_a_message) {
    test::temp_dir dir;
    auto [code, out] = process::run(
        {WEBHOOKD_BINARY, "--config", write_config(dir, R"(, "delivery": {"ca_file": "/nonexistent/ca.pem"})")});
    EXPECT_EQ(code, 1);
    EXPECT_NE(out.find("ca.pem"), std::string::npos) << out;
}

TEST(binary, a_kill_with_deliveries_in_flight_loses_none_of_them) {
    std::atomic<bool> healthy{false};
    test::test_server receiver([&](test::test_connection& c) {
        while (auto req = c.read_request()) {
            if (!healthy) return c.hold();  // the attempt stays in flight
            if (!c.write("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")) return;
        }
    });
    test::temp_dir dir;
    auto config = write_config(dir, R"(, "delivery": {"allowed_cidrs": ["127.0.0.0/8"], "timeout": "20s"})");
    auto db = dir.file("webhookd.db");
    {
        process d({WEBHOOKD_BINARY, "--config", config});
        ASSERT_TRUE(d.wait_for_line("admin listening on")) << d.output();
        test::add_endpoint(db, {.id = "ep_1", .url = receiver.url()});
        test::http_client c(port_from_log(d.output(), "ingest"));
        for (int i = 0; i < 5; ++i) {
            ASSERT_EQ(c.post("/v1/events", R"({"event":"a.b","data":)" + std::to_string(i) + "}").status, 202);
        }
        ASSERT_EQ(test::wait_for_count(db, "SELECT COUNT(*) FROM deliveries WHERE lease_owner IS NOT NULL", 5), 5);
        d.signal(SIGKILL);
        EXPECT_EQ(d.wait(), 128 + SIGKILL);
    }
    EXPECT_EQ(test::query_text(db, "PRAGMA integrity_check"), "ok");
    healthy = true;
    process again({WEBHOOKD_BINARY, "--config", config});
    ASSERT_TRUE(again.wait_for_line("admin listening on")) << again.output();
    EXPECT_EQ(test::wait_for_count(db, "SELECT COUNT(*) FROM deliveries WHERE state = 'delivered'", 5), 5)
        << again.output();
    again.signal(SIGTERM);
    EXPECT_EQ(again.wait(), 0);
}

}  // namespace
}  // namespace webhookd
