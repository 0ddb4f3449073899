#include "admin/admin_service.hpp"

#include "admin/console.hpp"
#include "admin/resources.hpp"

namespace webhookd {

struct admin_service::impl {
    std::shared_ptr<admin::context> ctx;
    console_config console;
};

admin_service::admin_service(boost::asio::io_context& ioc, const config& cfg, writer& writer, reader& reader,
                             std::shared_ptr<dispatcher> dispatcher, delivery_client& client, metrics& metrics,
                             const clock& clock, std::shared_ptr<spdlog::logger> log)
    : impl_(std::make_shared<impl>(impl{std::make_shared<admin::context>(
          ioc, cfg, writer, reader, std::move(dispatcher), client, metrics, clock, std::move(log)),
                                        cfg.admin.console})) {}

admin_service::~admin_service() = default;

void admin_service::register_routes(http::router& r) {
    admin::add_endpoint_routes(r, impl_->ctx);
    admin::add_event_routes(r, impl_->ctx);
    admin::add_delivery_routes(r, impl_->ctx);
    admin::add_tenant_routes(r, impl_->ctx);
    if (impl_->console.enabled) admin::add_console_routes(r, impl_->console);
    r.set_token_resolver([ctx = impl_->ctx](std::string_view token, auto done) {
        return ctx->resolve_token(token, std::move(done));
    });
}

}  // namespace webhookd
