package httpauth

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
)

// RememberFor is how long an instance remembers a caller it identified, at
// most: identifying a caller (the session or token, the account and its
// roles) was half the CPU of a record read. Nothing is remembered past a
// change that could alter the caller: every such change moves the
// auth_generation count in the database (triggers keep it; see migration
// 0007), every request with credentials reads the count, and a remembered
// caller is used only while the count is the one it was identified under.
// A sign-out, a deactivation, a withdrawn role thus takes effect at once
// on every instance. The limit bounds how long a session's last use goes
// unrecorded, and a session is never remembered past its own end.
const RememberFor = 30 * time.Second

// maxRemembered bounds the callers remembered; when full, all are forgotten.
const maxRemembered = 50000

// remembered is a caller identified under generation gen.
type remembered struct {
	gen   int64
	until time.Time
	user  auth.User
	sess  *auth.Session // nil for an API token
	p     authz.Principal
}

type memory struct {
	mu sync.RWMutex
	m  map[string]*remembered
}

func (m *memory) get(key string) *remembered {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.m[key]
}

func (m *memory) put(key string, r *remembered) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil || len(m.m) >= maxRemembered {
		m.m = map[string]*remembered{}
	}
	m.m[key] = r
}

// generation reads the auth_generation count; ok is false if it cannot be
// read, and then nothing is remembered or recalled. Requests share reads:
// a request takes the count from a read that began after the request did
// (its own, or one already started for others), never from an earlier one.
// So every change committed before a request arrived is seen, as if each
// request read the count itself, while under load one read serves all the
// requests that arrived during the one before it.
func (a *Authenticator) generation(ctx context.Context) (gen int64, ok bool) {
	return a.gens.get(ctx, func(ctx context.Context) (int64, bool) {
		var gen int64
		if err := a.db.QueryRow(ctx, `SELECT gen FROM auth_generation WHERE id = 1`).Scan(&gen); err != nil {
			return 0, false
		}
		return gen, true
	})
}

// sharedReads lets concurrent requests share reads of a value that must be
// read after each request began. Reads are numbered as they start, one at
// a time.
type sharedReads struct {
	mu      sync.Mutex
	started int64       // how many reads have started
	cur     *sharedRead // the read under way, number started; nil if none
	last    *sharedRead // the last read finished, number lastN
	lastN   int64
	waiting atomic.Int32 // requests waiting for a read under way, for tests
}

type sharedRead struct {
	done chan struct{}
	v    int64
	ok   bool
}

// get returns the value of a read that started after get was called:
// it waits for such a read under way, or makes one.
func (g *sharedReads) get(ctx context.Context, read func(context.Context) (int64, bool)) (int64, bool) {
	g.mu.Lock()
	arrived := g.started // reads numbered above this began after us
	for {
		if g.last != nil && g.lastN > arrived {
			r := g.last
			g.mu.Unlock()
			return r.v, r.ok
		}
		if r := g.cur; r != nil {
			n := g.started
			g.waiting.Add(1)
			g.mu.Unlock()
			select {
			case <-r.done:
			case <-ctx.Done():
			}
			g.waiting.Add(-1)
			if ctx.Err() != nil {
				return 0, false
			}
			if n > arrived {
				return r.v, r.ok
			}
			g.mu.Lock()
			continue
		}
		g.started++
		n, r := g.started, &sharedRead{done: make(chan struct{})}
		g.cur = r
		g.mu.Unlock()
		g.make(ctx, n, r, read)
		return r.v, r.ok
	}
}

// make runs read as read number n and hands its value to those waiting,
// even if read panics (they then get ok false).
func (g *sharedReads) make(ctx context.Context, n int64, r *sharedRead, read func(context.Context) (int64, bool)) {
	defer func() {
		g.mu.Lock()
		g.cur = nil
		if n > g.lastN {
			g.last, g.lastN = r, n
		}
		g.mu.Unlock()
		close(r.done)
	}()
	// Not cancelled with this request: others may be waiting on it.
	r.v, r.ok = read(context.WithoutCancel(ctx))
}

// recall fills c from a caller remembered under key, if there is one that
// is still good at generation gen; each request gets its own copies.
func (a *Authenticator) recall(key string, gen int64, c *Caller) bool {
	r := a.memory.get(key)
	if r == nil || r.gen != gen || !a.users.Now().Before(r.until) {
		return false
	}
	u, p := copyCaller(&r.user, &r.p)
	p.IP, p.UserAgent = c.IP, c.UserAgent
	c.User, c.Principal = u, p
	if r.sess != nil {
		s := *r.sess
		c.Session = &s
	}
	return true
}

// remember keeps a fully identified caller under key at generation gen
// (read before the caller was loaded, so that a change committed meanwhile
// makes the next request identify it afresh).
func (a *Authenticator) remember(key string, gen int64, c *Caller) {
	if c.Principal == nil || c.User == nil {
		return
	}
	now := a.users.Now()
	u, p := copyCaller(c.User, c.Principal)
	r := &remembered{gen: gen, until: now.Add(RememberFor), user: *u, p: *p}
	if c.Session != nil {
		s := *c.Session
		r.sess = &s
		if d := a.users.SessionDeadline(&s); d.Before(r.until) {
			r.until = d
		}
	}
	a.memory.put(key, r)
}

// copyCaller copies a user and principal with their lists, so that what is
// remembered and what each request holds never share a slice.
func copyCaller(u *auth.User, p *authz.Principal) (*auth.User, *authz.Principal) {
	cu, cp := *u, *p
	cu.Roles = slices.Clone(u.Roles)
	cp.Global, cp.AuthoriserOf, cp.ServiceDeskOf, cp.MemberOf = slices.Clone(p.Global), slices.Clone(p.AuthoriserOf),
		slices.Clone(p.ServiceDeskOf), slices.Clone(p.MemberOf)
	return &cu, &cp
}
