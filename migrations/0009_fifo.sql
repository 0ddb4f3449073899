-- FIFO endpoints (ordering 'fifo'): the head of an endpoint's queue is its pending delivery
-- with the lowest id, whatever its due time, and nothing after it is attempted before it
-- is delivered or dead. This index finds it in one seek. A parked delivery (no due time,
-- waiting for an operator) is not in it, so it does not hold the queue for ever.
CREATE INDEX deliveries_endpoint_pending ON deliveries (endpoint_id, id)
    WHERE state = 'pending' AND next_attempt_at IS NOT NULL;
