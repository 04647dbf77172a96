-- The shared care record: FHIR R4 resources published by the partners'
-- systems, the machine credentials they publish with, the clinical systems
-- that launch the viewer in patient context, the launch tokens already used,
-- and data-problem reports. Times are BIGINT Unix microseconds (UTC).

-- One row per resource as its organisation supplied it. body is the JSON as
-- received (never rewritten); the other columns are taken from it at ingest
-- so that search and the viewer never parse JSON to filter. A resource is
-- keyed by (organisation_id, resource_type, source_id): re-sending it updates
-- the row (version + 1) and keeps its server id. nhs_number links the
-- resource to the person across organisations; family/given are lower case,
-- postcode upper case without spaces, for exact matching.
CREATE TABLE record_resources (
    id              TEXT PRIMARY KEY,             -- server id, the FHIR id served
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    resource_type   TEXT NOT NULL,
    source_id       TEXT NOT NULL,                -- the id its supplier gave it
    nhs_number      TEXT NOT NULL,
    family          TEXT NOT NULL DEFAULT '',
    given           TEXT NOT NULL DEFAULT '',
    birth_date      TEXT NOT NULL DEFAULT '',     -- YYYY-MM-DD
    gender          TEXT NOT NULL DEFAULT '',
    postcode        TEXT NOT NULL DEFAULT '',
    item_date       TEXT NOT NULL DEFAULT '',     -- the clinical date shown and sorted by
    display         TEXT NOT NULL DEFAULT '',     -- one line for the viewer
    status          TEXT NOT NULL DEFAULT '',
    body            TEXT NOT NULL,
    version         INTEGER NOT NULL DEFAULT 1,
    supplied_by     TEXT NOT NULL,                -- machine client id
    received_at     BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (organisation_id, resource_type, source_id)
);
CREATE INDEX record_resources_patient ON record_resources (nhs_number, resource_type, item_date);
CREATE INDEX record_resources_name ON record_resources (family, birth_date) WHERE resource_type = 'Patient';

-- A partner's system that publishes data: it authenticates with a client
-- secret (stored only as its SHA-256; the secret is 256 random bits) or a
-- JWT client assertion signed with a key of its JWKS.
CREATE TABLE record_clients (
    id              TEXT PRIMARY KEY,             -- the OAuth2 client_id
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    name            TEXT NOT NULL,
    secret_hash     TEXT NOT NULL DEFAULT '',
    jwks            TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,                -- active | revoked
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    revoked_at      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX record_clients_org ON record_clients (organisation_id);

-- Short-lived bearer tokens issued to clients, stored as SHA-256 so that
-- every instance accepts every other's.
CREATE TABLE record_client_tokens (
    token_hash TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES record_clients(id),
    expires_at BIGINT NOT NULL
);
CREATE INDEX record_client_tokens_expiry ON record_client_tokens (expires_at);

-- A clinical system that may launch the viewer in patient context. Its
-- launch tokens name it as issuer and are signed with a key of its JWKS.
CREATE TABLE record_clinical_systems (
    id              TEXT PRIMARY KEY,             -- the JWT issuer
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    name            TEXT NOT NULL,
    jwks            TEXT NOT NULL,
    status          TEXT NOT NULL,                -- active | revoked
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

-- Launch token ids already used, until they could no longer be valid: the
-- primary key refuses a replay on every instance at once.
CREATE TABLE record_launch_jtis (
    jti        TEXT PRIMARY KEY,                  -- issuer || ' ' || jti
    expires_at BIGINT NOT NULL
);
CREATE INDEX record_launch_jtis_expiry ON record_launch_jtis (expires_at);

-- Sessions opened by a contextual launch, so that views in them are audited
-- as launched rather than searched for.
CREATE TABLE record_launch_sessions (
    session_hash TEXT PRIMARY KEY,
    system_id    TEXT NOT NULL,
    nhs_number   TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

-- Where an organisation wants data-problem reports sent.
CREATE TABLE record_contacts (
    organisation_id TEXT PRIMARY KEY REFERENCES organisations(id),
    email           TEXT NOT NULL
);

-- A member's report that an item looks wrong, sent to the supplying
-- organisation and tracked until it is closed.
CREATE TABLE record_reports (
    id              TEXT PRIMARY KEY,
    resource_id     TEXT NOT NULL REFERENCES record_resources(id),
    organisation_id TEXT NOT NULL REFERENCES organisations(id),  -- the supplier
    nhs_number      TEXT NOT NULL,
    reporter_id     TEXT NOT NULL REFERENCES users(id),
    description     TEXT NOT NULL,
    status          TEXT NOT NULL,                -- open | closed
    resolution      TEXT NOT NULL DEFAULT '',
    created_at      BIGINT NOT NULL,
    closed_at       BIGINT NOT NULL DEFAULT 0,
    closed_by       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX record_reports_org ON record_reports (organisation_id, status, created_at);
CREATE INDEX record_reports_reporter ON record_reports (reporter_id, created_at);
