-- The audit trail's index by object is split into segments of 262,144
-- events (seq >> 18): see 0013_audit_object_segments.sqlite.sql. seq ends
-- the key, so that a segment is read newest first without a sort.
DROP INDEX audit_object;
CREATE INDEX audit_object ON audit_events ((seq >> 18), object_type, object_id, seq);
