#pragma once
// A throwaway PostgreSQL server for tests: initdb into a fresh temporary directory, then
// postgres on a Unix socket in that directory only (no TCP port), as the `postgres` system
// user when the tests run as root (PostgreSQL refuses root). Stopped at destruction.
// Durability settings are off (fsync, full_page_writes): these tests kill webhookd, not
// the server, and a clean stop still writes everything.

#include <string>
#include <string_view>

#include "support/temp_dir.hpp"

namespace webhookd::test {

class pg_server {
public:
    // Throws std::runtime_error naming what failed (not installed, initdb, start).
    pg_server();
    ~pg_server();
    pg_server(const pg_server&) = delete;
    pg_server& operator=(const pg_server&) = delete;

    // A libpq URI for database `db` over the server's socket, as its superuser.
    std::string url(std::string_view db = "postgres") const;
    // Creates a new empty database and returns its URI.
    std::string create_database();
    // Stops the server (fast shutdown: connections are cut) and starts it again on the
    // same data and socket. Throws std::runtime_error when it does not come back.
    void restart();
    void stop();
    void start();

    // One server for the whole test process, started at the first call and stopped at exit;
    // null when PostgreSQL is not installed (the caller skips). Tests that stop or restart
    // a server start their own.
    static pg_server* shared();

    // The directory of PostgreSQL's server programs (initdb, pg_ctl), or "" when none is
    // installed (tests then skip).
    static std::string bindir();

private:
    // argv run to completion as the server's user; throws with the output on failure.
    std::string run(std::vector<std::string> argv) const;

    temp_dir dir_;
    std::string bin_;
    std::string data_;
    bool running_ = false;
    int databases_ = 0;
};

}  // namespace webhookd::test
