package lifecycle_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/lifecycle"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// The periodic job logs what a sweep did, with its counts, and stays
// silent when nothing was due.
func TestJobLogsCounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorld(t, db)
		var buf lockedBuffer
		l := audit.NewLog(db, w.clock)
		t.Cleanup(l.Close)
		svc, err := lifecycle.NewService(db, l, w.clock, notify.NewOutbox(w.clock),
			slog.New(slog.NewTextHandler(&buf, nil)), lifecycle.Config{})
		if err != nil {
			t.Fatal(err)
		}
		o := w.organisation("RY4")
		w.invitation(w.site(o, "Ward 7"), o, "ivy@nhs.net")
		if err := svc.Job(w.ctx, w.clock.Now()); err != nil || buf.String() != "" {
			t.Fatalf("nothing due: %v, logged %q", err, buf.String())
		}
		w.at(t0.Add(30 * day))
		if err := svc.Job(w.ctx, w.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if got := buf.String(); !strings.Contains(got, `msg="lifecycle sweep" invitations_expired=1 inactivity_warned=0`) || !strings.Contains(got, "emails=0") {
			t.Fatalf("log: %q", got)
		}
	})
}
