package org_test

import (
	"context"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
)

var (
	ctx    = context.Background()
	t0     = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	system = audit.Who{UserID: "u-cli", Email: "cli@caregate.test"}
)

// env is the organisations service on a fresh database with a manual clock
// and one administrator.
type env struct {
	db    *store.DB
	clock *clock.Manual
	users *auth.Service
	svc   *org.Service
	admin *authz.Principal
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	c := clock.NewManual(t0)
	l := audit.NewLog(db, c)
	t.Cleanup(l.Close)
	users := auth.NewService(db, l, c, auth.Config{Hash: auth.HashParams{Time: 1, MemoryKiB: 64, Threads: 1}})
	e := &env{db: db, clock: c, users: users, svc: org.NewService(db, l, c, users)}
	e.admin = e.person(t, "programme.admin@nhs.net", auth.RoleAdmin)
	return e
}

// person creates an account with the given region-wide roles and returns its
// principal.
func (e *env) person(t *testing.T, email string, roles ...string) *authz.Principal {
	t.Helper()
	u, err := e.users.CreateUser(ctx, system, auth.NewUser{Email: email, GivenName: "Test", FamilyName: "Person", Roles: roles})
	if err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
	return e.load(t, u.ID)
}

// load (re)builds the principal of a user from the database.
func (e *env) load(t *testing.T, userID string) *authz.Principal {
	t.Helper()
	u, err := e.users.User(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := authz.Load(ctx, e.db, u)
	if err != nil {
		t.Fatal(err)
	}
	p.IP, p.UserAgent = "10.1.2.3", "test"
	return p
}

// organisation creates an organisation as the administrator.
func (e *env) organisation(t *testing.T, ods, name string, domains ...string) *org.Organisation {
	t.Helper()
	in := org.OrganisationInput{ODSCode: &ods, Name: &name}
	if len(domains) > 0 {
		in.AllowedDomains = &domains
	}
	o, err := e.svc.CreateOrganisation(ctx, e.admin, in)
	if err != nil {
		t.Fatalf("create organisation %s: %v", ods, err)
	}
	return o
}

// site creates a site as the administrator.
func (e *env) site(t *testing.T, orgID, name string) *org.Site {
	t.Helper()
	s, err := e.svc.CreateSite(ctx, e.admin, orgID, org.SiteInput{Name: &name})
	if err != nil {
		t.Fatalf("create site %s: %v", name, err)
	}
	return s
}

func ptr[T any](v T) *T { return &v }

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

// fieldMessage returns the message err gives for field, failing the test
// when it gives none.
func fieldMessage(t *testing.T, err error, field string) string {
	t.Helper()
	for _, f := range errs.As(err).Fields {
		if f.Field == field && f.Message != "" {
			return f.Message
		}
	}
	t.Fatalf("error %v does not name field %q", err, field)
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

// auditCount returns the length of the audit trail after checking that it is
// intact.
func auditCount(t *testing.T, db *store.DB) int64 {
	t.Helper()
	n, err := audit.Verify(ctx, db)
	if err != nil {
		t.Fatalf("audit trail: %v", err)
	}
	return n
}

// count returns the number of rows in a table.
func count(t *testing.T, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
