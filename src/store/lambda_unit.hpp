#pragma once
// A write unit made of two functions, for callers that need one transaction's worth of
// store calls and a completion: apply runs on the writer thread inside the group's
// savepoint; done runs on the writer thread after the commit (post from it, don't block).

#include <functional>
#include <memory>
#include <utility>

#include "store/outbox_store.hpp"

namespace webhookd {

class lambda_unit final : public write_unit {
public:
    using apply_fn = std::function<status(outbox_store&, std::int64_t now_ms)>;
    using done_fn = std::function<void(const status&)>;

    lambda_unit(apply_fn apply, done_fn done) : apply_(std::move(apply)), done_(std::move(done)) {}
    status apply(outbox_store& store, std::int64_t now_ms) override { return apply_(store, now_ms); }
    void done(const status& outcome) override { done_(outcome); }
    std::size_t weight() const override { return 0; }  // internal work is never refused for ingest's bound

private:
    apply_fn apply_;
    done_fn done_;
};

inline std::shared_ptr<write_unit> make_unit(lambda_unit::apply_fn apply, lambda_unit::done_fn done) {
    return std::make_shared<lambda_unit>(std::move(apply), std::move(done));
}

}  // namespace webhookd
