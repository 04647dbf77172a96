package auth_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/store"
)

// t0 is the manual clock's starting time: on a 30-second boundary, so that
// TOTP time steps are easy to reason about.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// cheap are argon2id parameters that keep the suite fast; the production
// defaults are checked on their own in the password tests.
var cheap = auth.HashParams{Time: 1, MemoryKiB: 64, Threads: 1}

// goodPassword passes the strength rule for every person the tests create.
const goodPassword = "correct horse battery staple"

var (
	ctx      = context.Background()
	system   = audit.Who{UserID: "u-cli", Email: "cli@caregate.test", IP: "127.0.0.1", UserAgent: "test"}
	browser  = audit.Who{IP: "198.51.100.7", UserAgent: "Mozilla/5.0 (test)"}
	attacker = audit.Who{IP: "203.0.113.66", UserAgent: "curl/8"}
)

// env is an accounts service on a fresh database with a manual clock.
type env struct {
	db    *store.DB
	log   *audit.Log
	clock *clock.Manual
	svc   *auth.Service
}

func newEnv(t *testing.T, db *store.DB, cfg auth.Config) *env {
	t.Helper()
	if cfg.Hash == (auth.HashParams{}) {
		cfg.Hash = cheap
	}
	c := clock.NewManual(t0)
	l := audit.NewLog(db, c)
	t.Cleanup(l.Close)
	return &env{db: db, log: l, clock: c, svc: auth.NewService(db, l, c, cfg)}
}

// user creates an active account with goodPassword.
func (e *env) user(t *testing.T, email string, roles ...string) *auth.User {
	t.Helper()
	u, err := e.svc.CreateUser(ctx, system, auth.NewUser{Email: email, GivenName: "Alex", FamilyName: "Example",
		Roles: roles, Password: goodPassword})
	if err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
	return u
}

// signIn signs in with goodPassword and checks the resulting state.
func (e *env) signIn(t *testing.T, email, wantState string) (string, *auth.Session) {
	t.Helper()
	token, sess, err := e.svc.SignIn(ctx, browser, email, goodPassword)
	if err != nil {
		t.Fatalf("sign in %s: %v", email, err)
	}
	if sess.State != wantState {
		t.Fatalf("sign in %s: state %q, want %q", email, sess.State, wantState)
	}
	if token == "" {
		t.Fatal("sign in returned an empty token")
	}
	return token, sess
}

// enrol takes a fresh account through sign-in and MFA enrolment and returns
// the full session, the authenticator secret and the recovery codes.
func (e *env) enrol(t *testing.T, u *auth.User) (string, *auth.Session, string, []string) {
	t.Helper()
	token, sess := e.signIn(t, u.Email, auth.StateEnrol)
	en, err := e.svc.StartEnrol(ctx, sess, u)
	if err != nil {
		t.Fatalf("start enrol: %v", err)
	}
	codes, err := e.svc.ConfirmEnrol(ctx, browser, sess, auth.TOTPCode(en.Secret, e.clock.Now()))
	if err != nil {
		t.Fatalf("confirm enrol: %v", err)
	}
	if sess.State != auth.StateFull {
		t.Fatalf("after enrolment state %q, want %q", sess.State, auth.StateFull)
	}
	return token, sess, en.Secret, codes
}

// wrongCode returns a six-digit code that is not valid for secret at now,
// nor one step either side.
func wrongCode(secret string, now time.Time) string {
	valid := map[string]bool{}
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		valid[auth.TOTPCode(secret, now.Add(d))] = true
	}
	for i := 0; ; i++ {
		c := fmt.Sprintf("%06d", (123456+i*7919)%1000000)
		if !valid[c] {
			return c
		}
	}
}

// wantCode fails the test unless err carries the error code want.
func wantCode(t *testing.T, err error, want errs.Code) *errs.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", want)
	}
	if got := errs.CodeOf(err); got != want {
		t.Fatalf("got error %v (code %s), want code %s", err, got, want)
	}
	return errs.As(err)
}

// wantField fails the test unless err is Invalid and names field.
func wantField(t *testing.T, err error, field string) string {
	t.Helper()
	wantCode(t, err, errs.Invalid)
	return fieldMessage(t, err, field)
}

// fieldMessage returns the message err gives for field, failing the test
// when it gives none.
func fieldMessage(t *testing.T, err error, field string) string {
	t.Helper()
	e := errs.As(err)
	for _, f := range e.Fields {
		if f.Field == field {
			if f.Message == "" {
				t.Fatalf("field %s has an empty message", field)
			}
			return f.Message
		}
	}
	t.Fatalf("error %v does not name field %q (fields %+v)", err, field, e.Fields)
	return ""
}

// events returns the audit events matching f, oldest first.
func events(t *testing.T, db *store.DB, f audit.Filter) []audit.Event {
	t.Helper()
	f.Limit = 1000
	evs, _, err := audit.Search(ctx, db, f)
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(evs)-1; i < j; i, j = i+1, j-1 {
		evs[i], evs[j] = evs[j], evs[i]
	}
	return evs
}

// countOutcomes counts the events by outcome.
func countOutcomes(evs []audit.Event) map[string]int {
	m := map[string]int{}
	for _, e := range evs {
		m[e.Outcome]++
	}
	return m
}

// verifyAudit fails the test unless the audit trail is intact and not empty.
func verifyAudit(t *testing.T, db *store.DB) {
	t.Helper()
	n, err := audit.Verify(ctx, db)
	if err != nil {
		t.Fatalf("audit trail: %v", err)
	}
	if n == 0 {
		t.Fatal("audit trail is empty")
	}
}
