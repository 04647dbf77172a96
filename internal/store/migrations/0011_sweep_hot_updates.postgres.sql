-- The daily sweeps' updates of record accounts, made HOT where they can be.
--
-- PostgreSQL updates a row in place in its page (a heap-only tuple, HOT) only
-- when the page has room for the new version and no indexed column changed,
-- a column of a partial index's condition included. Otherwise the new version
-- goes to another page and gets a new entry in every index of the table
-- (seven on record_accounts), each a page written to the log (a whole page,
-- the first time after a checkpoint). A sweep changes thousands of accounts
-- spread over the table.
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
