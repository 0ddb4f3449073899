-- A tenant's events are indexed by the tenant's seq (an integer) instead of its id (the
-- platform's customer id, text of up to 128 characters). Each ingested event of a tenant
-- writes an entry of events_tenant at a place keyed by tenant: with thousands of tenants
-- that is a seek from the root for nearly every event, and shorter keys make the index
-- smaller and each comparison a number's (docs/decisions.md, decision 96).
--
-- tenant_seq is written by the store with the event (a program that writes events itself
-- must write it too, or a tenant's lists miss them). A seq that a later tenant takes again
-- never reaches an earlier tenant's events: they are deleted with it.
ALTER TABLE events ADD COLUMN tenant_seq INTEGER;
UPDATE events SET tenant_seq = (SELECT seq FROM tenants WHERE tenants.id = events.tenant_id)
    WHERE tenant_id IS NOT NULL;

DROP INDEX events_tenant;
CREATE INDEX events_tenant ON events (tenant_seq, seq) WHERE tenant_seq IS NOT NULL;
