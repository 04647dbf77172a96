-- PostgreSQL only: see 0011_sweep_hot_updates.postgres.sql. SQLite has no
-- fill factor and updates a row in place in its page anyway; there the
-- index record_accounts_unwarned still spares the warning rule a visit to
-- each account warned already.
SELECT 1;
