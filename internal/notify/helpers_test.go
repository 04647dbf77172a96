package notify_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/jobs"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/store"
)

// syncBuffer collects log output written from job goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rig is a delivering outbox on a database, with its job runner (not yet
// started), audit log, manual clock and captured logs.
type rig struct {
	db     *store.DB
	clock  *clock.Manual
	runner *jobs.Runner
	outbox *notify.Outbox
	audit  *audit.Log
	logs   *syncBuffer
}

// testRetry is the production schedule, except that a waiting delivery
// looks at the (manual) clock every 50 ms instead of every minute.
var testRetry = notify.Retry{Recheck: 50 * time.Millisecond}

func newRig(t testing.TB, db *store.DB, smtpURL string, retry notify.Retry) *rig {
	t.Helper()
	ctx := context.Background()
	if _, err := jobs.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	r := &rig{db: db, clock: clock.NewManual(time.Now().Truncate(time.Second)), logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var err error
	// River polls at its minimum (100 ms) so snoozed retries wake promptly;
	// new jobs are announced by notifications and need no polling.
	r.runner, err = jobs.NewWithOptions(db, log, r.clock, jobs.Options{PollInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r.audit = audit.NewLog(db, r.clock)
	t.Cleanup(func() {
		stop, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := r.runner.Stop(stop); err != nil {
			t.Errorf("stop runner: %v", err)
		}
		r.audit.Close()
	})
	cfg, err := notify.ParseSMTPURL(smtpURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Timeout = 3 * time.Second
	mailer, err := notify.NewSMTP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.outbox, err = notify.NewOutboxWith(notify.Options{Clock: r.clock, Mailer: mailer, DB: db, Jobs: r.runner,
		Audit: r.audit, Log: log, Retry: retry})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) start(t testing.TB) {
	t.Helper()
	if err := r.runner.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) enqueue(t testing.TB, m notify.Message) string {
	t.Helper()
	ctx := context.Background()
	var id string
	if err := r.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		id, err = r.outbox.Enqueue(ctx, tx, m)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return id
}

// message reads a message back with its bodies as the portal would in
// no-SMTP mode.
func (r *rig) message(t testing.TB, id string) *notify.OutboxMessage {
	t.Helper()
	m, err := notify.Get(context.Background(), r.db, id, true)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// waitMessage waits until ok holds for message id.
func (r *rig) waitMessage(t testing.TB, id, what string, d time.Duration, ok func(*notify.OutboxMessage) bool) *notify.OutboxMessage {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		m := r.message(t, id)
		if ok(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for message %s to be %s; it is %s after %d attempts (last error %q)",
				d, id, what, m.Status, m.Attempts, m.LastError)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func countRows(t testing.TB, db *store.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
