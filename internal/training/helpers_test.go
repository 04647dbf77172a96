package training_test

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
	"github.com/caregate/caregate/internal/training"
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
	acc   *access.Service
	svc   *training.Service

	admin, backOffice, authoriser, outsider *authz.Principal
	riverside, northgate                    *org.Organisation // site-authoriser and service-desk routing
	nursing, mentalHealth, emergency        *org.Site
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
	svc := training.NewService(db, l, c, acc, outbox, training.Config{ServiceName: "Westshire Care Record", BaseURL: "https://caregate.example"})
	w := &world{t: t, ctx: ctx, db: db, clock: c, users: users, orgs: orgs, acc: acc, svc: svc}
	w.admin = w.person("admin@nhs.net", auth.RoleAdmin)
	w.backOffice = w.person("bo@nhs.net", auth.RoleBackOffice)
	w.riverside = w.organisation("RY4", "Riverside Community Health", org.RoutingSiteAuthoriser)
	w.northgate = w.organisation("RX9", "Northgate Hospitals", org.RoutingServiceDesk)
	w.nursing = w.site(w.riverside, "District Nursing North")
	w.mentalHealth = w.site(w.riverside, "Community Mental Health Team")
	w.emergency = w.site(w.northgate, "Emergency Department")
	if _, err := orgs.AppointAuthoriser(ctx, w.admin, w.nursing.ID, org.Appointee{Email: "auth@nhs.net", GivenName: "Sam", FamilyName: "Lead"}); err != nil {
		t.Fatal(err)
	}
	u, err := users.UserByEmail(ctx, "auth@nhs.net")
	if err != nil {
		t.Fatal(err)
	}
	w.authoriser = w.principal(u.ID)
	w.outsider = w.person("outsider@nhs.net")
	return w
}

func each(t *testing.T, fn func(t *testing.T, w *world)) {
	storetest.Each(t, func(t *testing.T, db *store.DB) { fn(t, newWorld(t, db)) })
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

// member makes a person with a membership of a site.
func (w *world) member(email string, site *org.Site, category string) *authz.Principal {
	w.t.Helper()
	p := w.person(email)
	w.join(p, site, category)
	return w.principal(p.UserID)
}

// join adds a membership.
func (w *world) join(p *authz.Principal, site *org.Site, category string) {
	w.t.Helper()
	if err := w.db.InTx(w.ctx, func(tx *store.Tx) error {
		return w.orgs.AddMemberTx(w.ctx, tx, audit.System, ident.New(), site.ID, p.UserID, "Staff "+category, category)
	}); err != nil {
		w.t.Fatal(err)
	}
}

// content is a module's content with pages and questions; the right answer
// to every question is option 1.
func content(title string, pages, questions int) training.Content {
	c := training.Content{Title: title, Summary: "About " + title}
	for i := range pages {
		c.Pages = append(c.Pages, training.PageInput{Title: fmt.Sprintf("Part %d", i+1), Body: fmt.Sprintf("## Part %d\n\nRead this *carefully*.", i+1)})
	}
	for i := range questions {
		c.Questions = append(c.Questions, training.QuestionInput{Prompt: fmt.Sprintf("Question %d?", i+1), Options: []string{"No", "Yes", "Maybe"}, Correct: 1})
	}
	if questions > 0 {
		c.PassMark = 80
	}
	return c
}

// module creates and publishes a module assigned to everyone.
func (w *world) module(title string, pages, questions int, set training.SettingsInput) *training.Module {
	w.t.Helper()
	m := must(w.svc.CreateModule(w.ctx, w.admin, content(title, pages, questions), set))(w.t)
	m = must(w.svc.Publish(w.ctx, w.admin, m.ID))(w.t)
	must(w.svc.AddRule(w.ctx, w.admin, training.RuleInput{ModuleID: m.ID}))(w.t)
	return m
}

// answers answers every question of a check right (or, with wrong > 0, that
// many wrong).
func answers(n, wrong int) map[string]int {
	a := map[string]int{}
	for i := range n {
		a[fmt.Sprintf("q%d", i+1)] = 1
		if i < wrong {
			a[fmt.Sprintf("q%d", i+1)] = 0
		}
	}
	return a
}

// finish takes a member through a whole module.
func (w *world) finish(p *authz.Principal, m *training.Module, pages, questions int) *training.Progress {
	w.t.Helper()
	var pr *training.Progress
	for n := 1; n <= pages; n++ {
		pr = must(w.svc.CompletePage(w.ctx, p, m.ID, n))(w.t)
	}
	if questions > 0 {
		res := must(w.svc.SubmitCheck(w.ctx, p, m.ID, answers(questions, 0)))(w.t)
		if !res.Passed {
			w.t.Fatalf("check not passed: %+v", res)
		}
		pr = res.Progress
	}
	return pr
}

// grant gives a person an active record account through a completed
// new-user request raised by the authoriser.
func (w *world) grant(p *authz.Principal, role string) *access.Request {
	w.t.Helper()
	r := must(w.acc.Raise(w.ctx, w.authoriser, access.Input{Type: access.TypeNewUser, SiteID: w.nursing.ID, Email: p.Email, GivenName: "Test",
		FamilyName: "Person", JobTitle: "Nurse", Role: role, AttestDirectCare: true, AttestToldMisuse: true, AttestIGTraining: true}))(w.t)
	return must(w.acc.Complete(w.ctx, w.backOffice, r.ID, ""))(w.t)
}

func (w *world) count(q string, args ...any) int {
	w.t.Helper()
	var n int
	if err := w.db.QueryRow(w.ctx, q, args...).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

// actions returns the audit trail's actions in order (after its writes
// commit).
func (w *world) actions() []string {
	w.t.Helper()
	rows, err := w.db.Query(w.ctx, `SELECT action FROM audit_events ORDER BY seq`)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

func (w *world) verify() {
	w.t.Helper()
	if _, err := audit.Verify(w.ctx, w.db); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) mine(p *authz.Principal) *training.Overview {
	w.t.Helper()
	return must(w.svc.MyTraining(w.ctx, p))(w.t)
}

func find(o *training.Overview, moduleID string) *training.Assignment {
	for i := range o.Modules {
		if o.Modules[i].ModuleID == moduleID {
			return &o.Modules[i]
		}
	}
	return nil
}

func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantCode(t testing.TB, err error, code errs.Code, what string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: accepted, want %s", what, code)
		return
	}
	var e *errs.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Errorf("%s: %v, want %s", what, err, code)
	}
}

func ptr[T any](v T) *T { return &v }
