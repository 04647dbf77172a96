// Package notify sends e-mail through a durable outbox. A change that causes
// a message calls Enqueue inside its own transaction, so the message (and
// the job that delivers it) exists if and only if the change committed;
// background jobs deliver it over SMTP with retries and back-off, and mark it
// sent only once the server has accepted it. Without SMTP configured the
// messages stay in the outbox, where administrators read them in the portal.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"golang.org/x/sync/errgroup"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/jobs"
	"github.com/caregate/caregate/internal/store"
)

// Message is one e-mail to queue. Kind names its template (see the Kind
// constants); Data fills it.
type Message struct {
	To          string
	Kind        string
	Data        map[string]string
	RelatedType string // what it is about, e.g. "access_request"
	RelatedID   string
	Sensitive   bool // carries a secret (a one-time password); credentials_password always does
}

// Outbox queues messages and, when it has a mail server, delivers them.
type Outbox struct {
	clock     clock.Clock
	templates map[string]kindTemplates

	// Delivery; all nil without an SMTP server.
	db     *store.DB
	jobs   *jobs.Runner
	mailer Mailer
	audit  *audit.Log
	log    *slog.Logger
	retry  Retry
}

// Retry is the delivery schedule of a message the mail server did not
// accept: the first retry after First, each later one after twice the last
// wait, never more than Max; once the message is GiveUpAfter old (by the
// CareGate clock) it is marked failed and no longer tried.
type Retry struct {
	First       time.Duration // default 30 s
	Max         time.Duration // default 1 h
	GiveUpAfter time.Duration // default 24 h
	// Recheck bounds how long a waiting delivery sleeps before it looks at
	// the clock again (default 1 min), so that a clock moved forward (demo
	// mode, tests) brings the next attempt forward too.
	Recheck time.Duration
}

func (r Retry) withDefaults() Retry {
	if r.First <= 0 {
		r.First = 30 * time.Second
	}
	if r.Max <= 0 {
		r.Max = time.Hour
	}
	if r.GiveUpAfter <= 0 {
		r.GiveUpAfter = 24 * time.Hour
	}
	if r.Recheck <= 0 {
		r.Recheck = time.Minute
	}
	return r
}

// after returns the wait before the next attempt, given how many attempts
// have failed (1 or more).
func (r Retry) after(failed int) time.Duration {
	d := r.First
	for i := 1; i < failed && d < r.Max; i++ {
		d *= 2
	}
	return min(d, r.Max)
}

// NewOutbox returns an outbox that keeps messages without delivering them
// (the embedded default, and tests of the code that enqueues).
func NewOutbox(c clock.Clock) *Outbox {
	o, err := NewOutboxWith(Options{Clock: c})
	if err != nil {
		// Only delivery options can be wrong, and there are none here; the
		// templates are embedded and parsed by every test run.
		panic("notify: " + err.Error())
	}
	return o
}

// Options configure an outbox that delivers.
type Options struct {
	Clock clock.Clock
	// Mailer hands messages to the mail server; nil keeps them in the
	// outbox (no delivery attempts), readable in the portal.
	Mailer Mailer
	// DB and Jobs are required with a Mailer: Enqueue inserts a delivery
	// job beside each message, and the Runner works them.
	DB   *store.DB
	Jobs *jobs.Runner
	// Audit records messages given up on (optional).
	Audit *audit.Log
	Log   *slog.Logger
	Retry Retry
}

// NewOutboxWith returns an outbox configured by o. With a Mailer it
// registers on o.Jobs the delivery worker and a sweep (every minute, and at
// start) that queues a delivery for every pending message that has none:
// messages kept while no server was configured, or whose job was lost.
func NewOutboxWith(o Options) (*Outbox, error) {
	t, err := parseTemplates()
	if err != nil {
		return nil, err
	}
	if o.Clock == nil {
		o.Clock = clock.System{}
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	ob := &Outbox{clock: o.Clock, templates: t, log: o.Log, retry: o.Retry.withDefaults()}
	if o.Mailer == nil {
		return ob, nil
	}
	if o.DB == nil || o.Jobs == nil {
		return nil, errors.New("notify: delivery needs the database and the job runner")
	}
	ob.db, ob.jobs, ob.mailer, ob.audit = o.DB, o.Jobs, o.Mailer, o.Audit
	jobs.Register(o.Jobs, &deliverWorker{o: ob})
	o.Jobs.Every("outbox_sweep", time.Minute, ob.sweep)
	return ob, nil
}

// Delivers reports whether this outbox sends messages (an SMTP server is
// configured). When it does not, messages stay pending in the outbox.
func (o *Outbox) Delivers() bool { return o != nil && o.mailer != nil }

// Enqueue renders m and writes it to the outbox inside tx, due at once, and
// (when delivering) queues its delivery job in the same transaction. It
// refuses an unknown kind, missing data and a missing recipient. It returns
// the message's id.
//
// The message is checked and rendered at once (a refusal is returned here),
// and written with the transaction's other messages just before it commits:
// a transaction that sends many (a bulk completion) writes them in a few
// multi-row inserts with their delivery jobs in one batch.
func (o *Outbox) Enqueue(ctx context.Context, tx *store.Tx, m Message) (string, error) {
	row, err := o.row(m, o.clock.Now().UnixMicro())
	if err != nil {
		return "", err
	}
	key := pendingKey{o}
	buf, _ := tx.Value(key).(*[][]any)
	if buf == nil {
		buf = new([][]any)
		tx.SetValue(key, buf)
		tx.BeforeCommit(func() error {
			if len(*buf) == 0 {
				return nil
			}
			return o.write(context.WithoutCancel(ctx), tx, *buf)
		})
	}
	n := len(*buf)
	*buf = append(*buf, row)
	tx.OnUndo(func() { *buf = (*buf)[:n] })
	return row[0].(string), nil
}

// pendingKey keys a transaction's unwritten messages.
type pendingKey struct{ o *Outbox }

// row checks and renders a message into its outbox row.
func (o *Outbox) row(m Message, now int64) ([]any, error) {
	k, err := check(m)
	if err != nil {
		return nil, err
	}
	subject, text, html, err := o.render(m.Kind, m.Data)
	if err != nil {
		return nil, err
	}
	sensitive := 0
	if m.Sensitive || k.sensitive {
		sensitive = 1
	}
	return []any{ident.New(), now, m.To, subject, text, html, m.Kind, m.RelatedType, m.RelatedID, now, sensitive}, nil
}

// insertChunk bounds the rows of one multi-row INSERT (11 parameters each,
// well under SQLite's parameter limit); arrayChunk those of one insert of
// arrays on PostgreSQL: about a megabyte of rendered messages, which the
// driver keeps as the connection's buffer once it has sent it.
const (
	insertChunk = 50
	arrayChunk  = 500
)

// EnqueueMany is Enqueue for several messages at once, for bulk actions: the
// rows go in multi-row inserts and their delivery jobs in one batch (one
// statement on PostgreSQL), which costs much less than one Enqueue each. It
// writes nothing if any message is refused. It returns the ids in order.
func (o *Outbox) EnqueueMany(ctx context.Context, tx *store.Tx, ms []Message) ([]string, error) {
	rows, err := o.rows(ms, o.clock.Now().UnixMicro())
	if err != nil {
		return nil, err
	}
	if err := o.write(ctx, tx, rows); err != nil {
		return nil, err
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r[0].(string)
	}
	return ids, nil
}

// rows checks and renders ms into their outbox rows, in order. Rendering is
// most of the cost and needs no database: a large batch is rendered on
// every core.
func (o *Outbox) rows(ms []Message, now int64) ([][]any, error) {
	rows := make([][]any, len(ms))
	workers := 1
	if len(ms) >= 64 {
		workers = min(runtime.GOMAXPROCS(0), len(ms)/32)
	}
	var g errgroup.Group
	per := (len(ms) + workers - 1) / workers
	for start := 0; start < len(ms); start += per {
		end := min(start+per, len(ms))
		g.Go(func() error {
			for i := start; i < end; i++ {
				r, err := o.row(ms[i], now)
				if err != nil {
					return err
				}
				rows[i] = r
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return rows, nil
}

// write inserts outbox rows and queues their delivery.
func (o *Outbox) write(ctx context.Context, tx *store.Tx, rows [][]any) error {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r[0].(string)
	}
	const cols = ` INTO outbox (id, created_at, to_addr, subject, text_body, html_body, kind, related_type, related_id, next_attempt_at, sensitive) `
	const values = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// On PostgreSQL, where every statement is a round trip, the rows go as
	// one array a column: a rule's 3,000 messages in six statements, not 60.
	const arrays = `SELECT * FROM unnest(?::text[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::bigint[])`
	pg := tx.Dialect() == store.Postgres
	chunk := insertChunk
	if pg {
		chunk = arrayChunk
	}
	// On SQLite, INSERT OR FAIL: by default SQLite copies every page a
	// multi-row statement changes into a statement journal (a temporary
	// file), so that the statement alone can be undone if it fails. A
	// failed insert here fails the caller's transaction or savepoint, which
	// is rolled back whole (as PostgreSQL requires of code that runs on both
	// engines), so the copy is never used.
	insert := `INSERT`
	if !pg {
		insert = `INSERT OR FAIL`
	}
	for len(rows) > 0 {
		n := min(len(rows), chunk)
		args := make([]any, 0, n*11)
		for _, r := range rows[:n] {
			args = append(args, r...)
		}
		q := insert + cols + `VALUES ` + values + strings.Repeat(", "+values, n-1)
		if pg {
			q, args = insert+cols+arrays, store.Columns(args, 11)
		}
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("queue e-mail: %w", err)
		}
		rows = rows[n:]
	}
	if o.Delivers() && len(ids) > 0 {
		return o.queueDeliveries(ctx, tx, ids)
	}
	return nil
}

// queueDeliveries inserts the delivery jobs of messages, skipping any
// message whose job is already queued, waiting or running.
func (o *Outbox) queueDeliveries(ctx context.Context, tx *store.Tx, ids []string) error {
	ps := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		ps[i] = river.InsertManyParams{Args: deliverArgs{ID: id}, InsertOpts: &river.InsertOpts{UniqueOpts: jobs.UniqueWhileLive()}}
	}
	_, err := o.jobs.InsertManyTx(ctx, tx, ps)
	return err
}
