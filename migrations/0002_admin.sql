-- The admin API (issue 4): manual retries restart the ladder, and the dead-letter screen
-- lists newest deaths first, per endpoint too.

-- Attempts made before the current ladder began: 0, or the attempts of a dead letter that
-- an operator retried. The retry schedule counts from here; X-Webhook-Attempt and the
-- attempt log keep counting from the delivery's first attempt.
ALTER TABLE deliveries ADD COLUMN ladder_start INTEGER NOT NULL DEFAULT 0;

CREATE INDEX dead_letters_endpoint_died ON dead_letters (endpoint_id, died_at);
CREATE INDEX deliveries_created ON deliveries (created_at);
