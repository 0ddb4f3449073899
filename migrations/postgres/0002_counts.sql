-- The gauges of /metrics kept in the data (as migrations/0010_counts.sql for SQLite):
-- endpoint_counts as of the last fold, count_changes one row per group committed since.
-- Instances append their groups' rows without touching a shared row; one instance at a
-- time (an advisory lock) folds them.
CREATE TABLE endpoint_counts (
    endpoint_id text   PRIMARY KEY,
    pending     bigint NOT NULL DEFAULT 0,
    dead        bigint NOT NULL DEFAULT 0
);
CREATE TABLE count_changes (
    seq     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    changes jsonb  NOT NULL
);
INSERT INTO endpoint_counts (endpoint_id, pending, dead)
    SELECT endpoint_id, sum(pending), sum(dead) FROM (
        SELECT endpoint_id, count(*) AS pending, 0 AS dead FROM deliveries WHERE state = 'pending' GROUP BY endpoint_id
        UNION ALL
        SELECT endpoint_id, 0, count(*) FROM dead_letters GROUP BY endpoint_id) AS c
    GROUP BY endpoint_id;

-- Folds count_changes into endpoint_counts, unless another instance is folding (its
-- advisory lock, "webhcnts" in ASCII, is held until its commit). Rows of groups not yet
-- committed are not seen, so they are not deleted: the next fold takes them.
CREATE FUNCTION fold_count_changes() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock(8603390863645504627) THEN
        RETURN;
    END IF;
    WITH moved AS (DELETE FROM count_changes RETURNING changes),
         summed AS (SELECT c ->> 0 AS endpoint_id, sum((c ->> 1)::bigint) AS pending, sum((c ->> 2)::bigint) AS dead
                    FROM moved, jsonb_array_elements(moved.changes) AS c GROUP BY 1)
    INSERT INTO endpoint_counts (endpoint_id, pending, dead) SELECT endpoint_id, pending, dead FROM summed
    ON CONFLICT (endpoint_id) DO UPDATE SET pending = endpoint_counts.pending + EXCLUDED.pending,
                                            dead = endpoint_counts.dead + EXCLUDED.dead;
    DELETE FROM endpoint_counts WHERE pending = 0 AND dead = 0;
END
$$;
