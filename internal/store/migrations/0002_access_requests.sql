-- Access requests, record accounts, working-day calendar and the e-mail outbox.

-- A person's entitlement to open the shared care record. One per person;
-- deletion deprovisions (status 'deleted') and keeps the row, so the audit
-- trail still names them and a re-invited leaver becomes the same person.
CREATE TABLE record_accounts (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL UNIQUE REFERENCES users(id),
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    username        TEXT NOT NULL UNIQUE,
    role            TEXT NOT NULL,                 -- care_professional | administrator
    status          TEXT NOT NULL,                 -- pending | active | deactivated | deleted
    status_reason   TEXT NOT NULL DEFAULT '',      -- leaver, maternity_leave, long_term_sickness, inactivity, end_of_contract, other
    finishing_date  TEXT NOT NULL DEFAULT '',      -- YYYY-MM-DD for temporary staff
    activated_at    BIGINT NOT NULL DEFAULT 0,     -- starts the inactivity clock
    last_used_at    BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX record_accounts_org ON record_accounts (organisation_id, status);

-- How many record user names have been made from each base ("jsmith",
-- "jsmith2", …), so that choosing one is a single statement even when a
-- large intake shares a name.
CREATE TABLE username_counters (
    base TEXT PRIMARY KEY,
    n    BIGINT NOT NULL
);

-- Requests to the back office. open_key is set while a request is open and
-- cleared when it closes: its unique index refuses a second open request of
-- the same kind for the same person, on both engines (NULLs never clash).
CREATE TABLE access_requests (
    id                  TEXT PRIMARY KEY,
    ref                 TEXT NOT NULL UNIQUE,          -- human reference, e.g. R-7K3M9Q
    type                TEXT NOT NULL,                 -- new_user | amendment | reactivation | deactivation | deletion
    state               TEXT NOT NULL,                 -- submitted | validated | in_progress | needs_information | completed | rejected | cancelled
    title               TEXT NOT NULL,
    organisation_id     TEXT NOT NULL REFERENCES organisations(id),
    site_id             TEXT REFERENCES sites(id),
    subject_user_id     TEXT REFERENCES users(id),     -- the person, once they have an account
    email               TEXT NOT NULL,
    given_name          TEXT NOT NULL,
    family_name         TEXT NOT NULL,
    job_title           TEXT NOT NULL DEFAULT '',
    phone               TEXT NOT NULL DEFAULT '',
    role                TEXT NOT NULL DEFAULT '',      -- requested record role
    new_email           TEXT NOT NULL DEFAULT '',      -- amendment: change of e-mail
    finishing_date      TEXT NOT NULL DEFAULT '',
    reason              TEXT NOT NULL DEFAULT '',      -- deactivation/deletion reason
    leaving_date        TEXT NOT NULL DEFAULT '',
    notes               TEXT NOT NULL DEFAULT '',
    attest_direct_care  INTEGER NOT NULL DEFAULT 0,
    attest_told_misuse  INTEGER NOT NULL DEFAULT 0,
    attest_ig_training  INTEGER NOT NULL DEFAULT 0,
    submitted_by        TEXT NOT NULL REFERENCES users(id),
    submitted_at        BIGINT NOT NULL,
    validated_by        TEXT NOT NULL DEFAULT '',
    validated_at        BIGINT NOT NULL DEFAULT 0,
    due_at              BIGINT NOT NULL DEFAULT 0,     -- end of the SLA, set at validation
    assigned_to         TEXT NOT NULL DEFAULT '',
    question            TEXT NOT NULL DEFAULT '',
    answer              TEXT NOT NULL DEFAULT '',
    resolution          TEXT NOT NULL DEFAULT '',
    resumes_state       TEXT NOT NULL DEFAULT '',      -- where an answered question returns to
    closed_at           BIGINT NOT NULL DEFAULT 0,
    updated_at          BIGINT NOT NULL,
    open_key            TEXT UNIQUE,
    source_key          TEXT UNIQUE                    -- idempotency of automatic and bulk raising
);
CREATE INDEX access_requests_queue ON access_requests (state, due_at);
CREATE INDEX access_requests_org ON access_requests (organisation_id, state);
CREATE INDEX access_requests_submitter ON access_requests (submitted_by);
CREATE INDEX access_requests_subject ON access_requests (subject_user_id);

-- Every transition of a request, with who and why: its history.
CREATE TABLE access_request_events (
    id          TEXT PRIMARY KEY,
    request_id  TEXT NOT NULL REFERENCES access_requests(id),
    step        INTEGER NOT NULL,                -- 1, 2, 3 … within the request
    at          BIGINT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor       TEXT NOT NULL,
    from_state  TEXT NOT NULL,
    to_state    TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX access_request_events_request ON access_request_events (request_id, step);

-- Days that are not working days besides weekends (England and Wales bank
-- holidays): data, loaded from an embedded file and editable.
CREATE TABLE bank_holidays (
    day  TEXT PRIMARY KEY,   -- YYYY-MM-DD
    name TEXT NOT NULL
);

-- Every e-mail, written in the same transaction as the change that causes
-- it, then delivered by background jobs.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    created_at      BIGINT NOT NULL,
    to_addr         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL DEFAULT '',
    kind            TEXT NOT NULL,                 -- template name, e.g. credentials_username
    related_type    TEXT NOT NULL DEFAULT '',
    related_id      TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'pending', -- pending | sent | failed (gave up)
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    sent_at         BIGINT NOT NULL DEFAULT 0,
    sensitive       INTEGER NOT NULL DEFAULT 0     -- carries a secret: body hidden in the portal once sent
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_related ON outbox (related_type, related_id);
