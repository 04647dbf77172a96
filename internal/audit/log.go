package audit

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"

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
}

type pending struct {
	ev   Event
	done chan error
}

// maxBatch bounds the events one group commit carries.
const maxBatch = 256

// NewLog returns a Log writing to db; Close stops its group-commit writer.
func NewLog(db *store.DB, c clock.Clock) *Log {
	l := &Log{db: db, clock: c, queue: make(chan *pending, 4096), stop: make(chan struct{})}
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
func (l *Log) Record(ctx context.Context, tx *store.Tx, ev Event) error {
	return l.appendTx(ctx, tx, []*Event{&ev})
}

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
	fill:
		for len(batch) < maxBatch {
			select {
			case p := <-l.queue:
				batch = append(batch, p)
			default:
				break fill
			}
		}
		l.flush(batch)
	}
}

func (l *Log) flush(batch []*pending) {
	evs := make([]*Event, len(batch))
	for i, p := range batch {
		evs[i] = &p.ev
	}
	err := l.db.InTx(context.Background(), func(tx *store.Tx) error {
		return l.appendTx(context.Background(), tx, evs)
	})
	for _, p := range batch {
		p.done <- err
	}
}

const insertPrefix = `INSERT INTO audit_events (seq, at, actor_id, actor, action, object_type, object_id, outcome, ip, user_agent, detail, prev_hash, hash) VALUES `

// appendTx chains evs after the current head and inserts them in tx.
func (l *Log) appendTx(ctx context.Context, tx *store.Tx, evs []*Event) error {
	lock := `SELECT seq, hash FROM audit_head WHERE id = 1`
	if tx.Dialect() == store.Postgres {
		// Row lock on the head serialises appenders across processes. SQLite
		// needs none: the transaction began IMMEDIATE and is the only writer.
		lock += ` FOR UPDATE`
	}
	var seq int64
	var prev string
	if err := tx.QueryRow(ctx, lock).Scan(&seq, &prev); err != nil {
		return fmt.Errorf("lock audit head: %w", err)
	}
	now := l.clock.Now()
	h := sha256.New()
	for start := 0; start < len(evs); start += 64 {
		end := min(start+64, len(evs))
		var sb strings.Builder
		sb.WriteString(insertPrefix)
		args := make([]any, 0, 13*(end-start))
		for i, e := range evs[start:end] {
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
			if i > 0 {
				sb.WriteString(",")
			}
			sb.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?)")
			args = append(args, e.Seq, e.At.UnixMicro(), e.ActorID, e.Actor, e.Action, e.ObjectType, e.ObjectID,
				e.Outcome, e.IP, e.UserAgent, detail, e.PrevHash, e.Hash)
		}
		if _, err := tx.Exec(ctx, sb.String(), args...); err != nil {
			return fmt.Errorf("insert audit events: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1`, seq, prev); err != nil {
		return fmt.Errorf("advance audit head: %w", err)
	}
	return nil
}
