package audit

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/store"
)

// Log writes to the audit trail.
type Log struct {
	db    *store.DB
	clock clock.Clock

	queue   chan *pending
	stop    chan struct{}
	stopped sync.WaitGroup

	// mu guards closed: Append holds it for reading while it enqueues, so
	// that once Close has set closed no event can slip into the queue after
	// the writer has drained it.
	mu     sync.RWMutex
	closed bool

	// The head as this process last wrote it (PostgreSQL group commits
	// only; touched by the writer goroutine alone).
	headKnown bool
	headSeq   int64
	headHash  string

	groups, grouped atomic.Int64 // group commits and the events they carried
}

// Stats returns how many group commits the writer has made and how many
// events they carried (events in callers' transactions not counted).
func (l *Log) Stats() (groups, events int64) { return l.groups.Load(), l.grouped.Load() }

type pending struct {
	ev   Event
	done chan error
}

// maxBatch bounds the events one group commit carries.
const maxBatch = 256

// NewLog returns a Log writing to db; Close stops its group-commit writer.
func NewLog(db *store.DB, c clock.Clock) *Log {
	l := &Log{db: db, clock: c, queue: make(chan *pending, 4096), stop: make(chan struct{})}
	// Failing to prepare is not fatal: the statements then run unprepared.
	_ = db.PrepareHot(context.Background(), append(insertSizes(), headLock, headAdvance)...)
	l.stopped.Add(1)
	go l.writer()
	return l
}

// Close drains queued events and stops the writer.
func (l *Log) Close() {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.stop)
	}
	l.mu.Unlock()
	l.stopped.Wait()
}

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("audit log closed")

// Record writes ev inside tx: it commits or rolls back with the caller's
// change. The caller's transaction holds the chain head until it ends, so
// keep such transactions short.
//
// Events are gathered and chained just before the transaction commits, in
// the order they were recorded: a transaction that records many events (a
// bulk completion) writes them in a few statements (on PostgreSQL, one
// statement for up to 5,000 events), and the head of the
// chain is locked only at the end of the transaction, not for its whole
// length.
func (l *Log) Record(ctx context.Context, tx *store.Tx, ev Event) error {
	key := pendingKey{l}
	buf, _ := tx.Value(key).(*[]*Event)
	if buf == nil {
		buf = new([]*Event)
		tx.SetValue(key, buf)

		if tx.Dialect() == store.Postgres {
			// The head is a row lock that other connections and processes
			// wait for: it is taken after the transaction's other
			// before-commit work (its e-mails), not before.
			tx.BeforeCommitLast(func() error {
				if len(*buf) == 0 {
					return nil
				}
				return l.appendTxPostgres(context.WithoutCancel(ctx), tx, *buf)
			})
		} else {
			// SQLite's one writer holds the whole database already: the
			// events are written in turn with other before-commit work, so
			// that work registered later (e-mails being rendered) goes on
			// meanwhile.
			tx.BeforeCommit(func() error {
				if len(*buf) == 0 {
					return nil
				}
				return l.appendTx(context.WithoutCancel(ctx), tx, *buf)
			})
		}
	}
	n := len(*buf)
	*buf = append(*buf, &ev)
	tx.OnUndo(func() { *buf = (*buf)[:n] })
	return nil
}

// pendingKey keys a transaction's unwritten events.
type pendingKey struct{ l *Log }

// Append writes ev in a transaction of its own, shared with other concurrent
// callers, and returns once the event is durably committed (or failed).
func (l *Log) Append(ctx context.Context, ev Event) error {
	p := &pending{ev: ev, done: make(chan error, 1)}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	select {
	case l.queue <- p: // the writer runs until closed is set, so this completes
	case <-ctx.Done():
		l.mu.RUnlock()
		return ctx.Err()
	}
	l.mu.RUnlock()
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		// The event may still be written; the caller must treat the outcome as
		// unknown and not release data that depended on it.
		return ctx.Err()
	}
}

func (l *Log) writer() {
	defer l.stopped.Done()
	batch := make([]*pending, 0, maxBatch)
	for {
		var first *pending
		select {
		case first = <-l.queue:
		case <-l.stop:
			// Drain what is already queued, then exit.
			for {
				select {
				case p := <-l.queue:
					l.flush([]*pending{p})
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
		batch = l.gather(batch)
		l.flush(batch)
	}
}

// gather adds to batch what is queued. When the previous commit ends, the
// callers it answered queue their next events over the next few
// microseconds, and the writer, woken by the first of them, would otherwise
// commit that one nearly alone and make the rest wait for a second commit
// (with its disk sync). So it yields to them while more keep arriving: a
// handful of scheduler turns, nothing when nobody else is running.
func (l *Log) gather(batch []*pending) []*pending {
	for turn := 0; len(batch) < maxBatch; turn++ {
		before := len(batch)
	drain:
		for len(batch) < maxBatch {
			select {
			case p := <-l.queue:
				batch = append(batch, p)
			default:
				break drain
			}
		}
		if turn > 0 && len(batch) == before || turn == maxGatherTurns {
			return batch
		}
		runtime.Gosched()
	}
	return batch
}

// maxGatherTurns bounds how long gather waits for more events.
const maxGatherTurns = 8

func (l *Log) flush(batch []*pending) {
	evs := make([]*Event, len(batch))
	for i, p := range batch {
		evs[i] = &p.ev
	}
	var err error
	if l.db.Dialect == store.Postgres {
		err = l.appendPostgres(context.Background(), evs)
	} else {
		err = l.db.InTx(context.Background(), func(tx *store.Tx) error {
			return l.appendTx(context.Background(), tx, evs)
		})
	}
	if err == nil {
		l.groups.Add(1)
		l.grouped.Add(int64(len(batch)))
	}
	for _, p := range batch {
		p.done <- err
	}
}

// eventColumns are the columns of an audit event, in the order chain
// returns their values.
const eventColumns = `seq, at, actor_id, actor, action, object_type, object_id, outcome, ip, user_agent, detail, prev_hash, hash`

// chain gives evs their sequence numbers and hashes after (seq, prev) and
// returns the insert arguments, 13 per event, and the new head.
func (l *Log) chain(evs []*Event, seq int64, prev string) ([]any, int64, string) {
	now := l.clock.Now()
	h := sha256.New()
	args := make([]any, 0, 13*len(evs))
	for _, e := range evs {
		seq++
		if e.At.IsZero() {
			e.At = now
		}
		e.At = e.At.UTC().Truncate(1000) // stored in microseconds
		if e.Outcome == "" {
			e.Outcome = Success
		}
		e.clean()
		detail := encodeDetail(e.Detail)
		e.Seq = seq
		e.PrevHash = prev
		e.Hash = chainHash(h, seq, e.At.UnixMicro(), e.fields(detail), []byte(prev))
		prev = e.Hash
		args = append(args, e.Seq, e.At.UnixMicro(), e.ActorID, e.Actor, e.Action, e.ObjectType, e.ObjectID,
			e.Outcome, e.IP, e.UserAgent, detail, e.PrevHash, e.Hash)
	}
	return args, seq, prev
}

// The statements of appendTx: the head read and advanced, and the inserts
// of 64, 16, 4 and 1 events (a group is written in those sizes so that
// SQLite can keep the few statements prepared).
const (
	headLock    = `SELECT seq, hash FROM audit_head WHERE id = 1`
	headAdvance = `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`
)

var insertRows = []int{64, 16, 4, 1}

// insertStatements holds the insert of each size in insertRows. They are
// OR FAIL: a statement that could stop half-way with ABORT makes SQLite copy
// every page it changes to a statement journal first, and a failed insert
// rolls the whole transaction back anyway.
var insertStatements = func() map[int]string {
	m := map[int]string{}
	for _, n := range insertRows {
		m[n] = `INSERT OR FAIL INTO audit_events (` + eventColumns + `) VALUES ` + store.Values(n, 13)
	}
	return m
}()

func insertSizes() []string {
	var qs []string
	for _, n := range insertRows {
		qs = append(qs, insertStatements[n])
	}
	return qs
}

// appendTx chains evs after the current head and inserts them in tx, on
// SQLite: the transaction began IMMEDIATE and is the only writer, so the
// head needs no lock. PostgreSQL has appendTxPostgres and appendPostgres.
func (l *Log) appendTx(ctx context.Context, tx *store.Tx, evs []*Event) error {
	var seq int64
	var prev string
	if err := tx.QueryRowHot(ctx, headLock).Scan(&seq, &prev); err != nil {
		return fmt.Errorf("lock audit head: %w", err)
	}
	args, seq, prev := l.chain(evs, seq, prev)
	for start := 0; start < len(evs); {
		n := 1
		for _, size := range insertRows {
			if len(evs)-start >= size {
				n = size
				break
			}
		}
		if _, err := tx.ExecHot(ctx, insertStatements[n], args[13*start:13*(start+n)]...); err != nil {
			return fmt.Errorf("insert audit events: %w", err)
		}
		start += n
	}
	if _, err := tx.ExecHot(ctx, headAdvance, seq, prev); err != nil {
		return fmt.Errorf("advance audit head: %w", err)
	}
	return nil
}

// appendPostgres writes a group of events in ONE statement, committed on its
// own: it advances the head only if the head is still where this process
// last saw it, and inserts the events only if the head moved. Another
// process (or a Record in someone's transaction) that got there first makes
// the statement insert nothing; we then read the new head and chain again.
// One round trip and one commit per group, instead of a locked transaction
// of five round trips, while several processes keep one valid chain.
func (l *Log) appendPostgres(ctx context.Context, evs []*Event) error {
	var sb strings.Builder
	for attempt := 0; ; attempt++ {
		if !l.headKnown {
			if err := l.db.QueryRow(ctx, headLock).Scan(&l.headSeq, &l.headHash); err != nil {
				return fmt.Errorf("read audit head: %w", err)
			}
			l.headKnown = true
		}
		args, seq, prev := l.chain(evs, l.headSeq, l.headHash)
		sb.Reset()
		sb.WriteString(`WITH head AS (UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1 AND seq = ? AND hash = ? RETURNING 1) ` +
			`INSERT INTO audit_events (` + eventColumns + `) ` +
			`SELECT v.* FROM (VALUES `)
		for i := range evs {
			if i > 0 {
				sb.WriteByte(',')
			}
			// Parameters in VALUES have no column to take a type from.
			sb.WriteString(`(?::bigint,?::bigint,?::text,?::text,?::text,?::text,?::text,?::text,?::text,?::text,?::text,?::text,?::text)`)
		}
		sb.WriteString(`) AS v WHERE EXISTS (SELECT 1 FROM head)`)
		res, err := l.db.Exec(ctx, sb.String(), append([]any{seq, prev, l.headSeq, l.headHash}, args...)...)
		if err != nil {
			l.headKnown = false
			return fmt.Errorf("insert audit events: %w", err)
		}
		if n, err := res.RowsAffected(); err == nil && n == int64(len(evs)) {
			l.headSeq, l.headHash = seq, prev
			return nil
		}
		l.headKnown = false // someone else moved the head: read it and chain again
		if attempt > 1000 {
			return fmt.Errorf("insert audit events: the chain head kept moving")
		}
	}
}
