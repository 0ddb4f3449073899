-- What the dispatcher must look at again. A rescan reads the endpoints whose revision is
-- above the highest one it has seen, through endpoints_revision, instead of every
-- endpoint: with tenants there are tens of thousands, and a full reload took the writer
-- for 100 ms every few seconds.
--
-- The triggers give an endpoint the next revision on every write the dispatcher must see,
-- whoever makes it (the admin API, or SQL from outside): created, its settings, pause or
-- tenant changed, a secret added, expired or removed. The store also gives one when an
-- operator makes its deliveries due again (a dead letter put back on the ladder). Health
-- counters (consecutive_failures, failing_since) are not such a write. Deleted endpoints
-- are counted in daemon_state 'endpoint_deletions': a new count makes the next rescan read
-- every endpoint, so the dispatcher drops the ones that are gone.

ALTER TABLE endpoints ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
CREATE INDEX endpoints_revision ON endpoints (revision);

CREATE TRIGGER endpoints_revision_insert AFTER INSERT ON endpoints BEGIN
    UPDATE endpoints SET revision = (SELECT MAX(revision) FROM endpoints) + 1 WHERE id = NEW.id;
END;

CREATE TRIGGER endpoints_revision_update
AFTER UPDATE OF url, event_patterns, body_mode, signature_format, signature_header, headers, enabled, paused_at,
                tenant_id, updated_at ON endpoints BEGIN
    UPDATE endpoints SET revision = (SELECT MAX(revision) FROM endpoints) + 1 WHERE id = NEW.id;
END;

CREATE TRIGGER endpoints_deletion AFTER DELETE ON endpoints BEGIN
    INSERT INTO daemon_state (key, value) VALUES ('endpoint_deletions', 1)
        ON CONFLICT (key) DO UPDATE SET value = value + 1;
END;

CREATE TRIGGER endpoint_secrets_revision_insert AFTER INSERT ON endpoint_secrets BEGIN
    UPDATE endpoints SET revision = (SELECT MAX(revision) FROM endpoints) + 1 WHERE id = NEW.endpoint_id;
END;

CREATE TRIGGER endpoint_secrets_revision_update AFTER UPDATE ON endpoint_secrets BEGIN
    UPDATE endpoints SET revision = (SELECT MAX(revision) FROM endpoints) + 1 WHERE id = NEW.endpoint_id;
END;

CREATE TRIGGER endpoint_secrets_revision_delete AFTER DELETE ON endpoint_secrets BEGIN
    UPDATE endpoints SET revision = (SELECT MAX(revision) FROM endpoints) + 1 WHERE id = OLD.endpoint_id;
END;

-- One index of an endpoint's pending deliveries instead of two: first attempts
-- ((attempts > 0) = 0) and retries ((attempts > 0) = 1) are its two ranges, each by due
-- time. Claims read first attempts before retries as before; every delivery's insert, claim
-- and outcome now write one index entry less, at a place keyed by endpoint, which with tens
-- of thousands of endpoints is a page of its own for nearly every delivery.
DROP INDEX deliveries_endpoint_first_due;
DROP INDEX deliveries_endpoint_due;
CREATE INDEX deliveries_endpoint_due ON deliveries (endpoint_id, attempts > 0, next_attempt_at) WHERE state = 'pending';
