-- SQLite only: see 0009_audit_rowid.sqlite.sql. A PostgreSQL primary key is
-- already the one index of its table.
SELECT 1;
