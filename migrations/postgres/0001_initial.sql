-- The outbox in PostgreSQL: the same tables, columns and meanings as the SQLite schema
-- after its migration 0009 (migrations/*.sql), in PostgreSQL's types. Times are
-- milliseconds since the epoch (bigint), as in SQLite, so both backends share the code
-- that reads them. An envelope is bytea: the body is kept byte for byte, as it was signed.

CREATE SEQUENCE endpoint_revisions;

CREATE TABLE tenants (
    id          text    PRIMARY KEY,                      -- the platform's customer id, or tn_<ulid>
    seq         bigint  GENERATED ALWAYS AS IDENTITY UNIQUE,
    name        text    NOT NULL DEFAULT '',
    metadata    text    NOT NULL DEFAULT '{}',            -- JSON object of strings
    created_at  bigint  NOT NULL,
    updated_at  bigint  NOT NULL
);

CREATE TABLE tenant_tokens (
    id          text    PRIMARY KEY,                      -- tok_<ulid>
    seq         bigint  GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id   text    NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    token_hash  text    NOT NULL UNIQUE,                  -- lowercase hex SHA-256 of the token
    description text    NOT NULL DEFAULT '',
    created_at  bigint  NOT NULL,
    expires_at  bigint                                    -- NULL: never
);
CREATE INDEX tenant_tokens_tenant ON tenant_tokens (tenant_id, seq);

CREATE TABLE endpoints (
    id                   text     PRIMARY KEY,            -- ep_<ulid>
    seq                  bigint   GENERATED ALWAYS AS IDENTITY UNIQUE,
    tenant_id            text     REFERENCES tenants(id), -- NULL: a platform endpoint
    url                  text     NOT NULL,
    description          text     NOT NULL DEFAULT '',
    event_patterns       text     NOT NULL DEFAULT '[]',  -- JSON array: "a.b", "a.*", "*"; [] = all
    body_mode            text     NOT NULL DEFAULT 'envelope' CHECK (body_mode IN ('envelope', 'data')),
    signature_format     text     NOT NULL DEFAULT 'hex' CHECK (signature_format IN ('hex', 'sha256', 'stripe')),
    signature_header     text     NOT NULL DEFAULT 'X-Webhook-Signature',
    headers              text     NOT NULL DEFAULT '{}',  -- JSON object of extra request headers
    enabled              boolean  NOT NULL DEFAULT true,
    paused_at            bigint,                          -- non-NULL: deliveries wait, schedule frozen
    disabled_reason      text,                            -- manual | failing | gone, while disabled
    disabled_at          bigint,
    consecutive_failures bigint   NOT NULL DEFAULT 0,
    failing_since        bigint,
    failing_reported     boolean  NOT NULL DEFAULT false,
    rate_limit           bigint,
    ordering             text     NOT NULL DEFAULT 'unordered' CHECK (ordering IN ('unordered', 'fifo')),
    -- Raised (from endpoint_revisions) by every write a dispatcher must see, here or in
    -- endpoint_secrets: every instance's scan reads what changed since its last one.
    revision             bigint   NOT NULL DEFAULT nextval('endpoint_revisions'),
    created_at           bigint   NOT NULL,
    updated_at           bigint   NOT NULL
);
CREATE INDEX endpoints_tenant ON endpoints (tenant_id, seq) WHERE tenant_id IS NOT NULL;
CREATE INDEX endpoints_revision ON endpoints (revision);

-- rate_limit across all instances: the attempts leased in the second that starts at
-- window_start (ms). Written only by the claim that holds the endpoint's claim lock (an
-- advisory lock), in a table of its own so that it never waits for a write to the endpoint.
CREATE TABLE endpoint_rates (
    endpoint_id  text    PRIMARY KEY REFERENCES endpoints(id) ON DELETE CASCADE,
    window_start bigint  NOT NULL,
    used         bigint  NOT NULL
);

CREATE TABLE endpoint_secrets (
    endpoint_id text    NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    secret      text    NOT NULL,
    created_at  bigint  NOT NULL,
    expires_at  bigint,
    PRIMARY KEY (endpoint_id, created_at)
);

CREATE TABLE events (
    seq         bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- ingest order
    id          text    NOT NULL UNIQUE,                  -- producer's id or evt_<ulid>
    tenant_id   text,
    type        text    NOT NULL,
    timestamp   text    NOT NULL,                         -- RFC 3339, as in the envelope
    body        bytea   NOT NULL,
    data_offset bigint  NOT NULL,
    created_at  bigint  NOT NULL
);
CREATE INDEX events_type ON events (type, seq);
CREATE INDEX events_created ON events (created_at);
CREATE INDEX events_tenant ON events (tenant_id, seq) WHERE tenant_id IS NOT NULL;

CREATE TABLE deliveries (
    id               bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- dlv_<id>; never reused
    event_seq        bigint  NOT NULL,                    -- events(seq), kept by the store (below)
    endpoint_id      text    NOT NULL,
    state            text    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered')),
    attempts         integer NOT NULL DEFAULT 0,
    ladder_start     integer NOT NULL DEFAULT 0,
    next_attempt_at  bigint,                              -- NULL: parked, waiting for an operator
    lease_owner      text,
    lease_expires_at bigint,
    created_at       bigint  NOT NULL,
    delivered_at     bigint,
    last_attempt_at  bigint,
    last_status      integer,
    last_error       text,
    ordered          boolean NOT NULL DEFAULT false       -- its endpoint is FIFO (SQLite's 0009)
);
-- No foreign key to events: its check, a trigger per inserted row, was a quarter of
-- ingest's time in the database. The store writes a delivery in the statement that writes
-- its event and deletes an event only when no delivery or dead letter refers to it.
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, id);
CREATE INDEX deliveries_event ON deliveries (event_seq);
CREATE INDEX deliveries_state ON deliveries (state, id);
CREATE INDEX deliveries_delivered ON deliveries (delivered_at) WHERE state = 'delivered';
-- The leases every instance holds, by endpoint: a claim counts them against the endpoint's cap.
CREATE INDEX deliveries_endpoint_leased ON deliveries (endpoint_id, lease_expires_at) WHERE lease_owner IS NOT NULL;
CREATE INDEX deliveries_created ON deliveries (created_at);
CREATE INDEX deliveries_endpoint_due ON deliveries (endpoint_id, (attempts > 0), next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX deliveries_fifo_head ON deliveries (endpoint_id, id)
    WHERE ordered AND state = 'pending' AND next_attempt_at IS NOT NULL;

CREATE TABLE dead_letters (
    id            bigint  PRIMARY KEY,                    -- the delivery's id, kept
    event_seq     bigint  NOT NULL REFERENCES events(seq),
    endpoint_id   text    NOT NULL,
    attempts      integer NOT NULL,
    created_at    bigint  NOT NULL,                       -- when the delivery was created
    died_at       bigint  NOT NULL,
    last_status   integer,
    last_error    text,
    last_response bytea
);
CREATE INDEX dead_letters_died ON dead_letters (died_at);
CREATE INDEX dead_letters_endpoint ON dead_letters (endpoint_id, id);
CREATE INDEX dead_letters_event ON dead_letters (event_seq);
CREATE INDEX dead_letters_endpoint_died ON dead_letters (endpoint_id, died_at);

CREATE TABLE attempts (
    id               bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id      bigint,                              -- deliveries.id or dead_letters.id; NULL: a test send
    endpoint_id      text    NOT NULL,
    attempt          integer NOT NULL,                    -- 1-based
    started_at       bigint  NOT NULL,
    duration_us      bigint  NOT NULL,
    outcome          text    NOT NULL,                    -- success|http_error|timeout|connect_error|tls_error|dns_error
    status_code      integer,
    error            text,
    response_snippet bytea                                -- at most 4 KiB
);
CREATE INDEX attempts_delivery ON attempts (delivery_id, attempt);
CREATE INDEX attempts_endpoint ON attempts (endpoint_id, id);

CREATE TABLE daemon_state (
    key   text   PRIMARY KEY,
    value bigint NOT NULL
);

-- Revisions: what the SQLite triggers do with MAX(revision) + 1, a sequence does here, so
-- two instances writing at once never give two changes one revision.
CREATE FUNCTION endpoints_bump_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.revision := nextval('endpoint_revisions');
    RETURN NEW;
END $$;
CREATE TRIGGER endpoints_revision_update
    BEFORE UPDATE OF url, event_patterns, body_mode, signature_format, signature_header, headers, enabled,
                     paused_at, tenant_id, updated_at, rate_limit, ordering ON endpoints
    FOR EACH ROW EXECUTE FUNCTION endpoints_bump_revision();

CREATE FUNCTION endpoint_secrets_bump_revision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE endpoints SET revision = nextval('endpoint_revisions')
        WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.endpoint_id ELSE NEW.endpoint_id END;
    RETURN NULL;
END $$;
CREATE TRIGGER endpoint_secrets_revision
    AFTER INSERT OR UPDATE OR DELETE ON endpoint_secrets
    FOR EACH ROW EXECUTE FUNCTION endpoint_secrets_bump_revision();

CREATE FUNCTION endpoints_count_deletion() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO daemon_state (key, value) VALUES ('endpoint_deletions', 1)
        ON CONFLICT (key) DO UPDATE SET value = daemon_state.value + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER endpoints_deletion
    AFTER DELETE ON endpoints
    FOR EACH ROW EXECUTE FUNCTION endpoints_count_deletion();
