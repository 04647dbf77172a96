-- On SQLite a BIGINT PRIMARY KEY is a separate unique index beside the
-- table's own rowid: every audit event was written into two b-trees for its
-- order, and reading the trail in order looked each row up through the index.
-- An INTEGER PRIMARY KEY is the rowid itself, so the trail is stored in its
-- own order once. The values, the other indexes and the chain are unchanged.
CREATE TABLE audit_events_by_seq (
    seq         INTEGER PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor_id    TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    ip          TEXT NOT NULL,
    user_agent  TEXT NOT NULL,
    detail      TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
INSERT INTO audit_events_by_seq (seq, at, actor_id, actor, action, object_type, object_id, outcome, ip, user_agent, detail, prev_hash, hash)
    SELECT seq, at, actor_id, actor, action, object_type, object_id, outcome, ip, user_agent, detail, prev_hash, hash
    FROM audit_events ORDER BY seq;
DROP TABLE audit_events;
ALTER TABLE audit_events_by_seq RENAME TO audit_events;
CREATE INDEX audit_actor ON audit_events (actor_id, at);
CREATE INDEX audit_object ON audit_events (object_type, object_id, at);
CREATE INDEX audit_action ON audit_events (action, at);
CREATE INDEX audit_at ON audit_events (at);
