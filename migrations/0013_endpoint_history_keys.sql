-- An endpoint's deliveries of every state are indexed by the endpoint's seq (an integer)
-- instead of its id (text). Each ingested delivery writes an entry of deliveries_endpoint
-- at a place keyed by endpoint: with tens of thousands of endpoints that entry cost ingest
-- more than any other (docs/decisions.md, decision 98).
--
-- The index lists a deleted endpoint's deliveries too, by the id it had, so a deleted
-- endpoint's seq is kept in retired_endpoints and never handed to another endpoint: the
-- store takes a new endpoint's seq above every seq in either table, or the seq the id had
-- when an endpoint is created again under an id that was deleted (its history and its
-- new deliveries are one list, as they were by id).
--
-- deliveries.endpoint_seq is now written for every delivery, not only pending ones (the
-- store writes it at ingest, requeue and resend; a program that writes deliveries itself
-- must write it too, or the endpoint's list misses them).
CREATE TABLE retired_endpoints (
    id  TEXT    PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE
);

-- Endpoints deleted before this version: a seq each, above every seq in use. Their
-- delivered rows may hold a seq that a later endpoint took again (migration 0011 let it).
INSERT INTO retired_endpoints (id, seq)
    SELECT endpoint_id, (SELECT COALESCE(MAX(seq), 0) FROM endpoints) + ROW_NUMBER() OVER (ORDER BY endpoint_id)
    FROM (SELECT DISTINCT endpoint_id FROM deliveries WHERE endpoint_id NOT IN (SELECT id FROM endpoints));

-- Every delivery gets its endpoint's seq; only the rows whose seq is missing or wrong are
-- written.
UPDATE deliveries SET endpoint_seq = owner.seq
    FROM (SELECT id, seq FROM endpoints UNION ALL SELECT id, seq FROM retired_endpoints) AS owner
    WHERE owner.id = deliveries.endpoint_id AND deliveries.endpoint_seq IS NOT owner.seq;

DROP INDEX deliveries_endpoint;
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_seq, id);
