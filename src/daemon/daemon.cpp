#include "webhookd/daemon.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <spdlog/spdlog.h>

#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "admin/admin_service.hpp"
#include "daemon/health.hpp"
#include "delivery/address_guard.hpp"
#include "delivery/delivery_client.hpp"
#include "delivery/dispatcher.hpp"
#include "http/listener.hpp"
#include "http/router.hpp"
#include "ingest/ingest_service.hpp"
#include "metrics/metrics.hpp"
#include "store/reader.hpp"
#include "store/retention_sweeper.hpp"
#include "store/secret_box.hpp"
#include "store/open_outbox.hpp"
#include "store/writer.hpp"
#include "util/ids.hpp"
#include "util/redact_url.hpp"
#include "webhookd/service_notifier.hpp"
#include "webhookd/version.hpp"

namespace webhookd {

namespace asio = boost::asio;

namespace {

// This process's name as a lease owner among the instances sharing an outbox: the host,
// the process, and a fresh id, so that a restarted instance never takes its predecessor's
// leases for its own.
std::string instance_name() {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    return std::string(host) + "/" + std::to_string(getpid()) + "/" + new_id("inst", std::chrono::system_clock::now());
}

}  // namespace

struct daemon::impl {
    impl(config c, std::shared_ptr<spdlog::logger> l, const clock& k, const service_notifier* n)
        : cfg(std::move(c)),
          log(std::move(l)),
          clk(k),
          notifier(n ? *n : no_notifier),
          work(asio::make_work_guard(ioc)),
          signals(ioc),
          ingest_router(cfg.ingest.tokens),
          admin_router(cfg.admin.tokens) {}

    status start();
    void stop();
    void on_signal(boost::system::error_code ec, int sig);
    // Waits (blocking) for the writer to commit a probe: the database takes writes.
    status wait_until_writable();

    config cfg;
    std::shared_ptr<spdlog::logger> log;
    const clock& clk;
    service_notifier no_notifier;
    const service_notifier& notifier;
    asio::io_context ioc;
    asio::executor_work_guard<asio::io_context::executor_type> work;
    asio::signal_set signals;
    metrics stats;
    std::unique_ptr<outbox_store> store;
    std::unique_ptr<writer> db_writer;
    std::unique_ptr<reader> db_reader;
    std::unique_ptr<admin_service> admin;
    std::unique_ptr<ingest_service> ingest;
    std::unique_ptr<delivery_client> client;
    std::shared_ptr<dispatcher> dispatch;
    std::shared_ptr<retention_sweeper> sweeper;
    std::shared_ptr<health_service> health;
    http::router ingest_router;
    http::router admin_router;
    std::shared_ptr<http::listener> ingest_listener;
    std::shared_ptr<http::listener> admin_listener;
    std::vector<std::thread> threads;

    std::mutex mu;  // guards stop_requested, stopped
    std::condition_variable cv;
    bool stop_requested = false;
    bool stopped = false;
};

status daemon::impl::start() {
    const bool postgres = cfg.storage.backend == storage_backend::postgres;
    // Where the outbox is, for the log: never a password of storage.url.
    const std::string database = postgres ? "postgres " + redact_url(cfg.storage.url) : cfg.storage.path;
    if (!postgres && cfg.storage.synchronous != sync_mode::full && cfg.storage.synchronous != sync_mode::extra) {
        log->warn("storage.synchronous is {}: an acknowledged event can be lost on power failure",
                  to_string(cfg.storage.synchronous));
    }
    std::shared_ptr<const secret_box> secrets;
    if (cfg.storage.secret_key_file.empty()) {
        log->warn("storage.secret_key_file is not set: endpoint signing secrets are stored in clear in {}", database);
    } else {
        auto key = load_secret_key(cfg.storage.secret_key_file);
        if (!key) return key.err();
        secrets = std::make_shared<const secret_box>(*key);
    }
    auto opened = open_outbox(cfg.storage, secrets);
    if (!opened) return opened.err();
    store = std::move(opened->writer);
    if (opened->sealed > 0) {
        log->info("encrypted {} endpoint secret(s) stored in clear with the key of storage.secret_key_file",
                  opened->sealed);
    }
    db_reader = std::make_unique<reader>(std::move(opened->reader), 256);

    db_writer = std::make_unique<writer>(*store, clk, cfg.ingest.queue_limit, 4096, [this](std::size_t n) {
        stats.writer_group_size.observe(static_cast<double>(n));
    });
    delivery_client_options client_options;
    client_options.timeout = cfg.delivery.timeout;
    client_options.extra_ca_file = cfg.delivery.ca_file;
    client_options.dangerous_skip_tls_verify = cfg.delivery.dangerous_skip_tls_verify;
    client_options.user_agent = std::string("webhookd/") + version;
    // Keep as many connections to an origin as attempts may run at once against it: a
    // smaller pool closed and reopened most connections of every busy burst. That is every
    // attempt in flight, not one endpoint's share: thousands of tenants' endpoints may be
    // one receiver.
    client_options.max_idle_per_host = cfg.delivery.max_in_flight;
    client_options.allowed_cidrs = cfg.delivery.allowed_cidrs;
    try {
        client = std::make_unique<delivery_client>(ioc, std::move(client_options), log);
    } catch (const std::exception& e) {  // an unreadable delivery.ca_file
        return error{error_code::invalid_config, std::string("delivery: ") + e.what()};
    }

    dispatcher_options dispatch_options;
    dispatch_options.max_in_flight = cfg.delivery.max_in_flight;
    dispatch_options.max_in_flight_per_endpoint = cfg.delivery.max_in_flight_per_endpoint;
    dispatch_options.attempt_timeout = cfg.delivery.timeout;
    // The lease outlasts the attempt by a margin for recording its outcome: as long as the
    // attempt may take, between 5 and 30 s. After a crash (or, over PostgreSQL, for an
    // instance that died) the deliveries it held are due again when it ends.
    dispatch_options.lease =
        cfg.delivery.timeout + std::clamp<duration>(cfg.delivery.timeout, std::chrono::seconds(5), std::chrono::seconds(30));
    dispatch_options.tls_unverified = cfg.delivery.dangerous_skip_tls_verify;
    dispatch_options.health.disable_after_ms = cfg.endpoints.disable_after.count();
    dispatch_options.health.failing_after = static_cast<std::int64_t>(cfg.endpoints.failing_after);
    if (postgres) {
        // Other instances share the outbox: their leases are theirs until they expire, so
        // this instance's leases need a name of their own, and nothing is released at
        // start-up; their admin changes reach this dispatcher at its next scan.
        dispatch_options.owner = instance_name();
        dispatch_options.release_leases_at_start = false;
        dispatch_options.rescan_interval = std::chrono::seconds(1);
    }
    dispatch = std::make_shared<dispatcher>(ioc, *db_writer, *client, retry_policy(cfg.retry.schedule, cfg.retry.jitter),
                                            clk, stats, dispatch_options, log);
    sweeper = std::make_shared<retention_sweeper>(ioc, *db_writer, clk, cfg.dead_letter.purge_interval,
                                                  cfg.dead_letter.retention, cfg.storage.delivered_retention, log);

    ingest = std::make_unique<ingest_service>(ioc, cfg.ingest, cfg.retry.schedule.front(), *db_writer, stats, clk, log);
    ingest->on_deliveries([d = dispatch](std::vector<endpoint_ref> endpoints, std::int64_t due_ms) {
        d->notify_due(std::move(endpoints), due_ms);
    });
    ingest->register_routes(ingest_router);
    health = std::make_shared<health_service>(ioc, *db_writer, *db_reader, stats, log);
    health->register_routes(ingest_router);
    health->register_routes(admin_router);
    admin = std::make_unique<admin_service>(ioc, cfg, *db_writer, *db_reader, dispatch, *client, stats, clk, log);
    admin->register_routes(admin_router);

    ingest_listener = std::make_shared<http::listener>(ioc, cfg.ingest, "ingest", ingest_router, log);
    admin_listener = std::make_shared<http::listener>(ioc, cfg.admin, "admin", admin_router, log);
    if (auto s = ingest_listener->bind(); !s) return s;
    if (auto s = admin_listener->bind(); !s) return s;
    ingest_listener->start();
    admin_listener->start();

    signals.add(SIGINT);
    signals.add(SIGTERM);
    signals.add(SIGHUP);
    signals.async_wait([this](boost::system::error_code ec, int sig) { on_signal(ec, sig); });
    dispatch->start();
    sweeper->start();
    for (std::size_t i = 0; i < cfg.io_threads; ++i) {
        threads.emplace_back([this] {
            pthread_setname_np(pthread_self(), "wh-io");
            ioc.run();
        });
    }
    // Ready means serving: the schema is migrated, both listeners are bound, and a write
    // commits.
    if (auto s = wait_until_writable(); !s) return s;
    notifier.send("READY=1\nSTATUS=serving");
    health->supervise(notifier, *dispatch);
    log->info("webhookd {} started: database {}, schema ready", version, database);
    return ok_v;
}

status daemon::impl::wait_until_writable() {
    auto answered = std::make_shared<std::promise<status>>();
    auto outcome = answered->get_future();
    health->probe(cfg.storage.busy_timeout + std::chrono::seconds(5),
                  [answered](const status& s) { answered->set_value(s); });
    return outcome.get();
}

void daemon::impl::on_signal(boost::system::error_code ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
        if (cfg.log.file.empty()) {
            log->info("SIGHUP: logging to stderr, no log.file to reopen");
        } else if (auto s = reopen_log_files(*log); !s) {
            log->error("SIGHUP: {}", s.err().message);
        } else {
            log->info("SIGHUP: log file reopened");
        }
        signals.async_wait([this](boost::system::error_code e, int n) { on_signal(e, n); });
        return;
    }
    log->info("signal {} received, draining", sig);
    std::lock_guard lock(mu);
    stop_requested = true;
    cv.notify_all();
}

void daemon::impl::stop() {
    {
        std::lock_guard lock(mu);
        if (stopped) return;
        stopped = true;
        stop_requested = true;
        cv.notify_all();
    }
    notifier.send("STOPPING=1\nSTATUS=draining");
    // /readyz answers 503 first; for drain_delay both listeners still serve as before, so
    // that a load balancer that polls /readyz stops sending before connections are refused.
    if (health) health->begin_drain();
    if (cfg.drain_delay.count() > 0 && !threads.empty()) {
        log->info("draining: /readyz answers 503; listeners stop in {} ms (drain_delay)", cfg.drain_delay.count());
        std::this_thread::sleep_for(cfg.drain_delay);
    }
    if (ingest) ingest->begin_drain();
    for (auto* l : {ingest_listener.get(), admin_listener.get()}) {
        if (l) l->stop();
    }
    // Requests already read get their answers; the writer keeps committing meanwhile.
    auto deadline = std::chrono::steady_clock::now() + cfg.shutdown_timeout;
    auto open = [&] {
        return (ingest_listener ? ingest_listener->connections() : 0) +
               (admin_listener ? admin_listener->connections() : 0);
    };
    while (!threads.empty() && open() > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (open() > 0) log->warn("{} connection(s) still open at the drain deadline", open());
    // Attempts in flight finish (each bounded by delivery.timeout) and are recorded; what
    // is still out at the deadline stays leased and is due again at the next start.
    if (sweeper) sweeper->stop();
    if (dispatch) {
        dispatch->stop();
        while (!threads.empty() && !dispatch->idle() && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        if (!dispatch->idle()) log->warn("attempts still in flight at the drain deadline; they are retried at the next start");
    }
    if (health) health->stop();
    if (db_writer) db_writer->stop();
    if (db_reader) db_reader->stop();
    boost::system::error_code ignored;
    signals.cancel(ignored);
    work.reset();
    ioc.stop();
    for (auto& t : threads) t.join();
    threads.clear();
    log->info("webhookd stopped");
}

daemon::daemon(config cfg, std::shared_ptr<spdlog::logger> log, const clock& clock, const service_notifier* notifier)
    : impl_(std::make_unique<impl>(std::move(cfg), std::move(log), clock, notifier)) {}

daemon::~daemon() { stop(); }

status daemon::start() {
    auto s = impl_->start();
    if (!s) stop();
    return s;
}

void daemon::wait_for_signal() {
    {
        std::unique_lock lock(impl_->mu);
        impl_->cv.wait(lock, [&] { return impl_->stop_requested; });
    }
    stop();
}

void daemon::stop() { impl_->stop(); }

unsigned short daemon::ingest_port() const { return impl_->ingest_listener->port(); }
unsigned short daemon::admin_port() const { return impl_->admin_listener->port(); }

std::vector<std::string> daemon::routes() const {
    std::vector<std::string> out;
    for (const auto* r : {&impl_->ingest_router, &impl_->admin_router}) {
        for (const auto& route : r->routes()) out.push_back(std::string(http::beast_http::to_string(route.method)) + " " + route.pattern);
    }
    return out;
}

}  // namespace webhookd
