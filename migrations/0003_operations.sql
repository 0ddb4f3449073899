-- Operations (issue 5): endpoint health kept in the data, so it survives restarts and any
-- instance sees it, and a row the readiness and watchdog probes write to prove the
-- database takes writes.

-- Failed attempts since the endpoint's last successful one (test sends excluded), and
-- when that run of failures began (NULL while the endpoint is healthy).
ALTER TABLE endpoints ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN failing_since INTEGER;

-- Small named values the daemon keeps about itself. 'heartbeat': the time of the last
-- probe transaction.
CREATE TABLE daemon_state (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
