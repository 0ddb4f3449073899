-- The outbox schema for the whole product. Times are integer milliseconds since the Unix
-- epoch (UTC). Leases and schedules live in rows, never only in one process's memory, so a
-- second instance (or a restart) can take over what the first one held.

-- Endpoints: where deliveries go and how they are signed.
CREATE TABLE endpoints (
    id               TEXT    PRIMARY KEY,                 -- ep_<ulid>
    seq              INTEGER NOT NULL UNIQUE,             -- creation order, for pagination
    url              TEXT    NOT NULL,
    description      TEXT    NOT NULL DEFAULT '',
    event_patterns   TEXT    NOT NULL DEFAULT '[]',       -- JSON array: "a.b", "a.*", "*"; [] = all
    body_mode        TEXT    NOT NULL DEFAULT 'envelope' CHECK (body_mode IN ('envelope', 'data')),
    signature_format TEXT    NOT NULL DEFAULT 'hex' CHECK (signature_format IN ('hex', 'sha256', 'stripe')),
    signature_header TEXT    NOT NULL DEFAULT 'X-Webhook-Signature',
    headers          TEXT    NOT NULL DEFAULT '{}',       -- JSON object of extra request headers
    enabled          INTEGER NOT NULL DEFAULT 1,          -- 0: gets no new deliveries
    paused_at        INTEGER,                             -- non-NULL: deliveries wait, schedule frozen
    disabled_reason  TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);

-- Signing secrets. The newest row without expiry is the current secret; older rows stay
-- valid until expires_at (a rotation's grace period).
CREATE TABLE endpoint_secrets (
    endpoint_id TEXT    NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    secret      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    PRIMARY KEY (endpoint_id, created_at)
);

-- Events as accepted at ingest. `body` is the envelope, built once and sent byte-for-byte
-- on every attempt; the event's `data` value is body[data_offset, length(body) - 1).
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,                      -- ingest order
    id          TEXT    NOT NULL UNIQUE,                  -- producer's id or evt_<ulid>
    type        TEXT    NOT NULL,
    timestamp   TEXT    NOT NULL,                         -- RFC 3339, as in the envelope
    body        BLOB    NOT NULL,
    data_offset INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX events_type ON events (type, seq);
CREATE INDEX events_created ON events (created_at);

-- One row per (event, endpoint) until it is delivered (kept for storage.delivered_retention)
-- or dies (moved to dead_letters). state: 'pending' | 'delivered'.
CREATE TABLE deliveries (
    id               INTEGER PRIMARY KEY,                 -- exposed as dlv_<id>
    event_seq        INTEGER NOT NULL REFERENCES events(seq),
    endpoint_id      TEXT    NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered')),
    attempts         INTEGER NOT NULL DEFAULT 0,          -- attempts made so far
    next_attempt_at  INTEGER,                             -- due time while pending
    lease_owner      TEXT,                                -- instance that claimed it
    lease_expires_at INTEGER,                             -- claim is void after this
    created_at       INTEGER NOT NULL,
    delivered_at     INTEGER,
    last_attempt_at  INTEGER,
    last_status      INTEGER,
    last_error       TEXT
);
-- The dispatcher's queries: what is due, per endpoint (fairness, pause) and overall.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_endpoint_due ON deliveries (endpoint_id, next_attempt_at) WHERE state = 'pending';
-- First attempts are claimed before retries, so a backlog of retries never starves them.
CREATE INDEX deliveries_endpoint_first_due ON deliveries (endpoint_id, next_attempt_at)
    WHERE state = 'pending' AND attempts = 0;
-- The admin lists: newest first, by endpoint, by event, by state; and retention.
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, id);
CREATE INDEX deliveries_event ON deliveries (event_seq);
CREATE INDEX deliveries_state ON deliveries (state, id);
CREATE INDEX deliveries_delivered ON deliveries (delivered_at) WHERE state = 'delivered';
-- Leases held at a crash, released at start-up.
CREATE INDEX deliveries_leased ON deliveries (lease_expires_at) WHERE lease_owner IS NOT NULL;

-- The delivery log: one row per HTTP attempt (also test sends, with delivery_id NULL).
CREATE TABLE attempts (
    id               INTEGER PRIMARY KEY,
    delivery_id      INTEGER,                             -- deliveries.id or dead_letters.id
    endpoint_id      TEXT    NOT NULL,
    attempt          INTEGER NOT NULL,                    -- 1-based
    started_at       INTEGER NOT NULL,
    duration_us      INTEGER NOT NULL,
    outcome          TEXT    NOT NULL,                    -- success|http_error|timeout|connect_error|tls_error|dns_error
    status_code      INTEGER,
    error            TEXT,
    response_snippet BLOB                                 -- at most 4 KiB
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, attempt);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, id);

-- Deliveries that exhausted the ladder, kept for dead_letter.retention after died_at.
-- The id is the delivery's id, so its attempts stay attached.
CREATE TABLE dead_letters (
    id               INTEGER PRIMARY KEY,
    event_seq        INTEGER NOT NULL REFERENCES events(seq),
    endpoint_id      TEXT    NOT NULL,
    attempts         INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,                    -- when the delivery was created
    died_at          INTEGER NOT NULL,
    last_status      INTEGER,
    last_error       TEXT,
    last_response    BLOB
);
CREATE INDEX dead_letters_died ON dead_letters (died_at);
CREATE INDEX dead_letters_endpoint ON dead_letters (endpoint_id, id);
CREATE INDEX dead_letters_event ON dead_letters (event_seq);
