-- The audit trail's indexes by object, by person, by action and by time are
-- split into segments of 262,144 events (seq >> 18): see
-- 0013_audit_segments.sqlite.sql. seq ends each key but the one by time, so
-- that a segment is read newest first without a sort.
DROP INDEX audit_object;
CREATE INDEX audit_object ON audit_events ((seq >> 18), object_type, object_id, seq);
DROP INDEX audit_actor;
CREATE INDEX audit_actor ON audit_events ((seq >> 18), actor_id, seq);
CREATE INDEX audit_actor_email ON audit_events ((seq >> 18), actor, seq);
DROP INDEX audit_action;
CREATE INDEX audit_action ON audit_events ((seq >> 18), action, seq);
DROP INDEX audit_at;
CREATE INDEX audit_at ON audit_events ((seq >> 18), at);
