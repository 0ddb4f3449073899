-- FIFO endpoints (ordering 'fifo'): the head of an endpoint's queue is its pending delivery
-- with the lowest id, whatever its due time, and nothing after it is attempted before it
-- is delivered or dead. `ordered` marks the deliveries of FIFO endpoints (set at insert
-- and at a retry, and for an endpoint's pending ones when its ordering changes), so that
-- the index that finds the head in one seek holds those deliveries only: the deliveries
-- of unordered endpoints, nearly all of them, pay nothing for it. A parked delivery (no
-- due time, waiting for an operator) is not in it either, so it does not hold the queue.
ALTER TABLE deliveries ADD COLUMN ordered INTEGER NOT NULL DEFAULT 0;
UPDATE deliveries SET ordered = 1
    WHERE state = 'pending' AND endpoint_id IN (SELECT id FROM endpoints WHERE ordering = 'fifo');
CREATE INDEX deliveries_fifo_head ON deliveries (endpoint_id, id)
    WHERE ordered = 1 AND state = 'pending' AND next_attempt_at IS NOT NULL;
