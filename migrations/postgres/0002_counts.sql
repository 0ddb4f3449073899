-- The gauges of /metrics kept in the data, as migrations/0010_counts.sql does for SQLite:
-- count_base as of the last fold, count_changes one row per group committed since.
-- Instances append their groups' rows without touching a shared row; one instance at a
-- time (an advisory lock) folds them into count_base.
CREATE TABLE count_base (
    id     integer PRIMARY KEY CHECK (id = 1),
    counts text    NOT NULL
);
CREATE TABLE count_changes (
    seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    changes text   NOT NULL
);
INSERT INTO count_base (id, counts)
    SELECT 1, COALESCE(string_agg(endpoint_id || ' ' || pending || ' ' || dead || chr(10), ''), '') FROM (
        SELECT endpoint_id, sum(pending) AS pending, sum(dead) AS dead FROM (
            SELECT endpoint_id, count(*) AS pending, 0 AS dead FROM deliveries WHERE state = 'pending'
                GROUP BY endpoint_id
            UNION ALL
            SELECT endpoint_id, 0, count(*) FROM dead_letters GROUP BY endpoint_id) AS c
        GROUP BY endpoint_id) AS per_endpoint;
