package training_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/org"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/training"
)

// Completing the last outstanding module raises the member's new-user
// request exactly once, even when eight completions of it arrive at the
// same moment; the request is the member's, routed as an authoriser's.
func TestGateFiresOnceUnderConcurrency(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		first := w.module("Introduction", 1, 0, training.SettingsInput{})
		last := w.module("Legitimate use", 2, 3, training.SettingsInput{})
		optional := w.module("Further reading", 1, 0, training.SettingsInput{Mandatory: ptr(false)})
		p := w.member("amir@nhs.net", w.nursing, "Nursing and midwifery")
		if pr := w.finish(p, first, 1, 0); pr.Gate != nil {
			t.Fatalf("the gate fired with a module outstanding: %+v", pr.Gate)
		}
		must(w.svc.CompletePage(w.ctx, p, last.ID, 1))(t)
		must(w.svc.CompletePage(w.ctx, p, last.ID, 2))(t)

		var wg sync.WaitGroup
		results := make(chan *training.CheckResult, 8)
		failures := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				res, err := w.svc.SubmitCheck(context.Background(), p, last.ID, answers(3, 0))
				if err != nil {
					failures <- err
					return
				}
				results <- res
			})
		}
		wg.Wait()
		close(results)
		close(failures)
		for err := range failures {
			if errs.CodeOf(err) != errs.Conflict {
				t.Errorf("a concurrent completion failed: %v", err)
			}
		}
		var gate *training.Gate
		n := 0
		for res := range results {
			n++
			gate = res.Progress.Gate
		}
		if n != 1 || gate == nil || !gate.Raised || gate.RequestRef == "" {
			t.Fatalf("%d checks passed, gate %+v; want one pass that raised the request", n, gate)
		}
		if c := w.count(`SELECT COUNT(*) FROM access_requests`); c != 1 {
			t.Fatalf("%d requests, want 1", c)
		}
		if c := w.count(`SELECT COUNT(*) FROM training_completions WHERE user_id = ?`, p.UserID); c != 2 {
			t.Fatalf("%d completions, want 2", c)
		}

		// The member sees their request, and so does the back office.
		r, hist := must2(w.acc.Get(w.ctx, p, gate.RequestID))(t)
		if r.Type != access.TypeNewUser || r.SubmittedBy != p.UserID || r.SubjectUserID != p.UserID || r.Email != "amir@nhs.net" ||
			r.SiteID != w.nursing.ID || r.OrganisationID != w.riverside.ID || r.Role != access.RoleCareProfessional || r.GivenName != "Amir" ||
			r.JobTitle != "Staff Nursing and midwifery" || !r.AttestDirectCare || !r.AttestToldMisuse || !r.AttestIGTraining {
			t.Fatalf("the raised request: %+v", r)
		}
		if r.State != access.StateValidated || len(hist) != 2 { // site-authoriser routing: validated on submission
			t.Fatalf("routing: state %s, %d history steps", r.State, len(hist))
		}
		if _, _, err := w.acc.Get(w.ctx, w.backOffice, r.ID); err != nil {
			t.Fatalf("back office reading the request: %v", err)
		}
		o := w.mine(p)
		if o.RequestRef != r.Ref || o.RequestState != access.StateValidated || o.Outstanding != 1 || !o.AccessAllowed {
			t.Fatalf("overview after the gate (the optional module is outstanding, not blocking): %+v", o)
		}
		// Finishing the optional module raises nothing more.
		if pr := w.finish(p, optional, 1, 0); pr.Gate != nil {
			t.Errorf("gate fired again: %+v", pr.Gate)
		}
		if c := w.count(`SELECT COUNT(*) FROM access_requests`); c != 1 {
			t.Errorf("%d requests after the optional module, want 1", c)
		}
		w.verify()
	})
}

// The same race on the last page of a module without a check: every call
// succeeds (finishing a finished page changes nothing), one raises the
// request. The organisation's service desk validates this one.
func TestGateOnLastPageRace(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		m := w.module("Introduction", 3, 0, training.SettingsInput{})
		p := w.member("nina@nhs.net", w.emergency, "Nursing and midwifery")
		must(w.svc.CompletePage(w.ctx, p, m.ID, 1))(t)
		must(w.svc.CompletePage(w.ctx, p, m.ID, 2))(t)
		var wg sync.WaitGroup
		gates := make(chan *training.Gate, 8)
		for range 8 {
			wg.Go(func() {
				pr, err := w.svc.CompletePage(context.Background(), p, m.ID, 3)
				if err != nil {
					t.Errorf("concurrent last page: %v", err)
					return
				}
				if !pr.Completed {
					t.Errorf("last page not complete: %+v", pr)
				}
				if pr.Gate != nil {
					gates <- pr.Gate
				}
			})
		}
		wg.Wait()
		close(gates)
		var raised []*training.Gate
		for g := range gates {
			raised = append(raised, g)
		}
		if len(raised) != 1 || !raised[0].Raised {
			t.Fatalf("gates: %+v, want one raised", raised)
		}
		r, _ := must2(w.acc.Get(w.ctx, p, raised[0].RequestID))(t)
		if r.State != access.StateSubmitted || r.OrganisationID != w.northgate.ID {
			t.Fatalf("request for a service-desk organisation: %+v", r)
		}
		if c := w.count(`SELECT COUNT(*) FROM access_requests`); c != 1 {
			t.Fatalf("%d requests, want 1", c)
		}
		if c := w.count(`SELECT COUNT(*) FROM training_attempts WHERE user_id = ?`, p.UserID); c != 1 {
			t.Fatalf("%d attempts, want 1", c)
		}
		w.verify()
	})
}

// The gate raises nothing for someone who has a record account or an open
// request already. When access refuses the request (the organisation has
// suspended new requests), the completion stands, the member is told, and
// the hourly sweep raises it once the suspension ends.
func TestGateConditions(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		m := w.module("Introduction", 1, 0, training.SettingsInput{})

		withAccount := w.member("has.account@nhs.net", w.nursing, "Nursing and midwifery")
		w.grant(withAccount, access.RoleCareProfessional)
		if pr := w.finish(withAccount, m, 1, 0); pr.Gate != nil {
			t.Errorf("gate for someone with an account: %+v", pr.Gate)
		}
		waiting := w.member("waiting@nhs.net", w.nursing, "Nursing and midwifery")
		must(w.acc.Raise(w.ctx, w.authoriser, access.Input{Type: access.TypeNewUser, SiteID: w.nursing.ID, Email: "waiting@nhs.net", GivenName: "W",
			FamilyName: "P", JobTitle: "Nurse", Role: access.RoleCareProfessional, AttestDirectCare: true, AttestToldMisuse: true, AttestIGTraining: true}))(t)
		pr := w.finish(waiting, m, 1, 0)
		if pr.Gate == nil || pr.Gate.Raised {
			t.Errorf("gate with an open request: %+v", pr.Gate)
		}
		if c := w.count(`SELECT COUNT(*) FROM access_requests`); c != 2 {
			t.Fatalf("%d requests, want the 2 the authoriser raised", c)
		}

		// Suspended organisation.
		suspended := org.StatusSuspended
		must(w.orgs.UpdateOrganisation(w.ctx, w.admin, w.riverside.ID, org.OrganisationInput{Status: &suspended}))(t)
		p := w.member("late@nhs.net", w.mentalHealth, "Nursing and midwifery")
		pr = w.finish(p, m, 1, 0)
		if pr.Gate == nil || pr.Gate.Raised || pr.Gate.Message == "" {
			t.Fatalf("gate when suspended: %+v", pr.Gate)
		}
		if a := find(w.mine(p), m.ID); a.Status != training.Completed {
			t.Fatalf("the completion was lost with the refused request: %+v", a)
		}
		if c := w.count(`SELECT COUNT(*) FROM audit_events WHERE action = 'training.gate' AND outcome = 'failure'`); c != 1 {
			t.Errorf("%d refused gates audited, want 1", c)
		}
		res := must(w.svc.SweepOnce(w.ctx, w.clock.Now()))(t)
		if res.Requests != 0 {
			t.Fatalf("sweep raised while suspended: %+v", res)
		}
		active := org.StatusActive
		must(w.orgs.UpdateOrganisation(w.ctx, w.admin, w.riverside.ID, org.OrganisationInput{Status: &active}))(t)
		res = must(w.svc.SweepOnce(w.ctx, w.clock.Now()))(t)
		if res.Requests != 1 {
			t.Fatalf("sweep after the suspension: %+v", res)
		}
		res = must(w.svc.SweepOnce(w.ctx, w.clock.Now()))(t)
		if res.Requests != 0 {
			t.Fatalf("second sweep: %+v", res)
		}
		if o := w.mine(p); o.RequestRef == "" {
			t.Errorf("the swept request is not shown: %+v", o)
		}
		// A rejected automatic request is not raised again behind the
		// authoriser's back.
		r, _, err := w.acc.Get(w.ctx, w.backOffice, must(w.svc.MyTraining(w.ctx, p))(t).RequestRef)
		if err != nil {
			t.Fatal(err)
		}
		must(w.acc.Reject(w.ctx, w.backOffice, r.ID, "Not a member of staff here"))(t)
		if res := must(w.svc.SweepOnce(w.ctx, w.clock.Now()))(t); res.Requests != 0 {
			t.Errorf("a rejected request was raised again: %+v", res)
		}
		// Asked again (a returning member's acceptance, say), the gate says
		// which request was raised before and what became of it.
		var g *training.Gate
		must(0, w.db.InTx(w.ctx, func(tx *store.Tx) (err error) {
			g, err = w.svc.RaiseIfReadyTx(w.ctx, tx, p.UserID, "")
			return err
		}))(t)
		if g == nil || g.Raised || !strings.Contains(g.Message, r.Ref+" was raised for you before ("+access.StateLabel(access.StateRejected)+")") {
			t.Errorf("gate after a rejected request: %+v", g)
		}
		w.verify()
	})
}

// A deactivated and reactivated member keeps their completed training: no
// retraining, no new request, access allowed.
func TestReactivationKeepsCompletion(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		a := w.module("Introduction", 1, 0, training.SettingsInput{})
		b := w.module("Information governance", 1, 2, training.SettingsInput{})
		p := w.member("amir@nhs.net", w.nursing, "Nursing and midwifery")
		w.finish(p, a, 1, 0)
		pr := w.finish(p, b, 1, 2)
		if pr.Gate == nil || !pr.Gate.Raised {
			t.Fatalf("gate: %+v", pr.Gate)
		}
		must(w.acc.Complete(w.ctx, w.backOffice, pr.Gate.RequestID, ""))(t)
		change := func(in access.Input) {
			t.Helper()
			in.SiteID, in.Email, in.GivenName, in.FamilyName = w.nursing.ID, "amir@nhs.net", "Amir", "Person"
			in.AttestDirectCare, in.AttestToldMisuse, in.AttestIGTraining = true, true, true
			r := must(w.acc.Raise(w.ctx, w.authoriser, in))(t)
			must(w.acc.Complete(w.ctx, w.backOffice, r.ID, ""))(t)
		}
		change(access.Input{Type: access.TypeDeactivation, Reason: access.ReasonMaternityLeave})
		if o := w.mine(p); !o.AllComplete {
			t.Fatalf("deactivation lost training: %+v", o)
		}
		w.clock.Advance(200 * 24 * time.Hour)
		change(access.Input{Type: access.TypeReactivation})
		acct := must(w.acc.Account(w.ctx, p.UserID))(t)
		o := w.mine(p)
		if acct.Status != access.AccountActive || !o.AllComplete || !o.AccessAllowed || o.StatusLine != "All modules complete." {
			t.Fatalf("after reactivation: account %s, %+v", acct.Status, o)
		}
		if ok, why := w.svc.AccessAllowed(w.ctx, p.UserID); !ok {
			t.Fatalf("access not allowed after reactivation: %s", why)
		}
		if c := w.count(`SELECT COUNT(*) FROM access_requests WHERE type = 'new_user'`); c != 1 {
			t.Errorf("%d new-user requests, want 1", c)
		}
		if res := must(w.svc.SweepOnce(w.ctx, w.clock.Now()))(t); res.Requests != 0 {
			t.Errorf("sweep raised for a reactivated member: %+v", res)
		}
	})
}

// A mandatory module published after a member had access shows as
// outstanding but does not block that access, unless its setting says so;
// for a member without access it counts.
func TestNewModuleDoesNotBlockExistingAccess(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		intro := w.module("Introduction", 1, 0, training.SettingsInput{})
		old := w.member("old@nhs.net", w.nursing, "Nursing and midwifery")
		w.finish(old, intro, 1, 0)
		r := must(w.svc.MyTraining(w.ctx, old))(t)
		if r.RequestRef == "" {
			t.Fatal("no request raised")
		}
		req, _ := must2(w.acc.Get(w.ctx, w.backOffice, r.RequestRef))(t)
		must(w.acc.Complete(w.ctx, w.backOffice, req.ID, ""))(t)
		w.clock.Advance(time.Hour)

		audit := w.module("Audit and monitoring", 2, 0, training.SettingsInput{})
		newcomer := w.member("new@nhs.net", w.nursing, "Nursing and midwifery")
		o := w.mine(old)
		a := find(o, audit.ID)
		if a == nil || a.Status != training.NotStarted || !a.NewSinceAccess || a.CountsForAccess || o.Outstanding != 1 || !o.AccessAllowed {
			t.Fatalf("existing member: %+v / %+v", o, a)
		}
		if o.StatusLine != "You have outstanding modules to complete below. They do not affect your access to the Westshire Care Record." {
			t.Errorf("status line: %q", o.StatusLine)
		}
		if ok, _ := w.svc.AccessAllowed(w.ctx, old.UserID); !ok {
			t.Error("a new module blocked existing access")
		}
		if ok, why := w.svc.AccessAllowed(w.ctx, newcomer.UserID); ok || why == "" {
			t.Error("the new module does not count for a newcomer")
		}
		must(w.svc.UpdateSettings(w.ctx, w.admin, audit.ID, training.SettingsInput{BlocksExistingAccess: ptr(true)}))(t)
		ok, why := w.svc.AccessAllowed(w.ctx, old.UserID)
		if ok || why != "1 mandatory module is not complete: Audit and monitoring" {
			t.Errorf("blocking module: %v %q", ok, why)
		}
		if o := w.mine(old); o.StatusLine != "You have outstanding modules to complete below before you can use the Westshire Care Record again." {
			t.Errorf("status line when blocked: %q", o.StatusLine)
		}
		w.finish(old, audit, 2, 0)
		if ok, _ := w.svc.AccessAllowed(w.ctx, old.UserID); !ok {
			t.Error("access still blocked after completing the module")
		}
		if ok, why := w.svc.AccessAllowed(w.ctx, "no-such-person"); ok || why == "" {
			t.Error("access allowed for nobody")
		}
	})
}

func must2[A, B any](a A, b B, err error) func(testing.TB) (A, B) {
	return func(t testing.TB) (A, B) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a, b
	}
}
