// Package clock provides the single injectable source of time used by every
// time-based rule (expiries, session lifetimes, SLAs). Production code reads
// System; tests and demo mode use a Manual clock they can move forward.
package clock

import (
	"sync"
	"time"
)

// Clock tells the current time.
type Clock interface {
	Now() time.Time
}

// System is the wall clock.
type System struct{}

// Now returns the current UTC time.
func (System) Now() time.Time { return time.Now().UTC() }

// Offset is the wall clock shifted forward by an adjustable amount. Demo mode
// uses it so that administrators can move time on while the server runs.
type Offset struct {
	mu    sync.Mutex
	off   time.Duration
	hooks []func(now time.Time)
}

// Now returns the wall clock plus the offset.
func (o *Offset) Now() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return time.Now().UTC().Add(o.off)
}

// Advance moves the clock forward by d (negative values are ignored: time in
// CareGate never runs backwards).
func (o *Offset) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	o.mu.Lock()
	o.off += d
	hooks := o.hooks
	o.mu.Unlock()
	for _, fn := range hooks {
		fn(o.Now())
	}
}

// OnAdvance registers fn to run after each move, with the new time, in the
// goroutine that moved the clock: demo mode runs the time-based rules at
// once, so that a move is seen acting.
func (o *Offset) OnAdvance(fn func(now time.Time)) {
	o.mu.Lock()
	o.hooks = append(o.hooks, fn)
	o.mu.Unlock()
}

// Manual is a clock that only moves when told to; for tests.
type Manual struct {
	mu sync.Mutex
	t  time.Time
}

// NewManual returns a Manual clock set to t.
func NewManual(t time.Time) *Manual { return &Manual{t: t.UTC()} }

// Now returns the clock's current time.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t
}

// Advance moves the clock forward by d.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	m.t = m.t.Add(d)
	m.mu.Unlock()
}

// Offset returns how far the clock has been moved forward.
func (o *Offset) Offset() time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.off
}
