package onboarding_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/onboarding"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
)

var (
	ctx    = context.Background()
	t0     = time.Date(2026, 3, 30, 9, 0, 0, 0, time.UTC)
	system = audit.Who{UserID: "u-cli", Email: "cli@caregate.test"}
)

// env is the onboarding service on a fresh database with a manual clock, one
// administrator and one back-office member of staff (not an administrator).
type env struct {
	db         *store.DB
	clock      *clock.Manual
	log        *audit.Log
	users      *auth.Service
	orgs       *org.Service
	svc        *onboarding.Service
	admin      *authz.Principal
	backOffice *authz.Principal
	n          int
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	c := clock.NewManual(t0)
	l := audit.NewLog(db, c)
	t.Cleanup(l.Close)
	users := auth.NewService(db, l, c, auth.Config{Hash: auth.HashParams{Time: 1, MemoryKiB: 64, Threads: 1}})
	orgs := org.NewService(db, l, c, users)
	e := &env{db: db, clock: c, log: l, users: users, orgs: orgs, svc: onboarding.NewService(db, l, c, orgs)}
	e.admin = e.person(t, "programme.admin@nhs.net", auth.RoleAdmin)
	e.backOffice = e.person(t, "back.office@nhs.net", auth.RoleBackOffice)
	return e
}

func (e *env) person(t *testing.T, email string, roles ...string) *authz.Principal {
	t.Helper()
	u, err := e.users.CreateUser(ctx, system, auth.NewUser{Email: email, GivenName: "Test", FamilyName: "Person", Roles: roles})
	if err != nil {
		t.Fatalf("create %s: %v", email, err)
	}
	p, err := authz.Load(ctx, e.db, u)
	if err != nil {
		t.Fatal(err)
	}
	p.IP, p.UserAgent = "10.1.2.3", "test"
	return p
}

// input returns an application meeting every prerequisite, with a new ODS code.
func (e *env) input() onboarding.ApplicationInput {
	e.n++
	return onboarding.ApplicationInput{
		Name: fmt.Sprintf("Applicant Practice %d", e.n), ODSCode: fmt.Sprintf("Y%05d", e.n), OrganisationType: "gp_practice",
		SizeBand: "B", ContactName: "Pat Manager", ContactEmail: "pat.manager@nhs.net",
		ProvidesDirectCare: true, DSPTStatus: onboarding.DSPTStandardsMet, HSCNConnected: true, IndividualEmailAccounts: true,
		EmailDomains: []string{"nhs.net"}, ISALevel: org.ISAWrite, Routing: org.RoutingServiceDesk,
	}
}

func (e *env) submit(t *testing.T, in onboarding.ApplicationInput) *onboarding.Application {
	t.Helper()
	a, err := e.svc.Submit(ctx, e.admin, in)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	return a
}

var decision = onboarding.Decision{MeetingDate: "2026-03-27", Minutes: "Item 4: the group agreed the application."}

// inState returns an application brought to state (through the service).
func (e *env) inState(t *testing.T, state string) *onboarding.Application {
	t.Helper()
	a := e.submit(t, e.input())
	var err error
	switch state {
	case onboarding.StateSubmitted:
	case onboarding.StateRejected:
		a, err = e.svc.Reject(ctx, e.admin, a.ID, decision)
	case onboarding.StateApproved, onboarding.StateLive:
		a, err = e.svc.Approve(ctx, e.admin, a.ID, decision)
		if err == nil && state == onboarding.StateLive {
			a, err = e.svc.GoLive(ctx, e.admin, a.ID)
		}
	}
	if err != nil {
		t.Fatalf("bring application to %s: %v", state, err)
	}
	if a.State != state {
		t.Fatalf("application is %s, want %s", a.State, state)
	}
	return a
}

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

func hasField(err error, field string) bool {
	for _, f := range errs.As(err).Fields {
		if f.Field == field && f.Message != "" {
			return true
		}
	}
	return false
}

// auditCount returns the length of the audit trail after checking that it
// is intact.
func auditCount(t *testing.T, db *store.DB) int64 {
	t.Helper()
	n, err := audit.Verify(ctx, db)
	if err != nil {
		t.Fatalf("audit trail: %v", err)
	}
	return n
}

// actions counts the audit events of an action.
func actions(t *testing.T, db *store.DB, action string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE action = ?`, action).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func count(t *testing.T, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
