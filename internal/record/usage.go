package record

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/caregate/caregate/internal/clock"
)

// usage gathers the people who used the record and writes their accounts'
// last use in one statement every few seconds, instead of a write per
// request. A process that stops loses at most the last few seconds of
// last-use marks, never an audit event; with several processes each writes
// its own, and the update only ever moves the time forward.
type usage struct {
	marker UsageMarker
	clock  clock.Clock
	log    *slog.Logger

	mu      sync.Mutex
	pending map[string]struct{}

	stop    chan struct{}
	stopped chan struct{}
	once    sync.Once
}

func newUsage(m UsageMarker, c clock.Clock, every time.Duration, log *slog.Logger) *usage {
	u := &usage{marker: m, clock: c, log: log, pending: map[string]struct{}{}, stop: make(chan struct{}), stopped: make(chan struct{})}
	go u.run(every)
	return u
}

func (u *usage) note(userID string) {
	u.mu.Lock()
	u.pending[userID] = struct{}{}
	u.mu.Unlock()
}

func (u *usage) flush(ctx context.Context) error {
	u.mu.Lock()
	if len(u.pending) == 0 {
		u.mu.Unlock()
		return nil
	}
	ids := make([]string, 0, len(u.pending))
	for id := range u.pending {
		ids = append(ids, id)
	}
	u.pending = map[string]struct{}{}
	u.mu.Unlock()
	if u.marker == nil {
		return nil
	}
	at := u.clock.Now()
	if err := u.marker.MarkUsed(ctx, at, ids...); err != nil {
		// Kept for the next flush rather than lost: a use still counts
		// against the inactivity rule when it is written late.
		u.mu.Lock()
		for _, id := range ids {
			u.pending[id] = struct{}{}
		}
		u.mu.Unlock()
		return err
	}
	return nil
}

func (u *usage) run(every time.Duration) {
	defer close(u.stopped)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := u.flush(context.Background()); err != nil {
				u.log.Warn("record last use not written", "err", err)
			}
		case <-u.stop:
			if err := u.flush(context.Background()); err != nil {
				u.log.Warn("record last use not written", "err", err)
			}
			return
		}
	}
}

func (u *usage) close() {
	u.once.Do(func() { close(u.stop) })
	<-u.stopped
}
