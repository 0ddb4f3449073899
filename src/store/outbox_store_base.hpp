#pragma once
// What both backends of the outbox share, above their SQL: endpoint secrets sealed and
// opened, the fan-out routes cached per tenant, and the rules of endpoint health and the
// operational events they emit (docs/operations.md, "Endpoint health"). A backend supplies
// the primitives below, each one or two statements of its SQL. Internal to src/store.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/unordered/unordered_flat_map.hpp>

#include "store/outbox_store.hpp"
#include "store/secret_box.hpp"
#include "util/endpoint_matcher.hpp"
#include "util/string_hash.hpp"

namespace webhookd::detail {

// What fan-out needs of an endpoint.
struct route {
    std::string id;
    std::int64_t seq = 0;  // the endpoint's seq: its key in the store's per-endpoint indexes
    // Shared by every cached endpoint with the same event_patterns text (most endpoints of
    // a platform's tenants subscribe alike), so that matching reads memory that is warm.
    std::shared_ptr<const std::vector<std::string>> patterns;
    bool fifo = false;  // its deliveries are `ordered`

    bool wants(std::string_view event_type) const { return any_pattern_matches(*patterns, event_type); }
};

// What an event of one tenant (or of the platform) fans out to.
struct tenant_routes {
    std::int64_t tenant_seq = 0;  // the tenant's seq: its events' key in events_tenant (0: the platform)
    std::vector<route> endpoints; // its enabled endpoints, in creation order
};

// A row of the scan that fills the route cache at once: a tenant, and one of its enabled
// endpoints (none: the tenant has none).
struct route_row {
    std::string_view tenant;
    std::int64_t tenant_seq = 0;
    std::optional<std::string_view> endpoint;
    std::int64_t seq = 0;
    std::string_view patterns_json;
    bool fifo = false;
};

// A delivery that became a dead letter, as webhookd.delivery.dead reports it.
struct dead_row {
    std::int64_t delivery_id{};
    std::string event_id, event_type;
    std::int64_t attempts{};
    int last_status{};
    std::string last_error;
};

// What an operational event says about an endpoint, and what its health rules read.
struct endpoint_health {
    std::optional<std::string> tenant;
    std::string url;
    bool enabled{};
    std::int64_t consecutive_failures{};
    std::optional<std::int64_t> failing_since_ms;
    bool failing_reported{};
};

// An endpoint's patterns as stored (a JSON array of strings); anything else matches nothing.
std::vector<std::string> parse_patterns(std::string_view patterns_json);

// At open, one stored endpoint secret checked against the key (`box`, null when
// storage.secret_key_file is not set): an error when it is encrypted and does not decrypt
// (secret_key_mismatch) or there is no key (secret_key_missing); true when it is in clear
// and a key is set, so the caller seals it; false when it stays as it is.
result<bool> needs_sealing(const secret_box* box, const std::string& endpoint_id, std::string_view stored);

// Row counts as the store keeps them (decision 88): per endpoint, its pending deliveries
// and dead letters. As text (count_changes and count_base rows), one line per endpoint:
// "<endpoint id> <pending> <dead>" (ids never hold a space or a line break).
struct count_change {
    std::int64_t pending = 0, dead = 0;
};
// Open addressing: a fold adds up tens of thousands of lines, and a node per line was
// most of its time.
using count_map = boost::unordered_flat_map<std::string, count_change, string_hash, std::equal_to<>>;
// Adds the lines of a counts text to `into`; an unreadable line is skipped.
void add_counts(count_map& into, std::string_view text);
// The entries of `counts` that are not zero, as counts text.
std::string counts_text(const count_map& counts);
// A base counts text (one line per endpoint; empty: none yet) with `changes` added: the
// base's lines that no change touches are copied as they are, without being read as numbers.
std::string folded_counts(std::string_view base, count_map changes);
// The gauges: the endpoints' rows (id, consecutive_failures, in creation order) and the
// counts; the totals count every endpoint's rows, also one whose endpoint row is gone.
outbox_counts gauges_of(const count_map& counts, std::vector<std::pair<std::string, std::int64_t>> endpoints);

class outbox_store_base : public outbox_store {
public:
    status fold_counts() final {
        groups_since_fold_ = count_fold_groups;
        return ok_v;
    }
    // One record_attempt after the other.
    result<std::vector<attempt_effects>> record_attempts(std::span<const attempt_record* const> batch,
                                                         const health_policy& health, std::int64_t now_ms) override;
    // Reads of fan-out routes from the database since the store opened (scans and single
    // tenants'), for tests.
    std::uint64_t route_reads() const { return route_reads_; }

protected:
    // secrets: the key that endpoint secrets are sealed with (storage.secret_key_file), or
    // null to store them in clear.
    explicit outbox_store_base(std::shared_ptr<const secret_box> secrets) : secrets_(std::move(secrets)) {}

    // ---- Secrets ----
    // An endpoint secret as it is stored: sealed with the endpoint's id as associated data
    // when there is a key, else as is.
    result<std::string> stored_secret(std::string_view endpoint_id, const std::string& secret) const;
    // The clear secret of a stored value. A value in clear is returned as is (written
    // before the key was set, or by another program); it is sealed at the next start.
    result<std::string> clear_secret(std::string_view endpoint_id, std::string_view stored) const;

    // ---- Fan-out routes ----
    // The enabled endpoints an event of `tenant` (none: the platform) fans out to, read
    // once (load_routes) and cached; null when the tenant does not exist. Valid until the
    // next call (the table moves its slots as it grows). The first call fills the cache
    // with every tenant's routes in one scan (scan_routes), so that the first event of
    // each tenant after a start does not wait for a read of its own. Throws the backend's
    // failure.
    const tenant_routes* routes_for(const std::optional<std::string>& tenant);
    // After a write through this store to one tenant's endpoints (none: the platform's).
    void forget_routes(const std::optional<std::string>& tenant) { routes_.erase(tenant.value_or("")); }
    // After a write the store did not make itself (another connection's commit).
    void forget_all_routes();
    // The routes of `tenant` from the database; none when the tenant does not exist.
    virtual std::optional<tenant_routes> load_routes(const std::optional<std::string>& tenant) = 0;
    // Every tenant's enabled endpoints, for at most `max_tenants` tenants, each tenant's
    // rows together and in the endpoints' creation order.
    virtual void scan_routes(std::size_t max_tenants, const std::function<void(const route_row&)>& each) = 0;
    // A route of an endpoint whose event_patterns column holds `patterns_json`.
    route make_route(std::string id, std::int64_t seq, std::string_view patterns_json, bool fifo);

    // ---- Endpoint health (inside record_attempt; each throws the backend's failure) ----
    // `health` is the attempt's endpoint as it was read with the attempt's own write (none:
    // deleted meanwhile).
    // What the attempt's outcome does to its endpoint: the streak, failing, recovered,
    // disabled (and its deliveries dead).
    void apply_health(const attempt_record& a, const health_policy& policy, std::int64_t now_ms,
                      attempt_effects& fx, std::optional<endpoint_health> health);
    // webhookd.delivery.dead for a delivery that exhausted the ladder.
    void emit_exhausted(const attempt_record& a, std::int64_t now_ms, attempt_effects& fx,
                        const std::optional<endpoint_health>& health);

    // The backend's primitives for them.
    // A success: the streak ends (consecutive_failures 0, failing_since and failing_reported cleared).
    virtual void end_streak(std::string_view endpoint_id) = 0;
    // A failure: consecutive_failures + 1, failing_since set to started_ms if unset.
    virtual void extend_streak(std::string_view endpoint_id, std::int64_t started_ms) = 0;
    virtual void mark_failing_reported(std::string_view endpoint_id) = 0;
    // Disables the endpoint for `reason` (gone | failing) and moves its pending deliveries,
    // leased ones included, to dead_letters with last_error "endpoint_disabled: <why>"
    // (and their last error after it). Returns them, in id order.
    virtual std::vector<dead_row> disable_and_kill_pending(std::string_view endpoint_id, std::string_view reason,
                                                           const std::string& why, std::int64_t now_ms) = 0;
    // Throws the backend's failure type with `message` (an operational event not stored).
    [[noreturn]] virtual void fail(const std::string& message) = 0;

    // ---- Row counts: the gauges of /metrics, kept in the data (decision 88) ----
    // Every write that adds or removes a pending delivery or a dead letter says so here,
    // per endpoint. Before its commit, the group's changes become one row of
    // count_changes (take_group_counts); now and then the backend folds those rows into
    // the one row of count_base (fold_counts_due). A scrape reads both: a few rows,
    // whatever the backlog.
    void count_rows(std::string_view endpoint_id, std::int64_t pending, std::int64_t dead);
    // The group's changes as counts text (empty: none), forgotten.
    std::string take_group_counts();
    // Whether this group should also fold count_changes into count_base: the first group
    // after the open, then after count_fold_groups groups or count_fold_lines lines.
    bool fold_counts_due();

    // ---- A group's tries and units, as the backend's transaction and savepoints go ----
    // What the store keeps of a group beside the database (the count changes, the routes it
    // read) goes with the rollback of the try or unit that made it. A rolled-back try or
    // unit forgets only the routes it read itself: they may hold its own endpoint writes,
    // gone with it; every other tenant's stay cached, so that a producer's failing event
    // (an unknown tenant, an id taken) does not cost every tenant a read of its routes.
    // At the start of a try: what earlier groups did is committed, what an earlier try of
    // this group did is undone.
    void begin_try();
    // Before a unit applies: the mark to undo it with.
    struct unit_mark {
        std::size_t routes_read, count_changes;
    };
    unit_mark begin_unit() { return {routes_read_.size(), group_changes_used_}; }
    // A unit rolled back to its savepoint.
    void undo_unit(unit_mark mark);
    // A try rolled back whole.
    void undo_try();

private:
    void forget_routes_since(std::size_t mark);
    void drop_group_counts();

    // Stores an operational event, with no tenant, for the platform endpoints that name it
    // (nothing when none does).
    void emit_operational(std::string_view type, const std::string& data_json, std::int64_t now_ms,
                          attempt_effects& fx);

    std::shared_ptr<const secret_box> secrets_;  // null: secrets stored in clear
    // Fan-out routes by tenant id ("" for the platform): every tenant's at the first event,
    // then each tenant's again after a write to its endpoints.
    static constexpr std::size_t max_cached_tenants = 100'000;
    // Open addressing: with 10,000 tenants, a lookup in a node-based map missed the cache
    // three or four times per event.
    boost::unordered_flat_map<std::string, tenant_routes, string_hash, std::equal_to<>> routes_;
    bool routes_scanned_ = false;
    std::vector<std::string> routes_read_;   // tenants whose routes this try read, in order
    std::optional<std::size_t> scanned_at_;  // routes_read_'s size when this try scanned them all
    std::uint64_t route_reads_ = 0;
    // The parsed event_patterns of the cached routes, by their text; started again when it
    // holds as many texts as the cache holds tenants (patterns changed over and over).
    std::unordered_map<std::string, std::shared_ptr<const std::vector<std::string>>, string_hash, std::equal_to<>>
        pattern_sets_;

    // The group's count changes, one entry per count_rows in the order made, so that an
    // undone unit drops the entries from its mark on. The entries are reused from group to
    // group (their strings reassigned, not freed): a group whose events each reach other
    // endpoints (10,000 tenants) allocates nothing for its counts. take_group_counts adds
    // them up per endpoint in `group_sums_`, cleared but kept as well.
    struct count_entry {
        std::string endpoint_id;
        count_change change;
    };
    std::vector<count_entry> group_changes_;
    std::size_t group_changes_used_ = 0;
    static constexpr std::size_t max_kept_count_entries = 4096;
    boost::unordered_flat_map<std::string_view, count_change, string_hash, std::equal_to<>> group_sums_;
    static constexpr std::size_t count_fold_groups = 4096;
    static constexpr std::size_t count_fold_lines = 65536;
    std::size_t groups_since_fold_ = count_fold_groups;  // the first group folds
    std::size_t lines_since_fold_ = 0;
};

}  // namespace webhookd::detail
