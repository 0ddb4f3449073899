-- The per-endpoint indexes of pending deliveries are keyed by the endpoint's seq (an
-- integer) instead of its id (text). Every delivery's insert, claim and outcome writes an
-- entry of deliveries_endpoint_due, at a place keyed by endpoint: with tens of thousands
-- of endpoints that is a page of its own for nearly every delivery, and each seek compares
-- keys from the root down. Integer keys make the entries less than half as long (an id is
-- 29 characters) and each comparison a number's (docs/decisions.md, decision 95).
--
-- endpoint_seq is the seq of the endpoint the delivery goes to, written by the store when
-- the delivery becomes pending (created, requeued, resent): a program that writes
-- deliveries itself must write it too, or they are never claimed. Only pending deliveries
-- are in these indexes, and an endpoint's pending deliveries go with it when it is
-- deleted, so a seq that a later endpoint takes again never reaches them.
-- deliveries_endpoint, which lists an endpoint's deliveries of every state (a deleted
-- endpoint's too), stays keyed by id. (No trigger fills endpoint_seq in: a table with one
-- makes every insert keep a statement journal, a copy of each page it changes.)
ALTER TABLE deliveries ADD COLUMN endpoint_seq INTEGER;
-- The pending ones only (through deliveries_state): a delivered one gets it if it is ever
-- resent, and an upgrade does not rewrite every row of a long history.
UPDATE deliveries SET endpoint_seq = (SELECT seq FROM endpoints WHERE endpoints.id = deliveries.endpoint_id)
    WHERE state = 'pending';

DROP INDEX deliveries_endpoint_due;
CREATE INDEX deliveries_endpoint_due ON deliveries (endpoint_seq, attempts > 0, next_attempt_at) WHERE state = 'pending';
DROP INDEX deliveries_fifo_head;
CREATE INDEX deliveries_fifo_head ON deliveries (endpoint_seq, id)
    WHERE ordered = 1 AND state = 'pending' AND next_attempt_at IS NOT NULL;

