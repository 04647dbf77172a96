-- Foundation schema: accounts, sessions, tokens, organisations, sites, portal
-- roles and the audit trail. One text for both engines: times are BIGINT Unix
-- microseconds (UTC), flags are INTEGER 0/1, identifiers are opaque TEXT.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id                   TEXT PRIMARY KEY,
    email                TEXT NOT NULL UNIQUE,          -- lower-cased
    given_name           TEXT NOT NULL,
    family_name          TEXT NOT NULL,
    status               TEXT NOT NULL DEFAULT 'active', -- active | deactivated
    password_hash        TEXT NOT NULL DEFAULT '',
    must_change_password INTEGER NOT NULL DEFAULT 0,
    totp_secret          TEXT NOT NULL DEFAULT '',
    totp_enabled         INTEGER NOT NULL DEFAULT 0,
    totp_last_step       BIGINT NOT NULL DEFAULT 0,     -- refuses reuse of a TOTP code
    failed_logins        INTEGER NOT NULL DEFAULT 0,
    locked_until         BIGINT NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);

-- Region-wide portal roles: admin (programme/system administrator),
-- back_office, privacy_officer. Site- and organisation-scoped roles have
-- their own tables below.
CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users(id),
    role    TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE recovery_codes (
    user_id   TEXT NOT NULL REFERENCES users(id),
    code_hash TEXT NOT NULL,
    used_at   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, code_hash)
);

-- Server-side sessions; the cookie carries a random token, the table only
-- its SHA-256.
CREATE TABLE sessions (
    id_hash      TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id),
    state        TEXT NOT NULL,              -- mfa_enrol | mfa | password | full
    pending_totp TEXT NOT NULL DEFAULT '',   -- secret offered during enrolment
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,            -- absolute lifetime
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id),
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL DEFAULT 0,
    revoked_at   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- One-time links (first administrator set-up, password set-up).
CREATE TABLE setup_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    purpose    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT NOT NULL DEFAULT 0
);

-- Sign-in throttling per client address, shared by all instances.
CREATE TABLE throttle (
    key          TEXT PRIMARY KEY,
    count        INTEGER NOT NULL,
    window_start BIGINT NOT NULL
);

CREATE TABLE organisations (
    id                 TEXT PRIMARY KEY,
    ods_code           TEXT NOT NULL UNIQUE,
    name               TEXT NOT NULL,
    status             TEXT NOT NULL,  -- active | suspended | left
    isa_level          TEXT NOT NULL,  -- read_only | write
    routing            TEXT NOT NULL,  -- service_desk | site_authoriser
    allowed_domains    TEXT NOT NULL,  -- comma-separated, lower case
    password_recipient TEXT NOT NULL DEFAULT '', -- nominated individual's e-mail, if any
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);

CREATE TABLE sites (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    name            TEXT NOT NULL,
    status          TEXT NOT NULL,     -- active | closed
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (organisation_id, name)
);
CREATE INDEX sites_org ON sites (organisation_id);

CREATE TABLE site_authorisers (
    site_id    TEXT NOT NULL REFERENCES sites(id),
    user_id    TEXT NOT NULL REFERENCES users(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (site_id, user_id)
);
CREATE INDEX site_authorisers_user ON site_authorisers (user_id);

CREATE TABLE service_desk_staff (
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    user_id         TEXT NOT NULL REFERENCES users(id),
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (organisation_id, user_id)
);
CREATE INDEX service_desk_user ON service_desk_staff (user_id);

-- Membership of a person in a site (team). The authoriser's portal (a later
-- migration) adds invitations and the membership history.
CREATE TABLE memberships (
    id           TEXT PRIMARY KEY,
    site_id      TEXT NOT NULL REFERENCES sites(id),
    user_id      TEXT NOT NULL REFERENCES users(id),
    job_title    TEXT NOT NULL DEFAULT '',
    job_category TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,   -- active | deactivated | deleted
    joined_at    BIGINT NOT NULL,
    ended_at     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX memberships_site ON memberships (site_id);
CREATE INDEX memberships_user ON memberships (user_id);

-- The audit trail: an append-only hash chain. seq is dense (1, 2, 3 …) and
-- each hash covers the event's fields and the previous event's hash, so an
-- edited, removed or reordered row breaks the chain. audit_head holds the
-- last seq and hash; appenders lock it, which serialises the chain across
-- every caregate process sharing the database.
CREATE TABLE audit_events (
    seq         BIGINT PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor       TEXT NOT NULL,     -- e-mail or "system", kept even if the user changes
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    outcome     TEXT NOT NULL,     -- success | failure | refused
    ip          TEXT NOT NULL,
    user_agent  TEXT NOT NULL,
    detail      TEXT NOT NULL,     -- JSON object
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX audit_actor ON audit_events (actor_id, at);
CREATE INDEX audit_object ON audit_events (object_type, object_id, at);
CREATE INDEX audit_action ON audit_events (action, at);
CREATE INDEX audit_at ON audit_events (at);

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY,
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');
