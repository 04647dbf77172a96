-- The daily sweeps' updates of record accounts and memberships, made HOT where
-- they can be.
--
-- PostgreSQL updates a row in place in its page (a heap-only tuple, HOT) only
-- when the page has room for the new version and no indexed column changed,
-- a column of a partial index's condition included. Otherwise the new version
-- goes to another page and gets a new entry in every index of the table
-- (seven on record_accounts), each a page written to the log (a whole page,
-- the first time after a checkpoint). A sweep changes thousands of accounts
-- spread over the table.
--
-- What PostgreSQL compares is the values: an update that leaves every
-- indexed column (and every column a partial index's condition names) as it
-- was can be HOT.
--
-- Room: record_accounts pages are filled to 85% by new rows, memberships and
-- invitations pages to 90%, so that a changed row's new version stays in its
-- own page (a version that does not fit costs a second page and a lock
-- record for the old one), and the two reminder rules' updates
-- (finish_reminded_for, inactivity_warned_at) are HOT. The setting applies
-- to pages written from now on; rows already stored gain it as their pages
-- are rewritten (VACUUM FULL or CLUSTER, in a maintenance window, applies it
-- to all at once).
ALTER TABLE record_accounts SET (fillfactor = 85);
ALTER TABLE memberships SET (fillfactor = 90);
ALTER TABLE invitations SET (fillfactor = 90);

-- record_accounts_unwarned named inactivity_warned_at in its condition, so no
-- warning could be HOT. The warning rule walks record_accounts_idle instead:
-- the accounts whose clock falls in the warning window, the warned ones among
-- them (at most the warnings of the last InactivityWarningDays days) skipped
-- by their row. SQLite has no such in-place update and keeps the index
-- (0011_sweep_hot_updates.sqlite.sql).
DROP INDEX record_accounts_unwarned;

-- memberships_open (one open membership of a person at a site) named status
-- in its condition, so every change of status, a deactivation included, was
-- not HOT, although a deactivated membership stays open: the finishing-date
-- rule's 2,000 memberships wrote four index entries each, a third of the
-- sweep's log. The condition now reads a stored generated column that
-- changes only when a membership is deleted. Adding the column rewrites the
-- table once (at the fill factor above), holding its lock meanwhile: a few
-- seconds for a million memberships. SQLite rewrites a partial index's entry
-- whenever a column of its condition is set, generated or not, and keeps
-- the index as it is.
ALTER TABLE memberships ADD COLUMN is_open BOOLEAN GENERATED ALWAYS AS (status <> 'deleted') STORED;
DROP INDEX memberships_open;
CREATE UNIQUE INDEX memberships_open ON memberships (site_id, user_id) WHERE is_open;
