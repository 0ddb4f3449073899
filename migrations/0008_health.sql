-- Endpoint health and delivery controls (docs/operations.md, "Endpoint health").
--
-- Health stays in the data, so that every instance over a shared database sees the same:
-- why and when an endpoint was disabled ('manual' through the API, 'failing' after
-- endpoints.disable_after of failures, 'gone' after an answer 410), and whether the current
-- failure streak was reported with webhookd.endpoint.failing, so that exactly one
-- webhookd.endpoint.recovered follows it.
-- (disabled_reason has been there since 0001, unused until now.)
ALTER TABLE endpoints ADD COLUMN disabled_at INTEGER;
ALTER TABLE endpoints ADD COLUMN failing_reported INTEGER NOT NULL DEFAULT 0;

-- Delivery controls: attempts started per second (NULL: no limit), and 'fifo' for one
-- attempt at a time in ingest order.
ALTER TABLE endpoints ADD COLUMN rate_limit INTEGER;
ALTER TABLE endpoints ADD COLUMN ordering TEXT NOT NULL DEFAULT 'unordered';

-- Endpoints disabled before health was kept were disabled by hand.
UPDATE endpoints SET disabled_reason = 'manual', disabled_at = updated_at WHERE enabled = 0;

-- The dispatcher must see the new settings change (0007).
DROP TRIGGER endpoints_revision_update;
CREATE TRIGGER endpoints_revision_update
AFTER UPDATE OF url, event_patterns, body_mode, signature_format, signature_header, headers, enabled, paused_at,
                tenant_id, updated_at, rate_limit, ordering ON endpoints BEGIN
    UPDATE endpoints SET revision = (SELECT MAX(revision) FROM endpoints) + 1 WHERE id = NEW.id;
END;
