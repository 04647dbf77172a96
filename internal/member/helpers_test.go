package member_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/member"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
	"github.com/caregate/caregate/internal/training"
)

// Monday 2 November 2026, 09:00 in London (GMT).
var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

const password = "Correct-horse-battery-2026"

type world struct {
	t     testing.TB
	ctx   context.Context
	db    *store.DB
	clock *clock.Manual
	users *auth.Service
	orgs  *org.Service
	acc   *access.Service
	tr    *training.Service
	svc   *member.Service

	admin, authoriser, other, outsider *authz.Principal
	riverside, northgate               *org.Organisation
	nursing, mentalHealth, emergency   *org.Site
}

func newWorld(t testing.TB, db *store.DB) *world {
	ctx := context.Background()
	c := clock.NewManual(t0)
	l := audit.NewLog(db, c)
	t.Cleanup(l.Close)
	users := auth.NewService(db, l, c, auth.Config{Hash: auth.HashParams{Time: 1, MemoryKiB: 1024, Threads: 1}})
	orgs := org.NewService(db, l, c, users)
	outbox := notify.NewOutbox(c)
	acc, err := access.NewService(ctx, db, l, c, users, orgs, outbox, nil, access.Config{ServiceName: "Westshire Care Record", BaseURL: "https://caregate.example"})
	if err != nil {
		t.Fatal(err)
	}
	tr := training.NewService(db, l, c, acc, outbox, training.Config{ServiceName: "Westshire Care Record", BaseURL: "https://caregate.example"})
	svc := member.NewService(db, l, c, users, orgs, acc, tr, outbox, member.Config{BaseURL: "https://caregate.example"})
	w := &world{t: t, ctx: ctx, db: db, clock: c, users: users, orgs: orgs, acc: acc, tr: tr, svc: svc}
	w.admin = w.person("admin@nhs.net", auth.RoleAdmin)
	w.riverside = w.organisation("RY4", "Riverside Community Health", org.RoutingSiteAuthoriser)
	w.northgate = w.organisation("RX9", "Northgate Hospitals", org.RoutingServiceDesk)
	w.nursing = w.site(w.riverside, "District Nursing North")
	w.mentalHealth = w.site(w.riverside, "Community Mental Health Team")
	w.emergency = w.site(w.northgate, "Emergency Department")
	w.authoriser = w.appoint(w.nursing, "sam.lead@nhs.net")
	w.other = w.appoint(w.mentalHealth, "olu.other@nhs.net")
	w.outsider = w.person("outsider@nhs.net")
	return w
}

func each(t *testing.T, fn func(t *testing.T, w *world)) {
	storetest.Each(t, func(t *testing.T, db *store.DB) { fn(t, newWorld(t, db)) })
}

func (w *world) appoint(site *org.Site, email string) *authz.Principal {
	w.t.Helper()
	given, _, _ := strings.Cut(email, ".")
	if _, err := w.orgs.AppointAuthoriser(w.ctx, w.admin, site.ID, org.Appointee{Email: email, GivenName: strings.ToUpper(given[:1]) + given[1:], FamilyName: "Lead"}); err != nil {
		w.t.Fatal(err)
	}
	u, err := w.users.UserByEmail(w.ctx, email)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.principal(u.ID)
}

func (w *world) person(email string, roles ...string) *authz.Principal {
	w.t.Helper()
	given, _, _ := strings.Cut(email, "@")
	given, _, _ = strings.Cut(given, ".")
	u, err := w.users.CreateUser(w.ctx, audit.System, auth.NewUser{Email: email, GivenName: strings.ToUpper(given[:1]) + given[1:], FamilyName: "Person", Roles: roles})
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

func (w *world) organisation(ods, name, routing string) *org.Organisation {
	w.t.Helper()
	d := []string{"nhs.net"}
	o, err := w.orgs.CreateOrganisation(w.ctx, w.admin, org.OrganisationInput{ODSCode: &ods, Name: &name, Routing: &routing, AllowedDomains: &d})
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

// input is a valid invitation form for an address.
func input(email string) member.InvitationInput {
	given, _, _ := strings.Cut(email, ".")
	return member.InvitationInput{GivenName: strings.ToUpper(given[:1]) + given[1:], FamilyName: "Newman", Email: email, Phone: "0113 496 0000",
		JobTitle: "District Nurse", JobCategory: "Nursing and midwifery", RecordRole: access.RoleCareProfessional, IGConfirmed: true}
}

// at opens a site as p, as a portal page or an API call does first.
func (w *world) at(p *authz.Principal, siteID string) *member.Place {
	w.t.Helper()
	pl, err := w.svc.Open(w.ctx, p, siteID)
	if err != nil {
		w.t.Fatalf("open site %s: %v", siteID, err)
	}
	return pl
}

func (w *world) invite(p *authz.Principal, site *org.Site, email string) *member.Invitation {
	w.t.Helper()
	i, err := w.svc.Invite(w.ctx, w.at(p, site.ID), input(email))
	if err != nil {
		w.t.Fatalf("invite %s: %v", email, err)
	}
	return i
}

var linkRE = regexp.MustCompile(`/invitations/([A-Za-z0-9_-]+)`)

// link returns the token in the latest invitation e-mail to an address.
func (w *world) link(email string) string {
	w.t.Helper()
	var body string
	if err := w.db.QueryRow(w.ctx, `SELECT text_body FROM outbox WHERE to_addr = ? AND kind = 'invitation' ORDER BY created_at DESC, id DESC LIMIT 1`,
		email).Scan(&body); err != nil {
		w.t.Fatalf("no invitation e-mail to %s: %v", email, err)
	}
	m := linkRE.FindStringSubmatch(body)
	if m == nil {
		w.t.Fatalf("no link in the invitation e-mail: %s", body)
	}
	return m[1]
}

// accept invites a new person to a site and accepts for them; it returns
// the member.
func (w *world) join(p *authz.Principal, site *org.Site, email string) *member.Member {
	w.t.Helper()
	w.invite(p, site, email)
	a, err := w.svc.Accept(w.ctx, audit.Who{IP: "192.0.2.7"}, w.link(email), password, password)
	if err != nil {
		w.t.Fatalf("accept %s: %v", email, err)
	}
	return w.membership(site, a.UserID)
}

func (w *world) membership(site *org.Site, userID string) *member.Member {
	w.t.Helper()
	ms, err := w.svc.History(w.ctx, w.at(w.admin, site.ID))
	if err != nil {
		w.t.Fatal(err)
	}
	for _, m := range ms {
		if m.UserID == userID && m.Status != member.MembershipDeleted {
			return m
		}
	}
	w.t.Fatalf("no membership of %s in %s", userID, site.Name)
	return nil
}

// grant gives a person a record account directly (as the back office's
// completion of a new-user request would).
func (w *world) grant(userID, orgID, status string) {
	w.t.Helper()
	now := w.clock.Now().UnixMicro()
	if _, err := w.db.Exec(w.ctx, `INSERT INTO record_accounts (id, user_id, organisation_id, username, role, status, activated_at, idle_from, created_at, updated_at)
		VALUES (?, ?, ?, ?, 'care_professional', ?, ?, ?, ?, ?)`, ident.New(), userID, orgID, "u"+ident.New()[:8], status, now, now, now, now); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) count(q string, args ...any) int {
	w.t.Helper()
	var n int
	if err := w.db.QueryRow(w.ctx, q, args...).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

func wantCode(t *testing.T, err error, code errs.Code, contains string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s error, got none", code)
	}
	if errs.CodeOf(err) != code {
		t.Fatalf("want %s, got %s: %v", code, errs.CodeOf(err), err)
	}
	var e *errs.Error
	if contains != "" && (!errors.As(err, &e) || !strings.Contains(errs.As(err).Message+fieldText(e), contains)) {
		t.Fatalf("error %q does not say %q", err, contains)
	}
}

func fieldText(e *errs.Error) string {
	var b strings.Builder
	for _, f := range e.Fields {
		b.WriteString(" " + f.Message)
	}
	return b.String()
}

var whoAny = audit.Who{IP: "192.0.2.9", UserAgent: "test"}

func eachBench(b *testing.B, fn func(b *testing.B, w *world)) {
	for _, e := range storetest.Engines(b) {
		b.Run(e.Name, func(b *testing.B) { fn(b, newWorld(b, e.Open(b))) })
	}
}
