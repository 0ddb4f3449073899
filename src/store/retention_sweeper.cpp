#include "store/retention_sweeper.hpp"

#include <boost/asio/post.hpp>

#include <spdlog/spdlog.h>

#include "store/lambda_unit.hpp"
#include "store/writer.hpp"

namespace webhookd {

namespace asio = boost::asio;

retention_sweeper::retention_sweeper(asio::io_context& ioc, writer& writer, const clock& clock,
                                     duration interval, duration dead_letter_retention, duration delivered_retention,
                                     std::shared_ptr<spdlog::logger> log)
    : strand_(asio::make_strand(ioc)),
      timer_(strand_),
      writer_(writer),
      clock_(clock),
      interval_(interval),
      dead_letter_retention_(dead_letter_retention),
      delivered_retention_(delivered_retention),
      log_(std::move(log)) {}

void retention_sweeper::start() {
    asio::post(strand_, [self = shared_from_this()] { self->sweep(true); });
}

void retention_sweeper::stop() {
    asio::post(strand_, [self = shared_from_this()] {
        self->stopped_ = true;
        self->timer_.cancel();
    });
}

void retention_sweeper::schedule() {
    if (stopped_) return;
    timer_.expires_after(interval_);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
        if (!ec) self->sweep(true);
    });
}

// Deletes one batch of dead letters (or, after those, of delivered deliveries) and goes on
// while batches come back full.
void retention_sweeper::sweep(bool dead_letters) {
    if (stopped_) return;
    auto retention = dead_letters ? dead_letter_retention_ : delivered_retention_;
    auto cutoff = clock_.now_ms() - retention.count();
    auto deleted = std::make_shared<std::int64_t>(0);
    bool queued = writer_.submit(make_unit(
        storing_into(deleted,
                     [dead_letters, cutoff](outbox_store& s, std::int64_t) {
                         return dead_letters ? s.purge_dead_letters(cutoff, batch) : s.purge_delivered(cutoff, batch);
                     }),
        [self = shared_from_this(), dead_letters, deleted](const status& st) {
            asio::post(self->strand_, [self, dead_letters, deleted, st] {
                if (!st) {
                    self->log_->error("retention sweep failed: {}", st.err().message);
                    return self->schedule();
                }
                if (*deleted > 0) {
                    self->log_->info("retention sweep deleted {} {}", *deleted,
                                     dead_letters ? "dead letter(s)" : "delivered delivery(ies)");
                }
                if (*deleted == static_cast<std::int64_t>(batch)) return self->sweep(dead_letters);
                if (dead_letters) return self->sweep(false);
                self->schedule();
            });
        },
        commit::lazy));
    if (!queued) schedule();
}

}  // namespace webhookd
