#pragma once
// The admin API (docs/api.md) on the admin listener: endpoints and their
// secrets, test events, events, the delivery log, and dead letters with replay.
//
// Reads go to the reader (a connection of their own); every change goes through the writer,
// so it is committed and fsynced in the group-commit order like any other write, and then
// the dispatcher is told to reload. Mutations are logged with what changed, never a secret.

#include <boost/asio/io_context.hpp>

#include <memory>

#include "http/router.hpp"
#include "webhookd/clock.hpp"
#include "webhookd/config.hpp"

namespace spdlog {
class logger;
}

namespace webhookd {

class writer;
class reader;
class dispatcher;
class delivery_client;
struct metrics;

class admin_service {
public:
    admin_service(boost::asio::io_context& ioc, const config& cfg, writer& writer, reader& reader,
                  std::shared_ptr<dispatcher> dispatcher, delivery_client& client, metrics& metrics,
                  const clock& clock, std::shared_ptr<spdlog::logger> log);
    ~admin_service();

    void register_routes(http::router& r);

private:
    struct impl;
    std::shared_ptr<impl> impl_;
};

}  // namespace webhookd
