package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"

	"github.com/caregate/caregate/internal/store"
)

// Break describes the first place where the trail is not intact.
type Break struct {
	Seq    int64  // the first bad event (or the first missing one)
	Reason string // changed, removed or reordered, in words
}

func (b *Break) Error() string {
	return fmt.Sprintf("audit trail broken at event %d: %s", b.Seq, b.Reason)
}

// Verify reads the whole trail in order and checks every link. It returns the
// number of events checked and, when the trail is not intact, a *Break naming
// the first bad event. Other errors are failures to read.
func Verify(ctx context.Context, db *store.DB) (int64, error) {
	// One read-only snapshot for the head and the events, so that appends by
	// this or other processes while we read do not look like tampering.
	// SQLite in WAL mode gives a deferred read transaction a snapshot at its
	// first read; PostgreSQL needs REPEATABLE READ for one.
	opts := &sql.TxOptions{ReadOnly: true}
	if db.Dialect == store.Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := db.R.BeginTx(ctx, opts)
	if err != nil {
		return 0, fmt.Errorf("begin verify: %w", err)
	}
	defer tx.Rollback()
	var headSeq int64
	var headHash string
	if err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&headSeq, &headHash); err != nil {
		return 0, fmt.Errorf("read audit head: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT seq, at, actor_id, actor, action, object_type, object_id, outcome, ip, user_agent, detail, prev_hash, hash
		FROM audit_events ORDER BY seq`)
	if err != nil {
		return 0, fmt.Errorf("read audit events: %w", err)
	}
	defer rows.Close()
	h := sha256.New()
	var (
		want     int64 = 1
		prev     []byte
		seq, at  int64
		f        [9]sql.RawBytes
		prevHash sql.RawBytes
		hash     sql.RawBytes
		fields   [9][]byte
	)
	for rows.Next() {
		if err := rows.Scan(&seq, &at, &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &prevHash, &hash); err != nil {
			return want - 1, fmt.Errorf("read audit event: %w", err)
		}
		if seq != want {
			if seq > want {
				return want - 1, &Break{Seq: want, Reason: fmt.Sprintf("event %d is missing (removed); the next event present is %d", want, seq)}
			}
			return want - 1, &Break{Seq: seq, Reason: "sequence number repeated or out of order"}
		}
		if !bytes.Equal(prevHash, prev) {
			return want - 1, &Break{Seq: seq, Reason: "its link to the previous event does not match (an event before it was removed, or events were reordered)"}
		}
		for i := range f {
			fields[i] = f[i]
		}
		sum := chainHash(h, seq, at, fields, prev)
		if sum != string(hash) {
			return want - 1, &Break{Seq: seq, Reason: "its contents do not match its hash (the event was changed)"}
		}
		prev = append(prev[:0], hash...)
		want++
	}
	if err := rows.Err(); err != nil {
		return want - 1, fmt.Errorf("read audit events: %w", err)
	}
	n := want - 1
	if headSeq != n {
		if headSeq > n {
			return n, &Break{Seq: n + 1, Reason: fmt.Sprintf("the trail ends at event %d but %d events were written (events at the end were removed)", n, headSeq)}
		}
		return n, &Break{Seq: headSeq + 1, Reason: "events exist beyond the recorded end of the trail (inserted)"}
	}
	if headHash != string(prev) {
		return n, &Break{Seq: n, Reason: "the last event does not match the recorded end of the trail (changed)"}
	}
	return n, nil
}
