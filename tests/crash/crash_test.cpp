// webhookd_crash: kills the real daemon with SIGKILL at random moments while producers post
// events and a real receiver takes deliveries; optionally simulates a power cut after each
// kill (faultfs: the writes since the last fsync are lost, all or a random prefix kept).
// Then it checks what a Jepsen-style queue checker checks:
//   lost        acknowledged events not delivered to every endpoint at the end (must be 0)
//   unexpected  deliveries of ids the producers were never acknowledged for (must be 0;
//               producers resend every unanswered request with the same id until it is
//               acknowledged, so an event stored but unanswered at a crash is acknowledged
//               later, as a duplicate, and counts as acknowledged)
//   missing     acknowledged events absent from the database right after a crash (must be 0)
//   duplicates  deliveries received more than once (allowed: delivery is at-least-once)
// and PRAGMA integrity_check after every round. Exit 0 when every check holds (with
// --expect-loss: when a loss was detected, the negative control for synchronous=normal).
//
// usage: webhookd_crash [--rounds N] [--powerloss] [--keep-none] [--synchronous full|normal]
//                       [--expect-loss] [--seed S] [--producers N] [--endpoints N]
//                       [--run-ms MIN:MAX] [--binary PATH] [--preload PATH] [--verbose]

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/faultfs.hpp"
#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/test_server.hpp"

namespace {

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;
namespace test = webhookd::test;

struct options {
    int rounds = 5;
    bool powerloss = false;
    bool keep_none = false;
    bool expect_loss = false;
    bool verbose = false;
    std::string synchronous = "full";
    std::uint64_t seed = static_cast<std::uint64_t>(clock_type::now().time_since_epoch().count());
    int producers = 4;
    int endpoints = 2;
    int run_min_ms = 100;
    int run_max_ms = 600;
    std::string binary = WEBHOOKD_BINARY;
    std::string preload = WEBHOOKD_FAULTFS_PRELOAD;
};

[[noreturn]] void usage_error(const std::string& what) {
    std::cerr << "webhookd_crash: " << what << "\n"
              << "usage: webhookd_crash [--rounds N] [--powerloss] [--keep-none] [--synchronous full|normal]\n"
                 "                      [--expect-loss] [--seed S] [--producers N] [--endpoints N]\n"
                 "                      [--run-ms MIN:MAX] [--binary PATH] [--preload PATH] [--verbose]\n";
    std::exit(2);
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage_error(a + " needs a value");
            return argv[++i];
        };
        if (a == "--rounds") o.rounds = std::stoi(value());
        else if (a == "--powerloss") o.powerloss = true;
        else if (a == "--keep-none") o.keep_none = true;
        else if (a == "--expect-loss") o.expect_loss = true;
        else if (a == "--verbose") o.verbose = true;
        else if (a == "--synchronous") o.synchronous = value();
        else if (a == "--seed") o.seed = std::stoull(value());
        else if (a == "--producers") o.producers = std::stoi(value());
        else if (a == "--endpoints") o.endpoints = std::stoi(value());
        else if (a == "--binary") o.binary = value();
        else if (a == "--preload") o.preload = value();
        else if (a == "--run-ms") {
            auto v = value();
            auto colon = v.find(':');
            if (colon == std::string::npos) usage_error("--run-ms wants MIN:MAX");
            o.run_min_ms = std::stoi(v.substr(0, colon));
            o.run_max_ms = std::stoi(v.substr(colon + 1));
        } else usage_error("unknown argument " + a);
    }
    if (o.rounds < 1 || o.producers < 1 || o.endpoints < 1 || o.run_min_ms < 0 || o.run_max_ms < o.run_min_ms) {
        usage_error("bad numbers");
    }
    if (o.synchronous != "full" && o.synchronous != "normal") usage_error("--synchronous is full or normal");
    return o;
}

unsigned short free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        throw std::runtime_error("cannot find a free port");
    }
    ::close(fd);
    return ntohs(a.sin_port);
}

// A small read-write connection of our own (the default VFS: faultfs is never installed here).
class database {
public:
    explicit database(const std::string& path) {
        if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
            std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
            sqlite3_close(db_);
            throw std::runtime_error("open " + path + ": " + msg);
        }
        sqlite3_busy_timeout(db_, 5000);
    }
    ~database() { sqlite3_close(db_); }
    database(const database&) = delete;
    database& operator=(const database&) = delete;

    // Every row's first column as text.
    std::vector<std::string> column(const std::string& sql) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
            throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
        }
        std::vector<std::string> out;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            const auto* t = sqlite3_column_text(st, 0);
            out.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) throw std::runtime_error(sql + ": " + sqlite3_errmsg(db_));
        return out;
    }
    long long number(const std::string& sql) { return std::stoll(column(sql).at(0)); }

private:
    sqlite3* db_ = nullptr;
};

// What the receiver saw: for each endpoint path, how often each event id arrived and was
// answered 2xx. The first attempt of one event in 16 is answered 500, so retries (and their
// schedule) live through the crashes too.
class receiver {
public:
    receiver()
        : server_([this](test::test_connection& c) {
              while (auto r = c.read_request()) {
                  auto id = r->header("X-Webhook-Id");
                  bool fail = r->header("X-Webhook-Attempt") == "1" && std::hash<std::string>{}(id) % 16 == 0;
                  if (!fail) {
                      std::lock_guard lock(mu_);
                      ++seen_[r->target][id];
                  }
                  if (!c.write(fail ? "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
                                    : "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")) {
                      return;
                  }
              }
          }) {}
    std::string url(const std::string& path) const { return server_.url(path); }
    std::map<std::string, std::map<std::string, int>> seen() const {
        std::lock_guard lock(mu_);
        return seen_;
    }

private:
    mutable std::mutex mu_;
    std::map<std::string, std::map<std::string, int>> seen_;
    test::test_server server_;
};

// One producer: posts events with its own ids over one keep-alive connection, and resends an
// unanswered one with the same id until it is acknowledged.
class producer {
public:
    producer(int index, unsigned short port) : index_(index), port_(port) {}

    // Until stop_new and everything sent is acknowledged, or at once on abandon (the
    // harness failed and reports).
    void run(const std::atomic<bool>& stop_new, const std::atomic<bool>& abandon) {
        std::unique_ptr<test::http_client> client;
        while ((!stop_new.load() || !unacked_.empty()) && !abandon.load()) {
            if (unacked_.empty()) unacked_.push_back("e" + std::to_string(index_) + "-" + std::to_string(next_++));
            const std::string id = unacked_.front();
            bool retry = retried_.count(id) > 0;
            try {
                if (!client) client = std::make_unique<test::http_client>(port_);
                auto res = client->post("/v1/events", R"({"event":"order.created","id":")" + id +
                                                          R"(","data":{"producer":)" + std::to_string(index_) +
                                                          R"(,"note":"crash test event with a little padding"}})");
                if (res.status == 202 || res.status == 200) {
                    {
                        std::lock_guard lock(mu_);
                        acked_.push_back(id);
                    }
                    unacked_.pop_front();
                    if (retry && res.status == 200) ++stored_unanswered_;
                } else if (res.status == 503) {
                    std::this_thread::sleep_for(2ms);
                } else {
                    errors_.push_back(id + ": HTTP " + std::to_string(res.status) + " " + res.body);
                    unacked_.pop_front();
                }
                if (res.closed) client.reset();
            } catch (const std::exception&) {
                // Refused (daemon down) or cut mid-request: the request may or may not have
                // been stored. Resend the same id once the daemon is back.
                if (client) {
                    if (retried_.insert(id).second) ++unanswered_;
                }
                client.reset();
                std::this_thread::sleep_for(5ms);
            }
        }
    }

    // The ids acknowledged so far; safe to call while run() goes on.
    std::vector<std::string> acked() const {
        std::lock_guard lock(mu_);
        return acked_;
    }
    const std::vector<std::string>& errors() const { return errors_; }
    long unanswered() const { return unanswered_; }
    long stored_unanswered() const { return stored_unanswered_; }

private:
    int index_;
    unsigned short port_;
    long next_ = 0;
    std::deque<std::string> unacked_;
    std::set<std::string> retried_;
    mutable std::mutex mu_;  // guards acked_
    std::vector<std::string> acked_;
    std::vector<std::string> errors_;
    long unanswered_ = 0;         // requests sent without an answer (a crash in between)
    long stored_unanswered_ = 0;  // of them, found stored when resent (200 duplicate)
};

class harness {
public:
    explicit harness(options o) : o_(std::move(o)), rng_(o_.seed) {
        ingest_port_ = free_port();
        admin_port_ = free_port();
        db_ = dir_.file("webhookd.db");
        config_ = dir_.file("webhookd.json");
        std::ofstream(config_) << R"({
  "ingest": {"listen": "127.0.0.1:)" << ingest_port_ << R"("},
  "admin": {"listen": "127.0.0.1:)" << admin_port_ << R"("},
  "storage": {"path": ")" << db_ << R"(", "synchronous": ")" << o_.synchronous << R"("},
  "delivery": {"timeout": "2s", "allowed_cidrs": ["127.0.0.0/8"]},
  "retry": {"schedule": ["0s", "20ms", "50ms", "100ms", "200ms", "500ms", "1s"], "jitter": 0},
  "log": {"level": "warn", "file": ")" << dir_.file("webhookd.log") << R"("}
})";
    }

    int run() {
        std::cout << "webhookd_crash: seed " << o_.seed << ", " << o_.rounds << " rounds, "
                  << (o_.powerloss ? (o_.keep_none ? "power loss (all unsynced writes lost)"
                                                   : "power loss (random prefix of unsynced writes kept)")
                                   : "kill -9")
                  << ", synchronous=" << o_.synchronous << "\n";
        start_daemon();
        for (int e = 0; e < o_.endpoints; ++e) add_endpoint("/endpoint-" + std::to_string(e));
        // Every delivery to a refused port dies; each death has its webhookd.delivery.dead,
        // stored in the same transaction: the two counts match after every crash.
        dead_endpoint_ = create_endpoint(R"({"url": "http://127.0.0.1:9/refused", "events": ["*"]})");
        create_endpoint(R"({"url": ")" + receiver_.url("/operational") + R"(", "events": ["webhookd.delivery.dead"]})");

        std::atomic<bool> stop_new{false}, abandon{false};
        std::vector<std::unique_ptr<producer>> producers;
        std::vector<std::thread> threads;
        for (int i = 0; i < o_.producers; ++i) {
            producers.push_back(std::make_unique<producer>(i, ingest_port_));
            threads.emplace_back([&p = *producers.back(), &stop_new, &abandon] { p.run(stop_new, abandon); });
        }
        try {
            for (int round = 1; round <= o_.rounds; ++round) {
                if (round > 1) start_daemon();
                std::uniform_int_distribution<int> run_ms(o_.run_min_ms, o_.run_max_ms);
                std::this_thread::sleep_for(std::chrono::milliseconds(run_ms(rng_)));
                daemon_->signal(SIGKILL);
                daemon_->wait();
                daemon_.reset();
                if (o_.powerloss) {
                    auto cut = test::faultfs::power_cut(db_, o_.seed + static_cast<std::uint64_t>(round), o_.keep_none);
                    unsynced_ += cut.unsynced;
                    lost_writes_ += cut.lost;
                    torn_ += cut.torn;
                }
                check_round(round, producers);
            }
            start_daemon();
        } catch (...) {
            abandon.store(true);
            for (auto& t : threads) t.join();
            throw;
        }
        stop_new.store(true);
        for (auto& t : threads) t.join();
        bool drained = wait_drained();
        daemon_->signal(SIGTERM);
        int code = daemon_->wait(20000);
        daemon_.reset();
        if (code != 0) failures_.push_back("the daemon exited " + std::to_string(code) + " on SIGTERM");
        if (!drained) failures_.push_back("deliveries still pending after 120 s");
        if (auto ic = integrity(); ic != "ok") failures_.push_back("final integrity_check: " + ic);
        return report(producers);
    }

private:
    void start_daemon() {
        std::vector<std::string> env;
        if (o_.powerloss) {
            env = {"LD_PRELOAD=" + o_.preload, "WEBHOOKD_FAULTFS=undo", "ASAN_OPTIONS=verify_asan_link_order=0"};
        }
        daemon_ = std::make_unique<test::process>(std::vector<std::string>{o_.binary, "--config", config_}, env);
        auto deadline = clock_type::now() + 20s;
        while (clock_type::now() < deadline) {
            try {
                test::http_client probe(ingest_port_);
                if (probe.get("/readyz").status == 200) return;
            } catch (const std::exception&) {
            }
            if (daemon_->wait(10) >= 0) break;  // exited
        }
        throw std::runtime_error("the daemon did not become ready; its output: " + daemon_->output() + "\nlog: " +
                                 test::read_file(dir_.file("webhookd.log")));
    }

    void add_endpoint(const std::string& path) {
        create_endpoint(R"({"url": ")" + receiver_.url(path) + R"(", "events": ["*"]})");
        paths_.push_back(path);
    }
    // Returns the new endpoint's id.
    std::string create_endpoint(const std::string& body) {
        test::http_client admin(admin_port_);
        auto res = admin.post("/v1/endpoints", body);
        if (res.status != 201) throw std::runtime_error("creating an endpoint: HTTP " + std::to_string(res.status) + " " + res.body);
        auto at = res.body.find("\"id\":\"");
        return res.body.substr(at + 6, res.body.find('"', at + 6) - at - 6);
    }

    // Dead letters of producers' events and webhookd.delivery.dead events: always equal.
    void check_dead_reports(database& db, const std::string& when) {
        long dead = db.number(
            "SELECT COUNT(*) FROM dead_letters d JOIN events e ON e.seq = d.event_seq "
            "WHERE e.type NOT LIKE 'webhookd.%'");
        long reports = db.number("SELECT COUNT(*) FROM events WHERE type = 'webhookd.delivery.dead'");
        if (o_.verbose) std::cout << "  " << when << ": " << dead << " dead letters, " << reports << " reported\n";
        if (dead != reports) {
            failures_.push_back(when + ": " + std::to_string(dead) + " dead letters but " + std::to_string(reports) +
                                " webhookd.delivery.dead events");
        }
    }

    std::string integrity() {
        database db(db_);
        auto rows = db.column("PRAGMA integrity_check");
        std::string out;
        for (const auto& r : rows) out += (out.empty() ? "" : "; ") + r;
        return out;
    }

    // Right after a crash (and a power cut): the database is sound and holds every event
    // acknowledged so far. Producers may still be mid-request: only ids they hold as
    // acknowledged are checked, and those were acknowledged before the kill.
    void check_round(int round, const std::vector<std::unique_ptr<producer>>& producers) {
        std::string ic = integrity();
        if (ic != "ok") failures_.push_back("round " + std::to_string(round) + ": integrity_check: " + ic);
        database db(db_);
        std::set<std::string> stored;
        // With synchronous=normal a cut before the first checkpoint can undo the whole
        // schema, tables and all: then nothing is stored, which is a loss like any other.
        if (db.number("SELECT COUNT(*) FROM sqlite_master WHERE name = 'events'") > 0) {
            for (auto& id : db.column("SELECT id FROM events")) stored.insert(std::move(id));
            check_dead_reports(db, "round " + std::to_string(round));
        }
        long missing = 0, acked = 0;
        for (const auto& p : producers) {
            for (const auto& id : p->acked()) {
                ++acked;
                if (!stored.count(id)) {
                    ++missing;
                    missing_.insert(id);
                }
            }
        }
        if (o_.verbose || missing > 0) {
            std::cout << "  round " << round << ": " << acked << " acknowledged, " << stored.size() << " stored, "
                      << missing << " acknowledged but missing, integrity " << ic << "\n";
        }
    }

    bool wait_drained() {
        auto deadline = clock_type::now() + 120s;
        while (clock_type::now() < deadline) {
            database db(db_);
            if (db.number("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'") == 0) return true;
            std::this_thread::sleep_for(50ms);
        }
        return false;
    }

    int report(const std::vector<std::unique_ptr<producer>>& producers) {
        std::set<std::string> acked;
        long unanswered = 0, stored_unanswered = 0;
        for (const auto& p : producers) {
            auto ids = p->acked();
            acked.insert(ids.begin(), ids.end());
            unanswered += p->unanswered();
            stored_unanswered += p->stored_unanswered();
            for (const auto& e : p->errors()) failures_.push_back("producer: " + e);
        }
        auto seen = receiver_.seen();
        long lost = 0, unexpected = 0, duplicates = 0, delivered = 0;
        for (const auto& path : paths_) {
            const auto& got = seen[path];
            for (const auto& id : acked) {
                if (!got.count(id)) ++lost;
            }
            for (const auto& [id, n] : got) {
                delivered += n;
                duplicates += n - 1;
                if (!acked.count(id)) ++unexpected;
            }
        }
        database final_db(db_);
        check_dead_reports(final_db, "at the end");
        auto dead_at = [&](const char* op) {
            return final_db.number("SELECT COUNT(*) FROM dead_letters WHERE endpoint_id " + std::string(op) + " '" +
                                   dead_endpoint_ + "'");
        };
        long dead = dead_at("<>");
        long refused = dead_at("=");
        if (refused == 0 && !o_.expect_loss) {
            // (The negative control loses the endpoints themselves with the rest.)
            failures_.push_back("nothing died at the refused port: the dead-letter check proved nothing");
        }
        std::cout << "rounds " << o_.rounds << ", events acknowledged " << acked.size() << ", requests unanswered at a crash "
                  << unanswered << " (found stored when resent: " << stored_unanswered << ")\n"
                  << "deliveries expected " << acked.size() * paths_.size() << ", received " << delivered
                  << ", duplicates " << duplicates << ", dead letters " << dead
                  << " (at the refused port, each reported: " << refused << ")\n"
                  << "lost " << lost << ", unexpected " << unexpected << ", acknowledged but missing after a crash "
                  << missing_.size() << "\n";
        if (o_.powerloss) {
            std::cout << "power cuts: unsynced writes " << unsynced_ << ", undone " << lost_writes_ << ", torn " << torn_
                      << "\n";
        }
        bool loss = lost > 0 || !missing_.empty();
        if (dead > 0) failures_.push_back(std::to_string(dead) + " dead letters (the receiver fails only first attempts)");
        if (unexpected > 0) failures_.push_back(std::to_string(unexpected) + " unexpected deliveries");
        if (acked.empty()) failures_.push_back("no event was acknowledged: the test proved nothing");
        if (o_.expect_loss) {
            if (!loss) failures_.push_back("expected a loss (negative control) and found none");
        } else if (loss) {
            failures_.push_back("acknowledged events were lost");
        }
        for (const auto& f : failures_) std::cout << "FAIL: " << f << "\n";
        std::cout << (failures_.empty() ? "PASS" : "FAIL") << "\n";
        return failures_.empty() ? 0 : 1;
    }

    options o_;
    std::mt19937_64 rng_;
    test::temp_dir dir_;
    receiver receiver_;
    unsigned short ingest_port_ = 0;
    unsigned short admin_port_ = 0;
    std::string db_;
    std::string config_;
    std::vector<std::string> paths_;
    std::string dead_endpoint_;  // on a refused port: every delivery to it dies
    std::unique_ptr<test::process> daemon_;
    std::vector<std::string> failures_;
    std::set<std::string> missing_;  // acknowledged ids absent after some crash
    std::size_t unsynced_ = 0, lost_writes_ = 0, torn_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
    signal(SIGPIPE, SIG_IGN);
    try {
        return harness(parse(argc, argv)).run();
    } catch (const std::exception& e) {
        std::cerr << "webhookd_crash: " << e.what() << "\n";
        return 1;
    }
}
