package access_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
)

// must(f())(t) fails the test when f fails, else returns its value.
func must[T any](v T, err error) func(t testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func wantCode(t *testing.T, err error, code errs.Code, what string) {
	t.Helper()
	if errs.CodeOf(err) != code {
		t.Fatalf("%s: error %v (code %s), want %s", what, err, errs.CodeOf(err), code)
	}
}

func TestRoutingBothWays(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		// An organisation with site authorisers: validated on submission, SLA running.
		r := must(w.svc.Raise(w.ctx, w.authoriser, newUser(w.surgery, "alex.morgan@nhs.net")))(t)
		if r.State != access.StateValidated || r.DueAt == nil {
			t.Fatalf("site-authoriser organisation: state %s, due %v", r.State, r.DueAt)
		}
		if want := t0.AddDate(0, 0, 7); !r.DueAt.Equal(want) {
			t.Errorf("due %v, want %v (5 working days)", r.DueAt, want)
		}
		if r.Title != "Westshire Care Record (starter) Alex Morgan" {
			t.Errorf("title %q", r.Title)
		}
		// An organisation with a service desk: waits for the desk.
		r2 := must(w.svc.Raise(w.ctx, w.authoriser, newUser(w.ward, "sam.lee@nhs.net")))(t)
		if r2.State != access.StateSubmitted || r2.DueAt != nil {
			t.Fatalf("service-desk organisation: state %s", r2.State)
		}
		_, err := w.svc.Validate(w.ctx, w.authoriser, r2.ID, "")
		wantCode(t, err, errs.Forbidden, "authoriser validating")
		_, err = w.svc.Complete(w.ctx, w.backOffice, r2.ID, "")
		wantCode(t, err, errs.Conflict, "completing before validation")
		w.clock.Advance(time.Hour)
		v := must(w.svc.Validate(w.ctx, w.desk, r2.ID, "Checked with the ward manager"))(t)
		if v.State != access.StateValidated || v.DueAt == nil || v.ValidatedBy != w.desk.UserID {
			t.Fatalf("after validation: %+v", v)
		}
		// The desk's own requests are validated by being made.
		r3 := must(w.svc.Raise(w.ctx, w.desk, access.Input{Type: access.TypeNewUser, OrganisationID: w.trust.ID, Email: "kim.ng@nhs.net",
			GivenName: "Kim", FamilyName: "Ng", JobTitle: "Doctor", Role: access.RoleCareProfessional, AttestDirectCare: true, AttestToldMisuse: true, AttestIGTraining: true}))(t)
		if r3.State != access.StateValidated {
			t.Errorf("desk's own request: %s", r3.State)
		}
		// The submitter is told at every step.
		kinds := []string{}
		for _, m := range w.outbox(r2.ID) {
			kinds = append(kinds, m.Kind)
			if m.To != "auth@nhs.net" {
				t.Errorf("%s went to %s", m.Kind, m.To)
			}
		}
		if strings.Join(kinds, ",") != "request_submitted,request_validated" {
			t.Errorf("submitter e-mails %v", kinds)
		}
		_, hist := must2(w.svc.Get(w.ctx, w.authoriser, r2.ID))(t)
		if len(hist) != 2 || hist[1].Note != "Checked with the ward manager" || hist[1].Actor != "desk@nhs.net" {
			t.Errorf("history %+v", hist)
		}
		w.verify()
	})
}

func must2[A, B any](a A, b B, err error) func(t testing.TB) (A, B) {
	return func(t testing.TB) (A, B) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
}

func TestBadInputChangesNothing(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		cases := []struct {
			name  string
			who   func() any
			in    access.Input
			code  errs.Code
			field string
		}{
			{"domain not allowed", nil, func() access.Input { i := newUser(w.surgery, "alex@gmail.com"); return i }(), errs.Invalid, "email"},
			{"finishing date in the past", nil, func() access.Input { i := newUser(w.surgery, "a1@nhs.net"); i.FinishingDate = "2026-10-31"; return i }(), errs.Invalid, "finishing_date"},
			{"not a date", nil, func() access.Input { i := newUser(w.surgery, "a2@nhs.net"); i.FinishingDate = "31/12/2026"; return i }(), errs.Invalid, "finishing_date"},
			{"no attestation", nil, func() access.Input { i := newUser(w.surgery, "a3@nhs.net"); i.AttestIGTraining = false; return i }(), errs.Invalid, "attest_ig_training"},
			{"no role", nil, func() access.Input { i := newUser(w.surgery, "a4@nhs.net"); i.Role = ""; return i }(), errs.Invalid, "role"},
			{"unknown type", nil, func() access.Input { i := newUser(w.surgery, "a5@nhs.net"); i.Type = "promotion"; return i }(), errs.Invalid, "type"},
			{"over-long name", nil, func() access.Input {
				i := newUser(w.surgery, "a6@nhs.net")
				i.GivenName = strings.Repeat("x", 101)
				return i
			}(), errs.Invalid, "given_name"},
			{"amend someone without an account", nil, access.Input{Type: access.TypeAmendment, SiteID: w.surgery.ID, Email: "nobody@nhs.net", GivenName: "No", FamilyName: "Body", Role: access.RoleAdministrator, AttestDirectCare: true, AttestToldMisuse: true, AttestIGTraining: true}, errs.Conflict, ""},
		}
		for _, tc := range cases {
			_, err := w.svc.Raise(w.ctx, w.authoriser, tc.in)
			wantCode(t, err, tc.code, tc.name)
			if tc.field != "" {
				found := false
				for _, f := range errs.As(err).Fields {
					found = found || f.Field == tc.field
				}
				if !found {
					t.Errorf("%s: no error on %s: %+v", tc.name, tc.field, errs.As(err).Fields)
				}
			}
		}
		// Someone who is neither an authoriser of the site nor the desk.
		_, err := w.svc.Raise(w.ctx, w.outsider, newUser(w.surgery, "b1@nhs.net"))
		wantCode(t, err, errs.Forbidden, "outsider")
		_, err = w.svc.Raise(w.ctx, w.desk, newUser(w.surgery, "b2@nhs.net")) // desk of another organisation
		wantCode(t, err, errs.Forbidden, "desk of another organisation")
		mixed := newUser(w.surgery, "b3@nhs.net")
		mixed.OrganisationID = w.trust.ID // the desk's organisation, but a site of another
		_, err = w.svc.Raise(w.ctx, w.desk, mixed)
		wantCode(t, err, errs.Invalid, "site of another organisation")
		blank := access.Input{Type: access.TypeNewUser, Email: "b4@gmail.com"}
		_, err = w.svc.Raise(w.ctx, w.authoriser, blank)
		if fields := errs.As(err).Fields; len(fields) < 4 {
			t.Errorf("a form without a site reports only %d problems: %+v", len(fields), fields)
		}
		var n int
		if err := w.db.QueryRow(w.ctx, `SELECT COUNT(*) FROM access_requests`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d requests stored after refusals (%v)", n, err)
		}
		var m int
		if err := w.db.QueryRow(w.ctx, `SELECT COUNT(*) FROM outbox`).Scan(&m); err != nil || m != 0 {
			t.Fatalf("%d e-mails queued after refusals", m)
		}
		// Duplicates: a second open new-user request, and one for someone with an account.
		must(w.svc.Raise(w.ctx, w.authoriser, newUser(w.surgery, "dup@nhs.net")))(t)
		_, err = w.svc.Raise(w.ctx, w.authoriser, newUser(w.surgery, "DUP@nhs.net"))
		wantCode(t, err, errs.Conflict, "duplicate open request")
	})
}

func TestNewUserCompletionSendsCredentialsSeparately(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		r := must(w.svc.Raise(w.ctx, w.authoriser, newUser(w.surgery, "alex.morgan@nhs.net")))(t)
		_, err := w.svc.Complete(w.ctx, w.authoriser, r.ID, "")
		wantCode(t, err, errs.Forbidden, "authoriser completing")
		r = must(w.svc.Assign(w.ctx, w.backOffice, r.ID, ""))(t)
		if r.State != access.StateInProgress || r.AssignedTo != w.backOffice.UserID {
			t.Fatalf("assign: %s %s", r.State, r.AssignedTo)
		}
		r = must(w.svc.Complete(w.ctx, w.backOffice, r.ID, "Account created"))(t)
		if r.State != access.StateCompleted || r.SubjectUserID == "" || r.ClosedAt == nil {
			t.Fatalf("complete: %+v", r)
		}
		acct := must(w.svc.Account(w.ctx, r.SubjectUserID))(t)
		if acct.Status != access.AccountActive || acct.Role != access.RoleCareProfessional || acct.Username != "amorgan" || acct.ActivatedAt == nil {
			t.Fatalf("record account %+v", acct)
		}
		var user, pass mail
		for _, m := range w.outbox(r.ID) {
			switch m.Kind {
			case "credentials_username":
				user = m
			case "credentials_password":
				pass = m
			}
		}
		if user.To != "alex.morgan@nhs.net" || !strings.Contains(user.Text, "amorgan") {
			t.Fatalf("user-name e-mail %+v", user)
		}
		if pass.To != "alex.morgan@nhs.net" || strings.Contains(pass.Text, "amorgan") {
			t.Fatalf("password e-mail %+v", pass)
		}
		// The one-time password signs in and forces a new password.
		pw := regexp.MustCompile(`[A-Za-z0-9]{4}-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}-[A-Za-z0-9]{4}`).FindString(pass.Text)
		if pw == "" {
			t.Fatalf("no password in %q", pass.Text)
		}
		_, sess, err := w.users.SignIn(w.ctx, audit.Who{IP: "10.0.0.1"}, "alex.morgan@nhs.net", pw)
		if err != nil || sess.State != auth.StatePassword {
			t.Fatalf("first sign-in: %v, state %v", err, sess)
		}
		// A second new-user request for them is refused: they have an account.
		_, err = w.svc.Raise(w.ctx, w.authoriser, newUser(w.surgery, "alex.morgan@nhs.net"))
		wantCode(t, err, errs.Conflict, "new user for someone with an account")
		w.verify()
	})
}

func TestNominatedIndividualReceivesPasswords(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		gp2 := w.organisation("M85002", "Hill Surgery", "site_authoriser", "pm@nhs.net")
		s := w.site(gp2, "Hill Surgery")
		if _, err := w.orgs.AppointAuthoriser(w.ctx, w.admin, s.ID, orgAppointee("auth@nhs.net")); err != nil {
			t.Fatal(err)
		}
		p := w.principal(w.authoriser.UserID)
		r := must(w.svc.Raise(w.ctx, p, newUser(s, "jo.bloggs@nhs.net")))(t)
		must(w.svc.Complete(w.ctx, w.backOffice, r.ID, ""))(t)
		for _, m := range w.outbox(r.ID) {
			if m.Kind == "credentials_password" && (m.To != "pm@nhs.net" || !strings.Contains(m.Text, "Alex Morgan")) {
				t.Errorf("password e-mail went to %s: %q", m.To, m.Text)
			}
			if m.Kind == "credentials_username" && m.To != "jo.bloggs@nhs.net" {
				t.Errorf("user-name e-mail went to %s", m.To)
			}
		}
	})
}

func TestQuestionsCancellationAndIllegalTransitions(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		r := must(w.svc.Raise(w.ctx, w.authoriser, newUser(w.surgery, "q@nhs.net")))(t)
		must(w.svc.Assign(w.ctx, w.backOffice, r.ID, ""))(t)
		_, err := w.svc.AskForInformation(w.ctx, w.backOffice, r.ID, "  ")
		wantCode(t, err, errs.Invalid, "empty question")
		r = must(w.svc.AskForInformation(w.ctx, w.backOffice, r.ID, "Which GP practice system do they use?"))(t)
		if r.State != access.StateNeedsInformation {
			t.Fatalf("ask: %s", r.State)
		}
		_, err = w.svc.Complete(w.ctx, w.backOffice, r.ID, "")
		wantCode(t, err, errs.Conflict, "complete while waiting for information")
		_, err = w.svc.Answer(w.ctx, w.outsider, r.ID, "EMIS")
		wantCode(t, err, errs.Forbidden, "outsider answering")
		r = must(w.svc.Answer(w.ctx, w.authoriser, r.ID, "EMIS Web"))(t)
		if r.State != access.StateInProgress || r.Answer != "EMIS Web" {
			t.Fatalf("answer resumes %s", r.State)
		}
		_, err = w.svc.Cancel(w.ctx, w.authoriser, r.ID, "")
		wantCode(t, err, errs.Conflict, "cancel in progress")
		_, err = w.svc.Assign(w.ctx, w.backOffice, r.ID, w.authoriser.UserID)
		wantCode(t, err, errs.Invalid, "assign to someone outside the back office")
		r = must(w.svc.Assign(w.ctx, w.backOffice, r.ID, w.backOffice2.UserID))(t)
		r = must(w.svc.Reject(w.ctx, w.backOffice2, r.ID, "Not a direct care role"))(t)
		if r.State != access.StateRejected || r.Resolution != "Not a direct care role" {
			t.Fatalf("reject: %+v", r)
		}
		for _, op := range []func() error{
			func() error { _, err := w.svc.Complete(w.ctx, w.backOffice, r.ID, ""); return err },
			func() error { _, err := w.svc.Reject(w.ctx, w.backOffice, r.ID, "again"); return err },
			func() error { _, err := w.svc.Cancel(w.ctx, w.authoriser, r.ID, ""); return err },
			func() error { _, err := w.svc.Assign(w.ctx, w.backOffice, r.ID, ""); return err },
		} {
			wantCode(t, op(), errs.Conflict, "action on a rejected request")
		}
		// A closed request no longer blocks a new one; cancellation works.
		r2 := must(w.svc.Raise(w.ctx, w.authoriser, newUser(w.surgery, "q@nhs.net")))(t)
		r2 = must(w.svc.Cancel(w.ctx, w.authoriser, r2.ID, "Raised by mistake"))(t)
		if r2.State != access.StateCancelled {
			t.Fatalf("cancel: %s", r2.State)
		}
		_, hist := must2(w.svc.Get(w.ctx, w.backOffice, r.ID))(t)
		var states []string
		for _, e := range hist {
			states = append(states, e.ToState)
		}
		if got := strings.Join(states, ","); got != "submitted,validated,in_progress,needs_information,in_progress,in_progress,rejected" {
			t.Errorf("history %s", got)
		}
		evs, _, err := audit.Search(w.ctx, w.db, audit.Filter{ObjectType: "access_request", ObjectID: r.ID, Limit: 50})
		if err != nil || len(evs) != 6 {
			t.Errorf("%d audit events for the request, want 6: submit (validated on submission), assign, ask, answer, assign, reject (%v)", len(evs), err)
		}
		w.verify()
	})
}

func TestAccountLifecycle(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		r := must(w.svc.Raise(w.ctx, w.authoriser, newUser(w.surgery, "life@nhs.net")))(t)
		r = must(w.svc.Complete(w.ctx, w.backOffice, r.ID, ""))(t)
		uid := r.SubjectUserID
		if err := w.users.SetPassword(w.ctx, audit.System, uid, "lantern orchard violet 42"); err != nil {
			t.Fatal(err)
		}
		tok, _ := must2(w.users.CreateToken(w.ctx, audit.System, uid, "script"))(t)
		change := func(in access.Input) *access.Request {
			t.Helper()
			in.SiteID, in.Email, in.GivenName, in.FamilyName = w.surgery.ID, "life@nhs.net", "Alex", "Morgan"
			in.AttestDirectCare, in.AttestToldMisuse, in.AttestIGTraining = true, true, true
			r := must(w.svc.Raise(w.ctx, w.authoriser, in))(t)
			return must(w.svc.Complete(w.ctx, w.backOffice, r.ID, ""))(t)
		}
		change(access.Input{Type: access.TypeAmendment, Role: access.RoleAdministrator, FinishingDate: "2027-03-31"})
		a := must(w.svc.Account(w.ctx, uid))(t)
		if a.Role != access.RoleAdministrator || a.FinishingDate != "2027-03-31" {
			t.Fatalf("amended: %+v", a)
		}
		_, err := w.svc.Raise(w.ctx, w.authoriser, access.Input{Type: access.TypeReactivation, SiteID: w.surgery.ID, Email: "life@nhs.net",
			GivenName: "Alex", FamilyName: "Morgan", AttestDirectCare: true, AttestToldMisuse: true, AttestIGTraining: true})
		wantCode(t, err, errs.Conflict, "reactivating an active account")
		change(access.Input{Type: access.TypeDeactivation, Reason: access.ReasonMaternityLeave})
		a = must(w.svc.Account(w.ctx, uid))(t)
		if a.Status != access.AccountDeactivated || a.StatusReason != access.ReasonMaternityLeave {
			t.Fatalf("deactivated: %+v", a)
		}
		var deactivatedAt int64
		if err := w.db.QueryRow(w.ctx, `SELECT deactivated_at FROM record_accounts WHERE user_id = ?`, uid).Scan(&deactivatedAt); err != nil ||
			deactivatedAt != w.clock.Now().UnixMicro() {
			t.Fatalf("deactivated_at %d, want now (%v)", deactivatedAt, err)
		}
		if _, err := w.users.AuthenticateToken(w.ctx, tok); err == nil {
			t.Error("deactivation left the person's API token working")
		}
		w.clock.Advance(200 * 24 * time.Hour)
		change(access.Input{Type: access.TypeReactivation})
		a = must(w.svc.Account(w.ctx, uid))(t)
		if a.Status != access.AccountActive || a.ActivatedAt == nil || !a.ActivatedAt.Equal(w.clock.Now().Truncate(time.Microsecond)) {
			t.Fatalf("reactivated (the inactivity clock must restart): %+v", a)
		}
		// The amendment's finishing date (31 March 2027) passed while the
		// account was deactivated; kept, it would end the access again at
		// the next sweep.
		if a.FinishingDate != "" {
			t.Fatalf("reactivated with the passed finishing date %s", a.FinishingDate)
		}
		// A token made after the reactivation: deletion must end it too.
		tok2, _ := must2(w.users.CreateToken(w.ctx, audit.System, uid, "after reactivation"))(t)
		change(access.Input{Type: access.TypeDeletion, LeavingDate: "2027-06-30"})
		a = must(w.svc.Account(w.ctx, uid))(t)
		if a.Status != access.AccountDeleted || a.StatusReason != access.ReasonLeaver {
			t.Fatalf("deleted: %+v", a)
		}
		if _, err := w.users.AuthenticateToken(w.ctx, tok2); err == nil {
			t.Error("deletion left the person's API token working")
		}
		// A re-invited leaver is the same person with the same user name.
		r = must(w.svc.Raise(w.ctx, w.authoriser, newUser(w.surgery, "life@nhs.net")))(t)
		r = must(w.svc.Complete(w.ctx, w.backOffice, r.ID, ""))(t)
		if r.SubjectUserID != uid {
			t.Fatal("a returning leaver got a second identity")
		}
		a = must(w.svc.Account(w.ctx, uid))(t)
		if a.Status != access.AccountActive || a.Username != "amorgan" {
			t.Fatalf("returned: %+v", a)
		}
		var passwordMails int
		for _, m := range w.outbox(r.ID) {
			if m.Kind == "credentials_password" {
				passwordMails++
			}
		}
		if passwordMails != 0 {
			t.Error("someone who has their own password was sent a one-time password")
		}
		w.verify()
	})
}

func TestSuspensionRefusesNewUsersOnly(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		r := must(w.svc.Raise(w.ctx, w.authoriser, newUser(w.surgery, "before@nhs.net")))(t)
		must(w.svc.Complete(w.ctx, w.backOffice, r.ID, ""))(t)
		for _, q := range []string{`INSERT INTO settings (key, value) VALUES ('requests_suspended', '1')`,
			`INSERT INTO settings (key, value) VALUES ('requests_suspended_message', 'New access requests are paused while the ICB takes over.')`} {
			if _, err := w.db.Exec(w.ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		_, err := w.svc.Raise(w.ctx, w.authoriser, newUser(w.surgery, "after@nhs.net"))
		wantCode(t, err, errs.Conflict, "new user while suspended")
		if !strings.Contains(errs.As(err).Message, "ICB takes over") {
			t.Errorf("message %q", errs.As(err).Message)
		}
		// Existing members are unaffected: changes still go through.
		must(w.svc.Raise(w.ctx, w.authoriser, access.Input{Type: access.TypeDeactivation, SiteID: w.surgery.ID, Email: "before@nhs.net",
			GivenName: "Alex", FamilyName: "Morgan", Reason: access.ReasonLongTermSickness}))(t)
	})
}

func TestOverdueAndQueueFilters(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		var ids []string
		for i := range 3 {
			r := must(w.svc.Raise(w.ctx, w.authoriser, newUser(w.surgery, fmt.Sprintf("o%d@nhs.net", i))))(t)
			ids = append(ids, r.ID)
		}
		must(w.svc.Assign(w.ctx, w.backOffice, ids[0], ""))(t)
		w.clock.Advance(6 * 24 * time.Hour) // Sunday: 4 working days on
		if n := must(w.svc.OverdueCount(w.ctx))(t); n != 0 {
			t.Fatalf("%d overdue after 4 working days", n)
		}
		w.clock.Advance(25 * time.Hour) // Monday 10:00: past the due time (Monday 09:00)
		if n := must(w.svc.OverdueCount(w.ctx))(t); n != 3 {
			t.Fatalf("%d overdue, want 3", n)
		}
		if open, overdue, err := w.svc.Counts(w.ctx); err != nil || open != 3 || overdue != 3 {
			t.Fatalf("counts: %d open, %d overdue (%v); want 3 and 3", open, overdue, err)
		}
		list, _, err := w.svc.List(w.ctx, w.backOffice, access.Filter{Overdue: true, AssignedTo: "none"})
		if err != nil || len(list) != 2 || !list[0].Overdue {
			t.Fatalf("overdue and unassigned: %d (%v)", len(list), err)
		}
		mine, _, _ := w.svc.List(w.ctx, w.backOffice, access.Filter{AssignedTo: w.backOffice.UserID, State: "open"})
		if len(mine) != 1 || mine[0].ID != ids[0] {
			t.Fatalf("mine: %d", len(mine))
		}
		// The outsider sees none of them; the authoriser sees all three.
		if l, _, _ := w.svc.List(w.ctx, w.outsider, access.Filter{}); len(l) != 0 {
			t.Errorf("outsider sees %d requests", len(l))
		}
		if l, _, _ := w.svc.List(w.ctx, w.authoriser, access.Filter{}); len(l) != 3 {
			t.Errorf("authoriser sees %d requests", len(l))
		}
		if _, _, err := w.svc.Get(w.ctx, w.outsider, ids[1]); errs.CodeOf(err) != errs.Forbidden {
			t.Errorf("outsider reading a request: %v", err)
		}
		if l, _, _ := w.svc.List(w.ctx, w.backOffice, access.Filter{Query: "_"}); len(l) != 0 {
			t.Errorf("searching for _ matched %d requests: it must not be a wildcard", len(l))
		}
		if l, _, _ := w.svc.List(w.ctx, w.backOffice, access.Filter{Query: "O1@NHS"}); len(l) != 1 {
			t.Errorf("search by e-mail found %d", len(l))
		}
		// Paging.
		p1, next, _ := w.svc.List(w.ctx, w.backOffice, access.Filter{Limit: 2})
		p2, next2, _ := w.svc.List(w.ctx, w.backOffice, access.Filter{Limit: 2, Before: next})
		if len(p1) != 2 || len(p2) != 1 || next == "" || next2 != "" || p2[0].ID == p1[0].ID || p2[0].ID == p1[1].ID {
			t.Errorf("paging: %d then %d", len(p1), len(p2))
		}
		res := must(w.svc.CompleteMany(w.ctx, w.backOffice, append(ids, "no-such-request"), "Intake"))(t)
		if res.Completed != 3 || len(res.Failed) != 1 {
			t.Fatalf("bulk: %+v", res)
		}
		if n := must(w.svc.OverdueCount(w.ctx))(t); n != 0 {
			t.Errorf("%d overdue after completion", n)
		}
		must(w.svc.Raise(w.ctx, w.authoriser, newUser(w.surgery, "late@nhs.net")))(t) // open, not overdue
		if open, overdue, err := w.svc.Counts(w.ctx); err != nil || open != 1 || overdue != 0 {
			t.Errorf("counts after completion: %d open, %d overdue (%v); want 1 and 0", open, overdue, err)
		}
		w.verify()
	})
}

func TestConcurrentCompletionActsOnce(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		r := must(w.svc.Raise(w.ctx, w.authoriser, newUser(w.surgery, "race@nhs.net")))(t)
		var wg sync.WaitGroup
		errsc := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				_, err := w.svc.Complete(context.Background(), w.backOffice, r.ID, "")
				errsc <- err
			})
		}
		wg.Wait()
		close(errsc)
		ok := 0
		for err := range errsc {
			if err == nil {
				ok++
			} else if errs.CodeOf(err) != errs.Conflict {
				t.Errorf("concurrent completion: %v", err)
			}
		}
		var accounts, mails int
		w.db.QueryRow(w.ctx, `SELECT COUNT(*) FROM record_accounts`).Scan(&accounts)
		w.db.QueryRow(w.ctx, `SELECT COUNT(*) FROM outbox WHERE kind = 'credentials_password'`).Scan(&mails)
		if ok != 1 || accounts != 1 || mails != 1 {
			t.Fatalf("%d completions, %d accounts, %d password e-mails; want 1 each", ok, accounts, mails)
		}
		w.verify()
	})
}

func orgAppointee(email string) org.Appointee { return org.Appointee{Email: email} }

func TestAutomaticRequestIsRaisedOnce(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		member := w.person("trainee@nhs.net")
		in := newUser(w.surgery, "trainee@nhs.net")
		in.SourceKey = "training-complete:" + member.UserID
		var first *access.Request
		for i := range 2 {
			err := w.db.InTx(w.ctx, func(tx *store.Tx) error {
				r, err := w.svc.RaiseAutomaticTx(w.ctx, tx, member, in)
				if i == 0 {
					first = r
				} else if r == nil || r.ID != first.ID {
					t.Errorf("second automatic raise made another request")
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if first.State != access.StateValidated || first.SubmittedBy != member.UserID {
			t.Fatalf("automatic request: %+v", first)
		}
		// The same person may not raise requests themselves.
		_, err := w.svc.Raise(w.ctx, member, newUser(w.surgery, "other.trainee@nhs.net"))
		wantCode(t, err, errs.Forbidden, "member raising")
	})
}

// A service desk's request raised without a site is seen by the authorisers
// of the sites where the person is a member, and by no other authoriser.
func TestDeskRequestWithoutSiteVisibleToTheMembersAuthorisers(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		p := w.person("nurse@nhs.net")
		if err := w.db.InTx(w.ctx, func(tx *store.Tx) error {
			return w.orgs.AddMemberTx(w.ctx, tx, audit.System, "m-nurse", w.ward.ID, p.UserID, "Nurse", "Nursing and midwifery")
		}); err != nil {
			t.Fatal(err)
		}
		now := w.clock.Now().UnixMicro()
		if _, err := w.db.Exec(w.ctx, `INSERT INTO record_accounts (id, user_id, organisation_id, username, role, status, activated_at, idle_from, created_at, updated_at)
			VALUES ('ra-nurse', ?, ?, 'tperson', 'care_professional', 'active', ?, ?, ?, ?)`, p.UserID, w.trust.ID, now, now, now, now); err != nil {
			t.Fatal(err)
		}
		r := must(w.svc.Raise(w.ctx, w.desk, access.Input{Type: access.TypeDeactivation, OrganisationID: w.trust.ID, Email: "nurse@nhs.net",
			GivenName: "Test", FamilyName: "Person", Reason: access.ReasonLongTermSickness}))(t)
		if r.SiteID != "" {
			t.Fatalf("request has a site: %+v", r)
		}
		if _, _, err := w.svc.Get(w.ctx, w.authoriser, r.ID); err != nil {
			t.Fatalf("the member's authoriser cannot see the request: %v", err)
		}
		list, _, err := w.svc.List(w.ctx, w.authoriser, access.Filter{})
		if err != nil || !slicesContainsID(list, r.ID) {
			t.Fatalf("the member's authoriser's list lacks the request: %v", err)
		}
		clinic := w.site(w.trust, "Clinic 9")
		other := w.appoint("other.auth@nhs.net", func(a org.Appointee) error {
			_, err := w.orgs.AppointAuthoriser(w.ctx, w.admin, clinic.ID, a)
			return err
		})
		_, _, err = w.svc.Get(w.ctx, other, r.ID)
		wantCode(t, err, errs.Forbidden, "another site's authoriser")
		list, _, err = w.svc.List(w.ctx, other, access.Filter{})
		if err != nil || slicesContainsID(list, r.ID) {
			t.Fatalf("another site's authoriser lists the request: %v", err)
		}
	})
}

func slicesContainsID(rs []*access.Request, id string) bool {
	for _, r := range rs {
		if r.ID == id {
			return true
		}
	}
	return false
}
