#include "support/pg_server.hpp"

#include <memory>

#include <pwd.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>
#include <vector>

#include "support/process.hpp"

namespace webhookd::test {

namespace fs = std::filesystem;

std::string pg_server::bindir() {
    std::string best;
    std::error_code ec;
    for (const auto& d : fs::directory_iterator("/usr/lib/postgresql", ec)) {
        auto bin = d.path() / "bin";
        if (fs::exists(bin / "initdb") && fs::exists(bin / "pg_ctl") && bin.string() > best) best = bin.string();
    }
    return best;
}

std::string pg_server::run(std::vector<std::string> argv) const {
    if (geteuid() == 0) {
        // setpriv execs the program itself (no session, no fork), so signals reach it.
        argv.insert(argv.begin(), {"/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups", "--"});
    }
    auto [code, output] = process::run(argv, 60000);
    if (code != 0) throw std::runtime_error(argv.front() + " failed (" + std::to_string(code) + "): " + output);
    return output;
}

pg_server::pg_server() : bin_(bindir()) {
    if (bin_.empty()) throw std::runtime_error("PostgreSQL is not installed (apt-get install postgresql)");
    if (geteuid() == 0) {
        auto* pw = getpwnam("postgres");
        if (!pw) throw std::runtime_error("running as root, but there is no postgres user to run the server as");
        if (chown(dir_.path().c_str(), pw->pw_uid, pw->pw_gid) != 0) {
            throw std::runtime_error("chown " + dir_.path().string());
        }
    }
    data_ = dir_.file("data");
    run({bin_ + "/initdb", "-D", data_, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"});
    start();
}

pg_server* pg_server::shared() {
    static std::unique_ptr<pg_server> server = bindir().empty() ? nullptr : std::make_unique<pg_server>();
    return server.get();
}

pg_server::~pg_server() {
    try {
        stop();
    } catch (const std::exception&) {
        // The directory goes with dir_; a server that would not stop is killed by its
        // postmaster.pid disappearing at its next check.
    }
}

void pg_server::start() {
    // No autovacuum: its ANALYZE takes a transaction id, and a transaction running during a
    // scan makes the next scan read its changes again (a test of a quiet scan would flake).
    run({bin_ + "/pg_ctl", "-D", data_, "-l", dir_.file("server.log"), "-w", "-t", "30", "-o",
         "-k " + dir_.path().string() + " -c listen_addresses='' -c fsync=off -c full_page_writes=off "
         "-c max_connections=200 -c autovacuum=off",
         "start"});
    running_ = true;
}

void pg_server::stop() {
    if (!running_) return;
    running_ = false;
    run({bin_ + "/pg_ctl", "-D", data_, "-m", "fast", "-w", "-t", "30", "stop"});
}

void pg_server::restart() {
    stop();
    start();
}

std::string pg_server::url(std::string_view db) const {
    return "postgresql:///" + std::string(db) + "?host=" + dir_.path().string() + "&user=postgres";
}

std::string pg_server::create_database() {
    auto name = "test_" + std::to_string(++databases_);
    run({bin_ + "/createdb", "-h", dir_.path().string(), "-U", "postgres", name});
    return url(name);
}

}  // namespace webhookd::test
