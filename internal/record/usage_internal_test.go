package record

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/clock"
)

type flakyMarker struct {
	fail bool
	got  []string
}

func (m *flakyMarker) MarkUsed(_ context.Context, _ time.Time, ids ...string) error {
	if m.fail {
		return errors.New("database unavailable")
	}
	m.got = append(m.got, ids...)
	return nil
}

// A last use whose write fails is written by the next flush, not lost.
func TestUsageKeptWhenTheWriteFails(t *testing.T) {
	m := &flakyMarker{fail: true}
	u := newUsage(m, clock.NewManual(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)), time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer u.close()
	u.note("u1")
	if err := u.flush(context.Background()); err == nil {
		t.Fatal("a failed write was not reported")
	}
	m.fail = false
	if err := u.flush(context.Background()); err != nil || len(m.got) != 1 || m.got[0] != "u1" {
		t.Fatalf("after the failure: %v %v", m.got, err)
	}
}
