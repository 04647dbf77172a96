-- The authoriser's portal: invitations, the membership history, bulk intake,
-- and the columns the automatic rules (inactivity, finishing dates) sweep by.
-- Times are BIGINT Unix microseconds (UTC), dates TEXT YYYY-MM-DD, flags 0/1.

-- An invitation to join a site. The link's token is stored only as its
-- SHA-256 (token_hash). open_key is site_id || ':' || lower(email) while the
-- invitation is pending and NULL once it closes, so its unique index refuses
-- a second pending invitation of one person to one site on both engines.
CREATE TABLE invitations (
    id              TEXT PRIMARY KEY,
    site_id         TEXT NOT NULL REFERENCES sites(id),
    organisation_id TEXT NOT NULL REFERENCES organisations(id),
    given_name      TEXT NOT NULL,
    family_name     TEXT NOT NULL,
    email           TEXT NOT NULL,          -- lower case
    phone           TEXT NOT NULL,
    job_title       TEXT NOT NULL,
    job_category    TEXT NOT NULL,
    record_role     TEXT NOT NULL,          -- care_professional | administrator
    finishing_date  TEXT NOT NULL DEFAULT '',
    ig_confirmed    INTEGER NOT NULL,
    token_hash      TEXT NOT NULL UNIQUE,
    status          TEXT NOT NULL,          -- pending | accepted | cancelled | expired
    open_key        TEXT UNIQUE,
    intake_id       TEXT NOT NULL DEFAULT '',
    created_by      TEXT NOT NULL REFERENCES users(id),
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    sent_at         BIGINT NOT NULL,
    send_count      INTEGER NOT NULL DEFAULT 1,
    updated_at      BIGINT NOT NULL,
    closed_at       BIGINT NOT NULL DEFAULT 0,
    closed_by       TEXT NOT NULL DEFAULT '',  -- user id; '' for the system (expiry)
    user_id         TEXT NOT NULL DEFAULT ''   -- the person who accepted
);
CREATE INDEX invitations_site ON invitations (site_id, created_at);
-- The expiry sweep reads only pending invitations, in expiry order, so its
-- cost follows the number due, not the number ever sent.
CREATE INDEX invitations_due ON invitations (expires_at) WHERE status = 'pending';

-- The membership history: a membership row is kept after it is deactivated
-- or deleted. One open (not deleted) membership per person and site.
ALTER TABLE memberships ADD COLUMN status_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN finishing_date TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN leaving_date TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN invitation_id TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN record_role TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN phone TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE memberships ADD COLUMN ended_by TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX memberships_open ON memberships (site_id, user_id) WHERE status <> 'deleted';

-- idle_from is when the 90-day inactivity clock last started: the later of
-- activation and last use (never invitation or creation). Kept as a column
-- so the sweep is an index range over the accounts that are due.
-- inactivity_warned_at is set when the 14-day warning goes out and cleared
-- by use or reactivation. finish_reminded_for is the finishing date the
-- authoriser was last reminded of, so an extended date is reminded again.
ALTER TABLE record_accounts ADD COLUMN idle_from BIGINT NOT NULL DEFAULT 0;
ALTER TABLE record_accounts ADD COLUMN inactivity_warned_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE record_accounts ADD COLUMN finish_reminded_for TEXT NOT NULL DEFAULT '';
UPDATE record_accounts SET idle_from = CASE WHEN last_used_at > activated_at THEN last_used_at ELSE activated_at END;
CREATE INDEX record_accounts_idle ON record_accounts (idle_from) WHERE status = 'active';
CREATE INDEX record_accounts_unwarned ON record_accounts (idle_from) WHERE status = 'active' AND inactivity_warned_at = 0;
CREATE INDEX record_accounts_finishing ON record_accounts (finishing_date)
    WHERE status IN ('pending', 'active') AND finishing_date <> '';

-- A bulk intake: an uploaded CSV kept between its preview and its
-- confirmation, so that what is confirmed is exactly what was previewed.
CREATE TABLE invitation_intakes (
    id            TEXT PRIMARY KEY,
    site_id       TEXT NOT NULL REFERENCES sites(id),
    created_by    TEXT NOT NULL REFERENCES users(id),
    created_at    BIGINT NOT NULL,
    file_name     TEXT NOT NULL,
    file_sha256   TEXT NOT NULL,
    content       TEXT NOT NULL,
    row_count     INTEGER NOT NULL,
    status        TEXT NOT NULL,            -- previewed | confirmed | discarded
    confirmed_at  BIGINT NOT NULL DEFAULT 0,
    created_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX invitation_intakes_site ON invitation_intakes (site_id, created_at);
