#pragma once
// The outbox: every SQL statement of webhookd lives behind this interface, so a second
// backend (PostgreSQL as a shared outbox) can replace SQLite without touching callers.
//
// Threading: one writer thread owns write_group() and everything called from a write
// unit; read methods are called from that same thread unless a backend says otherwise.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "webhookd/result.hpp"

namespace webhookd {

// An event that passed validation, with its envelope built.
struct new_event {
    std::string id;
    std::string type;
    std::string timestamp;      // RFC 3339
    std::string body;           // the envelope, sent byte-for-byte on every attempt
    std::size_t data_offset{};  // data = body[data_offset, body.size() - 1)
};

// What ingest answers for one event.
struct ingest_outcome {
    std::string id;
    std::string type;
    std::string timestamp;
    std::int64_t deliveries{};  // deliveries created (for a duplicate: those of the original)
    bool duplicate{};
};

class outbox_store;

// One producer request's share of a group commit. apply() runs inside a savepoint of the
// group's transaction; done() runs once after the group committed (with the status of
// apply, or the commit's error). done() must not block: it hands the answer to its owner.
class write_unit {
public:
    virtual ~write_unit() = default;
    virtual status apply(outbox_store& store, std::int64_t now_ms) = 0;
    virtual void done(const status& outcome) = 0;
    // Events this unit carries, for the writer's queue bound.
    virtual std::size_t weight() const { return 1; }
};

// Counts that gauges start from.
struct outbox_counts {
    std::int64_t pending{};
    std::int64_t dead_letters{};
};

class outbox_store {
public:
    virtual ~outbox_store() = default;

    // Runs every unit's apply() in its own savepoint within one transaction, commits once
    // (one fsync), then calls every unit's done(). A unit whose apply fails is rolled back
    // alone. When the transaction cannot begin or commit, every unit gets that error
    // (code "storage_unavailable") and nothing of the group is stored.
    virtual void write_group(std::span<write_unit* const> units, std::int64_t now_ms) = 0;

    // Inside apply(): stores the event and one pending delivery, due now, per enabled
    // endpoint whose patterns match its type. A known id is a duplicate: nothing is
    // written and the outcome describes the stored event.
    virtual result<ingest_outcome> insert_event(const new_event& event, std::int64_t now_ms) = 0;

    virtual result<outbox_counts> counts() = 0;
};

}  // namespace webhookd
