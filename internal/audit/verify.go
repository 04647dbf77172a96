package audit

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"sync"

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

// Verify reads the whole trail and checks every link. It returns the number
// of events checked and, when the trail is not intact, a *Break naming the
// first bad event. Other errors are failures to read.
//
// Each event's hash covers its own fields and its stored link, so segments of
// the trail can be checked independently: Verify splits the trail at the
// head it reads into one segment per processor, checks them on separate read
// connections, then checks that each segment links to the one before it.
// Events up to the head never change in an intact trail, so appends made
// while it reads (by this or other processes) do not disturb it.
func Verify(ctx context.Context, db *store.DB) (int64, error) {
	// The head and whatever lies beyond it come from one read-only snapshot.
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
	var headSeq, beyond, maxSeq int64
	var headHash string
	if err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&headSeq, &headHash); err != nil {
		return 0, fmt.Errorf("read audit head: %w", err)
	}
	if err := tx.QueryRowContext(ctx, db.Rebind(`SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM audit_events WHERE seq > ?`), headSeq).Scan(&beyond, &maxSeq); err != nil {
		return 0, fmt.Errorf("read audit events: %w", err)
	}
	_ = tx.Rollback()

	parts := verifyParts(headSeq)
	segs := make([]segment, parts)
	var wg sync.WaitGroup
	for i := range segs {
		segs[i].lo = 1 + headSeq*int64(i)/parts
		segs[i].hi = headSeq * int64(i+1) / parts
		segs[i].final = i == len(segs)-1
		wg.Go(func() { segs[i].check(ctx, db) })
	}
	wg.Wait()

	// The first problem in trail order wins: segments are in order, and a
	// segment's own break comes before its link to the next one matters.
	var checked int64
	var prevLast []byte
	for i := range segs {
		sg := &segs[i]
		if sg.err != nil {
			return checked, fmt.Errorf("read audit events: %w", sg.err)
		}
		if sg.n > 0 && !bytes.Equal(sg.firstPrev, prevLast) {
			return checked, &Break{Seq: sg.lo, Reason: brokenLink}
		}
		if sg.brk != nil {
			return checked + sg.n, sg.brk
		}
		checked += sg.n
		prevLast = sg.prev
	}
	if beyond > 0 {
		return checked, &Break{Seq: headSeq + 1, Reason: "events exist beyond the recorded end of the trail (inserted)"}
	}
	if headSeq > 0 && headHash != string(prevLast) {
		return checked, &Break{Seq: headSeq, Reason: "the last event does not match the recorded end of the trail (changed)"}
	}
	return checked, nil
}

// segment is a run of the trail, events lo..hi, checked on its own.
type segment struct {
	lo, hi    int64
	n         int64  // events checked before any break (so lo+n is the next expected)
	firstPrev []byte // the stored link of event lo
	prev      []byte // the hash of the last event checked: of event hi once intact
	brk       *Break
	err       error
	final     bool // the last segment, ending at the head
}

// brokenLink is the reason given when an event's stored link is not the
// hash of the event before it.
const brokenLink = "its link to the previous event does not match (an event before it was removed, or events were reordered)"

// verifyParts says how many segments to check a trail of n events in: one
// per processor (at most 8), each of at least 50,000 events.
var verifyParts = func(n int64) int64 {
	return max(1, min(int64(runtime.GOMAXPROCS(0)), 8, n/50_000))
}

func (sg *segment) check(ctx context.Context, db *store.DB) {
	if sg.hi < sg.lo {
		return
	}
	sg.err = sg.read(ctx, db)
	if sg.err != nil || sg.brk != nil {
		return
	}
	if want := sg.lo + sg.n; want <= sg.hi {
		if sg.final {
			sg.brk = &Break{Seq: want, Reason: fmt.Sprintf("the trail ends at event %d but %d events were written (events at the end were removed)", want-1, sg.hi)}
		} else {
			sg.brk = &Break{Seq: want, Reason: fmt.Sprintf("event %d is missing (removed)", want)}
		}
	}
}

// read reads the segment's events in order, in a read-only
// transaction of its own, and visits each.
func (sg *segment) read(ctx context.Context, db *store.DB) error {
	if db.Dialect == store.Postgres {
		return sg.readPostgres(ctx, db)
	}
	return sg.readSQLite(ctx, db)
}

// hashedColumns are the text columns an event's hash covers, in order.
const hashedColumns = `actor_id, actor, action, object_type, object_id, outcome, ip, user_agent, detail`

// visit checks the next event read: that it is the one expected, that it
// links to the event before it and that its contents match its hash (intact,
// computed by the caller). It reports false at the first break.
func (sg *segment) visit(seq int64, prevHash, hash []byte, intact bool) bool {
	if want := sg.lo + sg.n; seq != want {
		if seq > want {
			sg.brk = &Break{Seq: want, Reason: fmt.Sprintf("event %d is missing (removed); the next event present is %d", want, seq)}
		} else {
			sg.brk = &Break{Seq: seq, Reason: "sequence number repeated or out of order"}
		}
		return false
	}
	if sg.n == 0 {
		sg.firstPrev = append([]byte(nil), prevHash...)
	} else if !bytes.Equal(prevHash, sg.prev) {
		sg.brk = &Break{Seq: seq, Reason: brokenLink}
		return false
	}
	if !intact {
		sg.brk = &Break{Seq: seq, Reason: "its contents do not match its hash (the event was changed)"}
		return false
	}
	sg.prev = append(sg.prev[:0], hash...)
	sg.n++
	return true
}
