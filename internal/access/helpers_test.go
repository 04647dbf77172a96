package access_test

import (
	"context"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// Monday 2 November 2026, 09:00 in London (GMT).
var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

type world struct {
	t     testing.TB
	ctx   context.Context
	db    *store.DB
	clock *clock.Manual
	users *auth.Service
	orgs  *org.Service
	svc   *access.Service
	log   *audit.Log

	admin, backOffice, backOffice2, authoriser, desk, outsider *authz.Principal
	gp, trust                                                  *org.Organisation // site-authoriser and service-desk routing
	surgery, ward                                              *org.Site
}

func newWorld(t testing.TB, db *store.DB) *world {
	ctx := context.Background()
	c := clock.NewManual(t0)
	l := audit.NewLog(db, c)
	t.Cleanup(l.Close)
	users := auth.NewService(db, l, c, auth.Config{Hash: auth.HashParams{Time: 1, MemoryKiB: 1024, Threads: 1}})
	orgs := org.NewService(db, l, c, users)
	svc, err := access.NewService(ctx, db, l, c, users, orgs, notify.NewOutbox(c), nil, access.Config{ServiceName: "Westshire Care Record", BaseURL: "https://caregate.example"})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, ctx: ctx, db: db, clock: c, users: users, orgs: orgs, svc: svc, log: l}
	w.admin = w.person("admin@nhs.net", auth.RoleAdmin)
	w.backOffice = w.person("bo@nhs.net", auth.RoleBackOffice)
	w.backOffice2 = w.person("bo2@nhs.net", auth.RoleBackOffice)
	w.gp = w.organisation("M85001", "Meadow Lane Surgery", org.RoutingSiteAuthoriser, "")
	w.trust = w.organisation("RX9", "Northgate Hospitals", org.RoutingServiceDesk, "")
	w.surgery = w.site(w.gp, "Meadow Lane Surgery")
	w.ward = w.site(w.trust, "Ward 7")
	w.authoriser = w.appoint("auth@nhs.net", func(a org.Appointee) error {
		_, err := orgs.AppointAuthoriser(ctx, w.admin, w.surgery.ID, a)
		if err == nil {
			_, err = orgs.AppointAuthoriser(ctx, w.admin, w.ward.ID, a)
		}
		return err
	})
	w.desk = w.appoint("desk@nhs.net", func(a org.Appointee) error {
		_, err := orgs.AppointServiceDesk(ctx, w.admin, w.trust.ID, a)
		return err
	})
	w.outsider = w.person("outsider@nhs.net")
	return w
}

func each(t *testing.T, fn func(t *testing.T, w *world)) {
	storetest.Each(t, func(t *testing.T, db *store.DB) { fn(t, newWorld(t, db)) })
}

func (w *world) person(email string, roles ...string) *authz.Principal {
	w.t.Helper()
	u, err := w.users.CreateUser(w.ctx, audit.System, auth.NewUser{Email: email, GivenName: "Test", FamilyName: "Person", Roles: roles})
	if err != nil {
		w.t.Fatal(err)
	}
	return w.principal(u.ID)
}

func (w *world) principal(userID string) *authz.Principal {
	w.t.Helper()
	u, err := w.users.User(w.ctx, userID)
	if err != nil {
		w.t.Fatal(err)
	}
	p, err := authz.Load(w.ctx, w.db, u)
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

func (w *world) appoint(email string, fn func(org.Appointee) error) *authz.Principal {
	w.t.Helper()
	if err := fn(org.Appointee{Email: email, GivenName: "Appointed", FamilyName: "Person"}); err != nil {
		w.t.Fatal(err)
	}
	u, err := w.users.UserByEmail(w.ctx, email)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.principal(u.ID)
}

func (w *world) organisation(ods, name, routing, recipient string) *org.Organisation {
	w.t.Helper()
	d := []string{"nhs.net"}
	o, err := w.orgs.CreateOrganisation(w.ctx, w.admin, org.OrganisationInput{ODSCode: &ods, Name: &name, Routing: &routing, AllowedDomains: &d, PasswordRecipient: &recipient})
	if err != nil {
		w.t.Fatal(err)
	}
	return o
}

func (w *world) site(o *org.Organisation, name string) *org.Site {
	w.t.Helper()
	s, err := w.orgs.CreateSite(w.ctx, w.admin, o.ID, org.SiteInput{Name: &name})
	if err != nil {
		w.t.Fatal(err)
	}
	return s
}

// newUser is a complete new-user request form for a site.
func newUser(site *org.Site, email string) access.Input {
	return access.Input{Type: access.TypeNewUser, SiteID: site.ID, Email: email, GivenName: "Alex", FamilyName: "Morgan",
		JobTitle: "Practice Nurse", Role: access.RoleCareProfessional, AttestDirectCare: true, AttestToldMisuse: true, AttestIGTraining: true}
}

type mail struct{ Kind, To, Text string }

func (w *world) outbox(relatedID string) []mail {
	w.t.Helper()
	rows, err := w.db.Query(w.ctx, `SELECT kind, to_addr, text_body FROM outbox WHERE related_id = ? ORDER BY created_at, kind`, relatedID)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	var out []mail
	for rows.Next() {
		var m mail
		if err := rows.Scan(&m.Kind, &m.To, &m.Text); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func (w *world) verify() {
	w.t.Helper()
	if _, err := audit.Verify(w.ctx, w.db); err != nil {
		w.t.Fatal(err)
	}
}
