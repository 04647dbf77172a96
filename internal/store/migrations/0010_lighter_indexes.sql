-- Indexes that cost every daily sweep and served nothing.
--
-- record_accounts_org carried the status: every change of an account's status
-- (deactivation by a rule or a request, reactivation, deletion) moved its
-- entry, a page read and written for each account, and no query looks
-- accounts up by organisation and status. By organisation alone it still
-- serves the foreign key.
DROP INDEX record_accounts_org;
CREATE INDEX record_accounts_org ON record_accounts (organisation_id);

-- outbox_related put each queued e-mail at a random place (by the id of the
-- person or request it is about), and nothing reads the outbox that way.
-- The administrators' outbox list reads it newest first by (created_at, id),
-- which had no index: a whole-table sort of every message ever sent. That
-- index is appended to in order.
DROP INDEX outbox_related;
CREATE INDEX outbox_created ON outbox (created_at, id);
