package audit

import (
	"context"
	"crypto/sha256"

	"github.com/caregate/caregate/internal/store"
)

// ChainHash exposes the chain hash to the external tests, which play an
// attacker who knows the algorithm and recomputes the hash of an edited row.
// fields are actor_id, actor, action, object_type, object_id, outcome, ip,
// user_agent and detail, as stored.
func ChainHash(seq, at int64, fields [9]string, prev string) string {
	var f [9][]byte
	for i, s := range fields {
		f[i] = []byte(s)
	}
	return chainHash(sha256.New(), seq, at, f, []byte(prev))
}

// RecordBatch writes evs in tx as Record would, in one pass: the benchmarks'
// quick way to fill a large trail.
func RecordBatch(ctx context.Context, l *Log, tx *store.Tx, evs []Event) error {
	ps := make([]*Event, len(evs))
	for i := range evs {
		ps[i] = &evs[i]
	}
	if tx.Dialect() == store.Postgres {
		return l.appendTxPostgres(ctx, tx, ps)
	}
	return l.appendTx(ctx, tx, ps)
}

// SplitVerify makes Verify check every trail in parts segments, so that
// small test trails exercise the stitching of segments; it returns the undo.
func SplitVerify(parts int64) func() {
	old := verifyParts
	verifyParts = func(n int64) int64 { return max(1, min(parts, n)) }
	return func() { verifyParts = old }
}

// SegmentQuery is the query Search runs on each segment of the trail.
func SegmentQuery(where ...string) string { return segmentQuery(where) }

// SegmentSize is how many events a segment holds.
const SegmentSize = 1 << segmentBits

// SegmentMoments is the query that reads a segment's first and last moments.
var SegmentMoments = segmentMoments
