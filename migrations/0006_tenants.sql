-- Tenants: a platform's customers. Each endpoint and each event belongs to one tenant, or
-- to none (the platform's own, as before this migration: every existing row keeps NULL).
-- An event reaches only the endpoints of its own tenant; a tenant token sees only its
-- tenant's rows (docs/api.md, "Tenants").

CREATE TABLE tenants (
    id          TEXT    PRIMARY KEY,                      -- the platform's customer id, or tn_<ulid>
    seq         INTEGER NOT NULL UNIQUE,                  -- creation order, for pagination
    name        TEXT    NOT NULL DEFAULT '',
    metadata    TEXT    NOT NULL DEFAULT '{}',            -- JSON object of strings
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- Fixed at creation. Fan-out reads a tenant's enabled endpoints through this index.
ALTER TABLE endpoints ADD COLUMN tenant_id TEXT;
CREATE INDEX endpoints_tenant ON endpoints (tenant_id, seq) WHERE tenant_id IS NOT NULL;

-- The delivery lists of a tenant go through its events: one index entry per event, not one
-- per delivery. Platform events (NULL) are not indexed.
ALTER TABLE events ADD COLUMN tenant_id TEXT;
CREATE INDEX events_tenant ON events (tenant_id, seq) WHERE tenant_id IS NOT NULL;

-- Tokens that see one tenant. Only the SHA-256 of the token is kept; a request's token is
-- found by one read of the unique index on it. Revoking deletes the row.
CREATE TABLE tenant_tokens (
    id          TEXT    PRIMARY KEY,                      -- tok_<ulid>
    seq         INTEGER NOT NULL UNIQUE,
    tenant_id   TEXT    NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    token_hash  TEXT    NOT NULL UNIQUE,                  -- lowercase hex SHA-256 of the token
    description TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER                                   -- NULL: never
);
CREATE INDEX tenant_tokens_tenant ON tenant_tokens (tenant_id, seq);
