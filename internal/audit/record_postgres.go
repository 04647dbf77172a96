package audit

import (
	"context"
	"fmt"

	"github.com/caregate/caregate/internal/store"
)

// arrayChunk bounds the events one array insert carries, so that a very
// large transaction (a bulk action of a hundred thousand changes) does not
// build one parameter of hundreds of megabytes.
const arrayChunk = 5000

// insertArrays is one statement that inserts a chunk of chained events
// given as one array a column: the same rows as a multi-row VALUES,
// with 13 parameters for the whole chunk instead of 13 an event.
const insertArrays = `INSERT INTO audit_events (` + eventColumns + `)
	SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[])`

// appendTxPostgres is appendTx for PostgreSQL, where every statement is a
// round trip: it locks the head, chains evs after it, and writes them with
// the new head in one statement a chunk of arrayChunk events (a sweep's
// 4,000 events: one statement instead of 63). The head
// is locked from the first statement to the commit, so the fewer round trips
// also shorten the time other writers wait for it. The events and hashes
// are exactly those appendTx writes; Verify cannot tell them apart.
func (l *Log) appendTxPostgres(ctx context.Context, tx *store.Tx, evs []*Event) error {
	var seq int64
	var prev string
	// Row lock on the head serialises appenders across processes.
	if err := tx.QueryRow(ctx, headLock+` FOR UPDATE`).Scan(&seq, &prev); err != nil {
		return fmt.Errorf("lock audit head: %w", err)
	}
	rows, seq, prev := l.chain(evs, seq, prev)
	for start := 0; start < len(evs); start += arrayChunk {
		end := min(start+arrayChunk, len(evs))
		q, args := insertArrays, store.Columns(rows[13*start:13*end], 13)
		if end == len(evs) {
			// The last chunk moves the head in the same statement.
			q = `WITH head AS (UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1) ` + q
			args = append([]any{seq, prev}, args...)
		}
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("insert audit events: %w", err)
		}
	}
	return nil
}
