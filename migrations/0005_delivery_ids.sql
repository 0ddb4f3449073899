-- Delivery ids are never reused. A dead delivery moves to dead_letters under its id (its
-- attempts stay attached by it), so an id must be unique across both tables for good.
-- deliveries.id was a plain rowid: when the delivery with the highest id died, the next
-- new delivery got the same id, and when that one died its move failed on the dead
-- letter's primary key. AUTOINCREMENT never hands out an id again, whatever is deleted.
--
-- On a database where that already happened, each live delivery whose id a dead letter
-- holds gets a fresh id above every id in use, and takes with it the attempts made since
-- it was created (the dead letter's all came before: it died before the id was reused).

CREATE TABLE deliveries_v5 (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,   -- exposed as dlv_<id>; never reused
    event_seq        INTEGER NOT NULL REFERENCES events(seq),
    endpoint_id      TEXT    NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    created_at       INTEGER NOT NULL,
    delivered_at     INTEGER,
    last_attempt_at  INTEGER,
    last_status      INTEGER,
    last_error       TEXT,
    ladder_start     INTEGER NOT NULL DEFAULT 0
);

CREATE TEMP TABLE delivery_renumbering AS
SELECT d.id AS old_id, d.created_at AS created_at,
       (SELECT MAX(m) FROM (SELECT MAX(id) AS m FROM deliveries UNION ALL SELECT MAX(id) FROM dead_letters))
           + ROW_NUMBER() OVER (ORDER BY d.id) AS new_id
FROM deliveries d WHERE d.id IN (SELECT id FROM dead_letters);

UPDATE attempts SET delivery_id = (SELECT new_id FROM delivery_renumbering r WHERE r.old_id = attempts.delivery_id)
WHERE delivery_id IN (SELECT old_id FROM delivery_renumbering)
  AND started_at >= (SELECT created_at FROM delivery_renumbering r WHERE r.old_id = attempts.delivery_id);

INSERT INTO deliveries_v5 (id, event_seq, endpoint_id, state, attempts, next_attempt_at, lease_owner,
                           lease_expires_at, created_at, delivered_at, last_attempt_at, last_status, last_error,
                           ladder_start)
SELECT COALESCE((SELECT new_id FROM delivery_renumbering r WHERE r.old_id = d.id), d.id), event_seq, endpoint_id,
       state, attempts, next_attempt_at, lease_owner, lease_expires_at, created_at, delivered_at, last_attempt_at,
       last_status, last_error, ladder_start
FROM deliveries d;

DROP TABLE delivery_renumbering;
DROP TABLE deliveries;
ALTER TABLE deliveries_v5 RENAME TO deliveries;

-- The next id is above every id either table has ever shown.
DELETE FROM sqlite_sequence WHERE name = 'deliveries';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'deliveries', COALESCE(MAX(m), 0)
FROM (SELECT MAX(id) AS m FROM deliveries UNION ALL SELECT MAX(id) FROM dead_letters);

-- The indexes of 0001-0004, as they were.
CREATE INDEX deliveries_endpoint_due ON deliveries (endpoint_id, next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_endpoint_first_due ON deliveries (endpoint_id, next_attempt_at)
    WHERE state = 'pending' AND attempts = 0;
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, id);
CREATE INDEX deliveries_event ON deliveries (event_seq);
CREATE INDEX deliveries_state ON deliveries (state, id);
CREATE INDEX deliveries_delivered ON deliveries (delivered_at) WHERE state = 'delivered';
CREATE INDEX deliveries_leased ON deliveries (lease_expires_at) WHERE lease_owner IS NOT NULL;
CREATE INDEX deliveries_created ON deliveries (created_at);
