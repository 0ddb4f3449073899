-- The gauges of /metrics kept in the data, so that a scrape reads a few rows instead of
-- counting every pending delivery (100 ms and more with a backlog of a million). Per
-- endpoint, its pending deliveries and dead letters, as text: one line per endpoint,
-- "<endpoint id> <pending> <dead>". count_changes holds what each group committed, one
-- row per group, written in the group's own transaction; every thousand groups or so the
-- store folds them into the one row of count_base (every endpoint with something pending
-- or dead). The lines are keyed by the endpoint's id, not a reference to it: the totals
-- count every row, as they always did.
CREATE TABLE count_base (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    counts TEXT    NOT NULL
);
CREATE TABLE count_changes (
    seq     INTEGER PRIMARY KEY,
    changes TEXT    NOT NULL
);
INSERT INTO count_base (id, counts)
    SELECT 1, COALESCE(group_concat(endpoint_id || ' ' || pending || ' ' || dead || char(10), ''), '') FROM (
        SELECT endpoint_id, SUM(pending) AS pending, SUM(dead) AS dead FROM (
            SELECT endpoint_id, COUNT(*) AS pending, 0 AS dead FROM deliveries WHERE state = 'pending'
                GROUP BY endpoint_id
            UNION ALL
            SELECT endpoint_id, 0, COUNT(*) FROM dead_letters GROUP BY endpoint_id)
        GROUP BY endpoint_id);
