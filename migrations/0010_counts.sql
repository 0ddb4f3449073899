-- The gauges of /metrics kept in the data, so that a scrape reads a few rows instead of
-- counting every pending delivery (a second with a backlog of millions). endpoint_counts
-- holds each endpoint's pending deliveries and dead letters as of the last fold;
-- count_changes holds what each group committed since, one row per group
-- ([[endpoint, pending, dead], ...]), written in the group's own transaction. The store
-- folds the changes into endpoint_counts every few hundred groups. Both are keyed by the
-- endpoint's id, not a reference to it: a deleted endpoint's rows (none once it is gone)
-- are counted like any other, as the totals always were.
CREATE TABLE endpoint_counts (
    endpoint_id TEXT    PRIMARY KEY,
    pending     INTEGER NOT NULL DEFAULT 0,
    dead        INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE count_changes (
    seq     INTEGER PRIMARY KEY,
    changes TEXT    NOT NULL
);
INSERT INTO endpoint_counts (endpoint_id, pending, dead)
    SELECT endpoint_id, SUM(pending), SUM(dead) FROM (
        SELECT endpoint_id, COUNT(*) AS pending, 0 AS dead FROM deliveries WHERE state = 'pending' GROUP BY endpoint_id
        UNION ALL
        SELECT endpoint_id, 0, COUNT(*) FROM dead_letters GROUP BY endpoint_id)
    GROUP BY endpoint_id;
