// Package audit keeps CareGate's tamper-evident audit trail. Every event is a
// link in a hash chain: its hash covers its own fields and its predecessor's
// hash, and sequence numbers are dense, so Verify can prove the trail complete
// and unaltered or name the first event that was changed, removed or
// reordered.
//
// Events are written two ways:
//   - Record, inside the caller's transaction, so that a state change and its
//     audit event commit together or not at all;
//   - Append, for events that stand alone (record views, searches): callers
//     wait until their event is durable, and concurrent callers share one
//     commit (group commit), because one disk sync per event would collapse on
//     production disks that take 2–5 ms to sync.
//
// Both take the chain head row under a lock, which keeps the chain valid when
// several caregate processes write to one PostgreSQL database.
package audit
