#pragma once
// A write unit whose apply() is a test's function, remembering what done() was told: for
// driving an outbox_store's write_group by hand.

#include <functional>
#include <optional>
#include <utility>

#include "store/outbox_store.hpp"

namespace webhookd::test {

class fn_unit final : public write_unit {
public:
    explicit fn_unit(std::function<status(outbox_store&, std::int64_t)> fn) : fn_(std::move(fn)) {}
    status apply(outbox_store& s, std::int64_t now) override { return fn_(s, now); }
    void done(const status& outcome) override { result = outcome; }
    std::optional<status> result;  // set by done()

private:
    std::function<status(outbox_store&, std::int64_t)> fn_;
};

}  // namespace webhookd::test
