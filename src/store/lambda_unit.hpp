#pragma once
// A write unit made of two functions, for callers that need one transaction's worth of
// store calls and a completion: apply runs on the writer thread inside the group's
// transaction (perhaps twice: see write_unit); done runs on the writer thread after the
// commit (post from it, don't block).

#include <functional>
#include <memory>
#include <utility>

#include "store/outbox_store.hpp"

namespace webhookd {

class lambda_unit final : public write_unit {
public:
    using apply_fn = std::function<status(outbox_store&, std::int64_t now_ms)>;
    using done_fn = std::function<void(const status&)>;

    lambda_unit(apply_fn apply, done_fn done, bool durable)
        : apply_(std::move(apply)), done_(std::move(done)), durable_(durable) {}
    status apply(outbox_store& store, std::int64_t now_ms) override { return apply_(store, now_ms); }
    void done(const status& outcome) override { done_(outcome); }
    std::size_t weight() const override { return 0; }  // internal work is never refused for ingest's bound
    bool durable() const override { return durable_; }

private:
    apply_fn apply_;
    done_fn done_;
    bool durable_;
};

// What a unit's commit must be: fsynced before done() (the default), or not waited for
// (see write_unit::durable()).
enum class commit { durable, lazy };

inline std::shared_ptr<write_unit> make_unit(lambda_unit::apply_fn apply, lambda_unit::done_fn done,
                                             commit c = commit::durable) {
    return std::make_shared<lambda_unit>(std::move(apply), std::move(done), c == commit::durable);
}

// An apply_fn around one store call that returns a value (`call(store, now_ms)` gives a
// result<T>): a failure fails the unit, a value goes to *into for the completion to read.
template <class T, class F>
lambda_unit::apply_fn storing_into(std::shared_ptr<T> into, F call) {
    return [into = std::move(into), call = std::move(call)](outbox_store& s, std::int64_t now_ms) -> status {
        auto r = call(s, now_ms);
        if (!r) return r.err();
        *into = std::move(r).value();
        return ok_v;
    };
}

}  // namespace webhookd
