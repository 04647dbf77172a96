package onboarding_test

import (
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/onboarding"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

func TestSubmitRecordsAndAudits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		in := e.input()
		in.ODSCode, in.ContactEmail, in.EmailDomains = " y00042 ", " Pat.Manager@NHS.net ", []string{"@NHS.net", "nhs.net", "westshire.gov.uk"}
		a := e.submit(t, in)
		if a.State != onboarding.StateSubmitted || a.ODSCode != "Y00042" || a.ContactEmail != "pat.manager@nhs.net" ||
			!reflect.DeepEqual(a.EmailDomains, []string{"nhs.net", "westshire.gov.uk"}) || a.SubmittedBy != "programme.admin@nhs.net" ||
			!a.SubmittedAt.Equal(t0) || a.DecidedAt != nil || a.LiveAt != nil || a.OrganisationID != "" {
			t.Fatalf("submitted application = %+v", a)
		}
		if !a.MeetsPrerequisites() {
			t.Fatalf("prerequisites flagged: %q", a.UnmetPrerequisites)
		}
		if got, err := e.svc.Application(ctx, e.admin, a.ID); err != nil || !reflect.DeepEqual(got, a) {
			t.Fatalf("Application() = %+v, %v; want %+v", got, err, a)
		}
		if n := actions(t, db, "onboarding.submit"); n != 1 {
			t.Fatalf("%d onboarding.submit events, want 1", n)
		}
		list, err := e.svc.Applications(ctx, e.admin, onboarding.StateSubmitted)
		if err != nil || len(list) != 1 || list[0].ID != a.ID {
			t.Fatalf("Applications(submitted) = %v, %v", list, err)
		}
		if list, _ := e.svc.Applications(ctx, e.admin, onboarding.StateLive); len(list) != 0 {
			t.Fatalf("Applications(live) = %v, want none", list)
		}
		_, err = e.svc.Applications(ctx, e.admin, "pending")
		wantCode(t, err, errs.Invalid)
	})
}

func TestSubmitRefusesBadInput(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		cases := []struct {
			field string
			edit  func(*onboarding.ApplicationInput)
		}{
			{"name", func(in *onboarding.ApplicationInput) { in.Name = " " }},
			{"ods_code", func(in *onboarding.ApplicationInput) { in.ODSCode = "X!" }},
			{"organisation_type", func(in *onboarding.ApplicationInput) { in.OrganisationType = "spa" }},
			{"size_band", func(in *onboarding.ApplicationInput) { in.SizeBand = "" }},
			{"size_band", func(in *onboarding.ApplicationInput) { in.SizeBand = "Z" }}, // not in the table
			{"contact_name", func(in *onboarding.ApplicationInput) { in.ContactName = "" }},
			{"contact_email", func(in *onboarding.ApplicationInput) { in.ContactEmail = "pat" }},
			{"dspt_status", func(in *onboarding.ApplicationInput) { in.DSPTStatus = "" }},
			{"email_domains", func(in *onboarding.ApplicationInput) { in.EmailDomains = nil }},
			{"email_domains", func(in *onboarding.ApplicationInput) { in.EmailDomains = []string{"not a domain"} }},
			{"isa_level", func(in *onboarding.ApplicationInput) { in.ISALevel = "full" }},
			{"routing", func(in *onboarding.ApplicationInput) { in.Routing = "email" }},
		}
		before := auditCount(t, db)
		for _, c := range cases {
			in := e.input()
			c.edit(&in)
			_, err := e.svc.Submit(ctx, e.admin, in)
			wantCode(t, err, errs.Invalid)
			if !hasField(err, c.field) {
				t.Errorf("%s: error %v does not name the field", c.field, err)
			}
		}
		if n := count(t, db, "onboarding_applications"); n != 0 {
			t.Fatalf("%d applications stored after refusals", n)
		}
		if after := auditCount(t, db); after != before {
			t.Fatalf("refusals wrote %d audit events", after-before)
		}
	})
}

func TestMissingPrerequisitesAreFlaggedAndGateApproval(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		cases := []struct {
			name string
			edit func(*onboarding.ApplicationInput)
			want string
		}{
			{"no direct care", func(in *onboarding.ApplicationInput) { in.ProvidesDirectCare = false }, "direct care"},
			{"DSPT approaching", func(in *onboarding.ApplicationInput) { in.DSPTStatus = onboarding.DSPTApproachingStandards }, "Approaching standards"},
			{"DSPT not met", func(in *onboarding.ApplicationInput) { in.DSPTStatus = onboarding.DSPTStandardsNotMet }, "Standards not met"},
			{"DSPT not published", func(in *onboarding.ApplicationInput) { in.DSPTStatus = onboarding.DSPTNotPublished }, "Not published"},
			{"no HSCN", func(in *onboarding.ApplicationInput) { in.HSCNConnected = false }, "HSCN"},
			{"shared mailboxes", func(in *onboarding.ApplicationInput) { in.IndividualEmailAccounts = false }, "individual e-mail"},
			{"domain not allowed", func(in *onboarding.ApplicationInput) { in.EmailDomains = []string{"nhs.net", "gmail.com"} }, "gmail.com"},
		}
		for _, c := range cases {
			in := e.input()
			c.edit(&in)
			a := e.submit(t, in) // accepted as a record …
			if len(a.UnmetPrerequisites) != 1 || !strings.Contains(a.UnmetPrerequisites[0], c.want) {
				t.Errorf("%s: unmet prerequisites %q, want one mentioning %q", c.name, a.UnmetPrerequisites, c.want)
				continue
			}
			before := auditCount(t, db)
			_, err := e.svc.Approve(ctx, e.admin, a.ID, decision) // … but not approved
			if x := wantCode(t, err, errs.Conflict); !strings.Contains(x.Message, "prerequisite is unmet") || !strings.Contains(x.Message, c.want) {
				t.Errorf("%s: refusal %q does not say which prerequisite", c.name, x.Message)
			}
			if got, _ := e.svc.Application(ctx, e.admin, a.ID); !reflect.DeepEqual(got, a) || auditCount(t, db) != before {
				t.Errorf("%s: a refused approval changed something", c.name)
			}
		}
		// Once the application is corrected, approval goes through; the
		// correction is audited.
		in := e.input()
		in.HSCNConnected = false
		a := e.submit(t, in)
		in.HSCNConnected = true
		a, err := e.svc.Update(ctx, e.admin, a.ID, in)
		if err != nil || !a.MeetsPrerequisites() {
			t.Fatalf("update: %+v, %v", a, err)
		}
		if actions(t, db, "onboarding.update") != 1 {
			t.Fatal("the correction was not audited")
		}
		if a, err = e.svc.Approve(ctx, e.admin, a.ID, decision); err != nil || a.State != onboarding.StateApproved {
			t.Fatalf("approve after correction: %+v, %v", a, err)
		}
		if a.DecidedBy != "programme.admin@nhs.net" || a.MeetingDate != "2026-03-27" || a.Minutes != decision.Minutes || a.DecidedAt == nil {
			t.Fatalf("decision not recorded: %+v", a)
		}
		// Rejection needs no prerequisites.
		in = e.input()
		in.ProvidesDirectCare = false
		a = e.submit(t, in)
		if a, err = e.svc.Reject(ctx, e.admin, a.ID, decision); err != nil || a.State != onboarding.StateRejected {
			t.Fatalf("reject: %+v, %v", a, err)
		}
		auditCount(t, db)
	})
}

// TestTransitions tries every action from every state: the legal ones move
// the application on, the others are refused with a clear conflict and
// change nothing (the application, the organisations, the audit trail).
func TestTransitions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		type action struct {
			name string
			do   func(id string) (*onboarding.Application, error)
		}
		acts := []action{
			{"approve", func(id string) (*onboarding.Application, error) { return e.svc.Approve(ctx, e.admin, id, decision) }},
			{"reject", func(id string) (*onboarding.Application, error) { return e.svc.Reject(ctx, e.admin, id, decision) }},
			{"update", func(id string) (*onboarding.Application, error) { return e.svc.Update(ctx, e.admin, id, e.input()) }},
			{"go live", func(id string) (*onboarding.Application, error) { return e.svc.GoLive(ctx, e.admin, id) }},
		}
		// want: the state after the action, or "" for a refusal. Going live
		// again is no refusal: it returns the live application unchanged.
		want := map[string]map[string]string{
			onboarding.StateSubmitted: {"approve": onboarding.StateApproved, "reject": onboarding.StateRejected, "update": onboarding.StateSubmitted, "go live": ""},
			onboarding.StateApproved:  {"approve": "", "reject": "", "update": "", "go live": onboarding.StateLive},
			onboarding.StateRejected:  {"approve": "", "reject": "", "update": "", "go live": ""},
			onboarding.StateLive:      {"approve": "", "reject": "", "update": "", "go live": onboarding.StateLive},
		}
		for from, row := range want {
			for _, act := range acts {
				a := e.inState(t, from)
				orgsBefore, auditBefore := count(t, db, "organisations"), auditCount(t, db)
				got, err := act.do(a.ID)
				to := row[act.name]
				if to == "" {
					x := wantCode(t, err, errs.Conflict)
					if !strings.HasPrefix(x.Message, "This application cannot be") {
						t.Errorf("%s → %s: unclear refusal %q", from, act.name, x.Message)
					}
					now, _ := e.svc.Application(ctx, e.admin, a.ID)
					if !reflect.DeepEqual(now, a) || count(t, db, "organisations") != orgsBefore || auditCount(t, db) != auditBefore {
						t.Errorf("%s → %s: a refused action changed something", from, act.name)
					}
					continue
				}
				if err != nil || got.State != to {
					t.Errorf("%s → %s: %+v, %v; want state %s", from, act.name, got, err, to)
					continue
				}
				wantEvents := int64(1)
				if from == onboarding.StateApproved && act.name == "go live" {
					wantEvents = 2 // organisation.create and onboarding.go_live
				}
				if from == onboarding.StateLive {
					wantEvents = 0
				}
				if n := auditCount(t, db) - auditBefore; n != wantEvents {
					t.Errorf("%s → %s: %d audit events, want %d", from, act.name, n, wantEvents)
				}
			}
		}
		_, err := e.svc.Approve(ctx, e.admin, "no-such-application", decision)
		wantCode(t, err, errs.NotFound)
		_, err = e.svc.GoLive(ctx, e.admin, "no-such-application")
		wantCode(t, err, errs.NotFound)
	})
}

func TestDecisionIsValidated(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		a := e.submit(t, e.input())
		for _, c := range []struct {
			field string
			d     onboarding.Decision
		}{
			{"meeting_date", onboarding.Decision{Minutes: "Agreed"}},
			{"meeting_date", onboarding.Decision{MeetingDate: "27/03/2026", Minutes: "Agreed"}},
			{"meeting_date", onboarding.Decision{MeetingDate: "2026-02-30", Minutes: "Agreed"}},
			{"meeting_date", onboarding.Decision{MeetingDate: "2026-03-31", Minutes: "Agreed"}}, // tomorrow
			{"minutes", onboarding.Decision{MeetingDate: "2026-03-30", Minutes: "  "}},
		} {
			_, err := e.svc.Approve(ctx, e.admin, a.ID, c.d)
			wantCode(t, err, errs.Invalid)
			if !hasField(err, c.field) {
				t.Errorf("%+v: error %v does not name %s", c.d, err, c.field)
			}
			_, err = e.svc.Reject(ctx, e.admin, a.ID, c.d)
			wantCode(t, err, errs.Invalid)
		}
		if got, _ := e.svc.Application(ctx, e.admin, a.ID); got.State != onboarding.StateSubmitted {
			t.Fatalf("state %s after refused decisions", got.State)
		}
		// A meeting held today is fine.
		if _, err := e.svc.Approve(ctx, e.admin, a.ID, onboarding.Decision{MeetingDate: "2026-03-30", Minutes: "Agreed"}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestOneOpenApplicationPerOrganisation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		in := e.input()
		first := e.submit(t, in)
		_, err := e.svc.Submit(ctx, e.admin, in)
		if x := wantCode(t, err, errs.Conflict); !hasField(x, "ods_code") {
			t.Fatalf("duplicate refusal does not name ods_code: %v", x)
		}
		// Approved applications stay open …
		if _, err := e.svc.Approve(ctx, e.admin, first.ID, decision); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Submit(ctx, e.admin, in)
		wantCode(t, err, errs.Conflict)
		// … another application may not be changed to the same code …
		other := e.submit(t, e.input())
		_, err = e.svc.Update(ctx, e.admin, other.ID, in)
		wantCode(t, err, errs.Conflict)
		// … a live organisation cannot apply again …
		if _, err := e.svc.GoLive(ctx, e.admin, first.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Submit(ctx, e.admin, in)
		if x := wantCode(t, err, errs.Conflict); !strings.Contains(x.Message, "already a partner") {
			t.Fatalf("refusal %q", x.Message)
		}
		// … and after a rejection the organisation may apply again.
		in2 := e.input()
		r := e.submit(t, in2)
		if _, err := e.svc.Reject(ctx, e.admin, r.ID, decision); err != nil {
			t.Fatal(err)
		}
		if again := e.submit(t, in2); again.ID == r.ID {
			t.Fatal("re-application reused the rejected one")
		}
	})
}

func TestGoLiveCreatesTheOrganisationOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		in := e.input()
		in.EmailDomains = []string{"nhs.net", "westshire.gov.uk"}
		a := e.submit(t, in)
		if _, err := e.svc.Approve(ctx, e.admin, a.ID, decision); err != nil {
			t.Fatal(err)
		}
		live, err := e.svc.GoLive(ctx, e.admin, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if live.State != onboarding.StateLive || live.OrganisationID == "" || live.LiveBy != "programme.admin@nhs.net" || live.LiveAt == nil {
			t.Fatalf("live application = %+v", live)
		}
		o, err := e.orgs.Organisation(ctx, e.admin, live.OrganisationID)
		if err != nil {
			t.Fatal(err)
		}
		if o.ODSCode != in.ODSCode || o.Name != in.Name || o.ISALevel != org.ISAWrite || o.Routing != org.RoutingServiceDesk ||
			o.Status != org.StatusActive || !reflect.DeepEqual(o.AllowedDomains, []string{"nhs.net", "westshire.gov.uk"}) {
			t.Fatalf("organisation = %+v", o)
		}
		// Called again (a retried request), and concurrently: still one
		// organisation, one go-live event.
		again, err := e.svc.GoLive(ctx, e.admin, a.ID)
		if err != nil || !reflect.DeepEqual(again, live) {
			t.Fatalf("second go-live = %+v, %v; want the same live application", again, err)
		}
		b := e.submit(t, e.input())
		if _, err := e.svc.Approve(ctx, e.admin, b.ID, decision); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		ids := make([]string, 8)
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := e.svc.GoLive(ctx, e.admin, b.ID)
				if err != nil {
					t.Errorf("concurrent go-live: %v", err)
					return
				}
				ids[i] = got.OrganisationID
			}()
		}
		wg.Wait()
		for _, id := range ids {
			if id != ids[0] || id == "" {
				t.Fatalf("concurrent go-lives saw organisations %q", ids)
			}
		}
		if n := count(t, db, "organisations"); n != 2 {
			t.Fatalf("%d organisations, want 2", n)
		}
		if n := actions(t, db, "onboarding.go_live"); n != 2 {
			t.Fatalf("%d go-live events, want 2", n)
		}
		auditCount(t, db)
	})
}

// TestGoLiveIsAllOrNothing: when the organisation cannot be created (its
// ODS code was added by hand meanwhile), the application stays approved.
func TestGoLiveIsAllOrNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		in := e.input()
		a := e.submit(t, in)
		a, err := e.svc.Approve(ctx, e.admin, a.ID, decision)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.orgs.CreateOrganisation(ctx, e.admin, org.OrganisationInput{ODSCode: &in.ODSCode, Name: &in.Name}); err != nil {
			t.Fatal(err)
		}
		before := auditCount(t, db)
		_, err = e.svc.GoLive(ctx, e.admin, a.ID)
		if x := wantCode(t, err, errs.Conflict); !strings.Contains(x.Message, in.ODSCode) {
			t.Fatalf("refusal %q does not name the ODS code", x.Message)
		}
		if got, _ := e.svc.Application(ctx, e.admin, a.ID); !reflect.DeepEqual(got, a) {
			t.Fatalf("application changed by a failed go-live: %+v", got)
		}
		if count(t, db, "organisations") != 1 || auditCount(t, db) != before {
			t.Fatal("a failed go-live left something behind")
		}
	})
}

// TestOnlyAdministrators: applicants contact the programme team, so every
// onboarding action is for programme administrators; reading the suspension
// is for everyone signed in.
func TestOnlyAdministrators(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		a := e.submit(t, e.input())
		member := e.person(t, "member@nhs.net")
		for _, c := range []struct {
			name string
			code errs.Code
			pr   *authz.Principal
		}{{"back office", errs.Forbidden, e.backOffice}, {"member", errs.Forbidden, member}, {"nobody", errs.Unauthenticated, nil}} {
			pr := c.pr
			before := auditCount(t, db)
			calls := map[string]error{}
			_, calls["submit"] = e.svc.Submit(ctx, pr, e.input())
			_, calls["update"] = e.svc.Update(ctx, pr, a.ID, e.input())
			_, calls["approve"] = e.svc.Approve(ctx, pr, a.ID, decision)
			_, calls["reject"] = e.svc.Reject(ctx, pr, a.ID, decision)
			_, calls["go live"] = e.svc.GoLive(ctx, pr, a.ID)
			_, calls["application"] = e.svc.Application(ctx, pr, a.ID)
			_, calls["applications"] = e.svc.Applications(ctx, pr, "")
			_, calls["summary"] = e.svc.Summarise(ctx, pr)
			_, calls["size bands"] = e.svc.SizeBands(ctx, pr)
			_, calls["set size bands"] = e.svc.SetSizeBands(ctx, pr, []onboarding.SizeBandInput{{Band: "A", Label: "All", UpToStaff: 0}})
			_, calls["suspend"] = e.svc.SetSuspension(ctx, pr, onboarding.SuspensionInput{Suspended: true, Message: "Paused"})
			for what, err := range calls {
				if errs.CodeOf(err) != c.code {
					t.Errorf("%s: %s: %v, want %s", c.name, what, err, c.code)
				}
			}
			if auditCount(t, db) != before {
				t.Errorf("%s: refused calls wrote audit events", c.name)
			}
			_, err := e.svc.State(ctx, pr)
			if (pr == nil) != (err != nil) {
				t.Errorf("%s: State: %v", c.name, err)
			}
		}
		if got, _ := e.svc.Application(ctx, e.admin, a.ID); got.State != onboarding.StateSubmitted {
			t.Fatal("a refused call changed the application")
		}
	})
}
