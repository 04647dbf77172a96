-- PostgreSQL only: see 0011_sweep_hot_updates.postgres.sql. SQLite has no
-- fill factor, changes a row in its page anyway, and rewrites a partial
-- index's entry whenever a column of its condition is set, generated or not.
-- Its index record_accounts_unwarned still spares the warning rule a visit
-- to each account warned already.
SELECT 1;
