-- Partner onboarding: size bands and their costs, and applications from new
-- organisations. The regional suspension of new access requests lives in
-- settings (keys requests_suspended = '1' or '', requests_suspended_message).

-- What taking part costs, by the size of the organisation. Amounts are in
-- pence. up_to_staff is the largest staff count in the band; 0 means no upper
-- limit (the last band). The rows below are illustrative defaults for a new
-- region; programme administrators edit them in the portal.
CREATE TABLE size_bands (
    band                 TEXT PRIMARY KEY,           -- short code, e.g. 'A'
    label                TEXT NOT NULL,
    up_to_staff          INTEGER NOT NULL,
    implementation_pence BIGINT NOT NULL,            -- one-off implementation cost
    annual_pence         BIGINT NOT NULL,            -- recurring annual contribution
    updated_at           BIGINT NOT NULL
);
INSERT INTO size_bands (band, label, up_to_staff, implementation_pence, annual_pence, updated_at) VALUES
    ('A', 'Up to 10 staff', 10, 50000, 25000, 0),
    ('B', '11 to 50 staff', 50, 150000, 75000, 0),
    ('C', '51 to 250 staff', 250, 500000, 250000, 0),
    ('D', '251 to 1,000 staff', 1000, 1250000, 600000, 0),
    ('E', '1,001 to 5,000 staff', 5000, 3000000, 1500000, 0),
    ('F', 'More than 5,000 staff', 0, 6000000, 3000000, 0);

-- An organisation's application to take part. States: submitted, approved,
-- rejected (the IG steering group's decision, with its meeting date and
-- minutes) and live (the organisation exists: organisation_id). open_key holds
-- the ODS code while the application is open (submitted or approved) and is
-- cleared when it closes: its unique index refuses a second open application
-- for the same organisation on both engines (NULLs never clash).
CREATE TABLE onboarding_applications (
    id                        TEXT PRIMARY KEY,
    state                     TEXT NOT NULL,          -- submitted | approved | rejected | live
    name                      TEXT NOT NULL,
    ods_code                  TEXT NOT NULL,
    organisation_type         TEXT NOT NULL,
    size_band                 TEXT NOT NULL REFERENCES size_bands(band),
    contact_name              TEXT NOT NULL,
    contact_email             TEXT NOT NULL,
    provides_direct_care      INTEGER NOT NULL,
    dspt_status               TEXT NOT NULL,          -- standards_exceeded | standards_met | approaching_standards | standards_not_met | not_published
    hscn_connected            INTEGER NOT NULL,
    individual_email_accounts INTEGER NOT NULL,
    email_domains             TEXT NOT NULL,          -- comma-separated, lower case
    isa_level                 TEXT NOT NULL,          -- read_only | write
    routing                   TEXT NOT NULL,          -- service_desk | site_authoriser
    notes                     TEXT NOT NULL DEFAULT '',
    submitted_by              TEXT NOT NULL REFERENCES users(id),
    submitted_at              BIGINT NOT NULL,
    decided_by                TEXT NOT NULL DEFAULT '',
    decided_at                BIGINT NOT NULL DEFAULT 0,
    meeting_date              TEXT NOT NULL DEFAULT '', -- YYYY-MM-DD of the steering group meeting
    minutes                   TEXT NOT NULL DEFAULT '',
    live_by                   TEXT NOT NULL DEFAULT '',
    live_at                   BIGINT NOT NULL DEFAULT 0,
    organisation_id           TEXT UNIQUE REFERENCES organisations(id),
    updated_at                BIGINT NOT NULL,
    open_key                  TEXT UNIQUE
);
CREATE INDEX onboarding_applications_state ON onboarding_applications (state, submitted_at);
CREATE INDEX onboarding_applications_band ON onboarding_applications (size_band);
