package member_test

import (
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/member"
)

var attest = member.Attestations{DirectCare: true, ToldMisuse: true, IGTraining: true}

func (w *world) request(id string) *access.Request {
	w.t.Helper()
	r, _, err := w.acc.Get(w.ctx, w.admin, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return r
}

func TestMembersListWithTrainingAndAuthoriserMark(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		w.join(w.authoriser, w.nursing, "nina.new@nhs.net")
		w.join(w.authoriser, w.nursing, "adam.able@nhs.net")
		ms, err := w.svc.Members(w.ctx, w.at(w.authoriser, w.nursing.ID))
		if err != nil || len(ms) != 2 || ms[0].Email != "nina.new@nhs.net" && ms[0].Email != "adam.able@nhs.net" {
			t.Fatalf("members %+v %v", ms, err)
		}
		for _, m := range ms {
			if m.Authoriser || m.JoinedAt.IsZero() {
				t.Fatalf("member %+v", m)
			}
		}
		_, err = w.svc.Open(w.ctx, w.other, w.nursing.ID)
		wantCode(t, err, errs.Forbidden, "")
		if ms, err := w.svc.Members(w.ctx, w.at(w.admin, w.nursing.ID)); err != nil || len(ms) != 2 {
			t.Fatalf("administrator reads %d members: %v", len(ms), err)
		}
	})
}

func TestDeactivateRemoveReactivate(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		m := w.join(w.authoriser, w.nursing, "nina.new@nhs.net")
		w.grant(m.UserID, w.riverside.ID, access.AccountActive)

		// Bad reason changes nothing.
		_, err := w.svc.Deactivate(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, "holiday", "")
		wantCode(t, err, errs.Invalid, "maternity leave")
		// Another site's authoriser cannot open the site, nor act on this
		// member through their own; an administrator reads but does not act.
		_, err = w.svc.Open(w.ctx, w.other, w.nursing.ID)
		wantCode(t, err, errs.Forbidden, "")
		_, err = w.svc.Deactivate(w.ctx, w.at(w.admin, w.nursing.ID), m.ID, "maternity_leave", "")
		wantCode(t, err, errs.Forbidden, "")
		_, err = w.svc.Deactivate(w.ctx, w.at(w.other, w.mentalHealth.ID), m.ID, "maternity_leave", "")
		wantCode(t, err, errs.NotFound, "not a member of this site")

		out, err := w.svc.Deactivate(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, "maternity_leave", "")
		if err != nil || out.Member.Status != member.MembershipDeactivated || out.RequestRef == "" {
			t.Fatalf("deactivate %+v %v", out, err)
		}
		r := w.request(out.RequestID)
		if r.Type != access.TypeDeactivation || r.Reason != "maternity_leave" || r.SubjectUserID != m.UserID || r.SubmittedBy != w.authoriser.UserID {
			t.Fatalf("request %+v", r)
		}
		_, err = w.svc.Deactivate(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, "other", "again")
		wantCode(t, err, errs.Conflict, "already deactivated")
		// Deactivated members are not current members, but are in the history.
		if ms, _ := w.svc.Members(w.ctx, w.at(w.authoriser, w.nursing.ID)); len(ms) != 0 {
			t.Fatalf("%d current members", len(ms))
		}
		// The back office completes the deactivation.
		if _, err := w.acc.Complete(w.ctx, w.principal(w.person("bo@nhs.net", "back_office").UserID), r.ID, "done"); err != nil {
			t.Fatal(err)
		}
		// The deactivated member can still sign in to the portal.
		if _, _, err := w.users.SignIn(w.ctx, whoAny, "nina.new@nhs.net", password); err != nil {
			t.Fatalf("a deactivated member cannot sign in: %v", err)
		}
		// Reactivation needs the confirmations, then raises a reactivation
		// request: no retraining.
		_, err = w.svc.Reactivate(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, member.Attestations{DirectCare: true})
		wantCode(t, err, errs.Invalid, "")
		out, err = w.svc.Reactivate(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, attest)
		if err != nil || out.Member.Status != member.MembershipActive || out.RequestID == "" {
			t.Fatalf("reactivate %+v %v", out, err)
		}
		if r := w.request(out.RequestID); r.Type != access.TypeReactivation || r.State != access.StateValidated {
			t.Fatalf("reactivation request %+v", r)
		}
		_, err = w.svc.Reactivate(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, attest)
		wantCode(t, err, errs.Conflict, "not deactivated")

		// Removing a leaver while a request is open for them is refused
		// whole: the membership is unchanged.
		_, err = w.svc.Remove(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, "2026-11-30", "")
		wantCode(t, err, errs.Conflict, "nothing was changed")
		if got := w.membership(w.nursing, m.UserID); got.Status != member.MembershipActive {
			t.Fatalf("half-done removal: %+v", got)
		}
	})
}

func TestRemoveLeaver(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		m := w.join(w.authoriser, w.nursing, "nina.new@nhs.net")
		w.grant(m.UserID, w.riverside.ID, access.AccountActive)
		_, err := w.svc.Remove(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, "", "")
		wantCode(t, err, errs.Invalid, "leaving")
		_, err = w.svc.Remove(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, "30/11/2026", "")
		wantCode(t, err, errs.Invalid, "real date")
		out, err := w.svc.Remove(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, "2026-11-30", "Moved to Leeds")
		if err != nil || out.Member.Status != member.MembershipDeleted || out.Member.LeavingDate != "2026-11-30" {
			t.Fatalf("remove %+v %v", out, err)
		}
		if r := w.request(out.RequestID); r.Type != access.TypeDeletion || r.Reason != access.ReasonLeaver || r.LeavingDate != "2026-11-30" {
			t.Fatalf("deletion request %+v", r)
		}
		// A removed member can no longer be changed, but stays in the history.
		_, err = w.svc.Deactivate(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, "other", "x")
		wantCode(t, err, errs.Conflict, "was removed")
		_, err = w.svc.UpdateMember(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, member.MemberEdit{JobTitle: "x"})
		wantCode(t, err, errs.Conflict, "was removed")
		_, err = w.svc.Reactivate(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, attest)
		wantCode(t, err, errs.Conflict, "invite them again")
		h, _ := w.svc.History(w.ctx, w.at(w.authoriser, w.nursing.ID))
		if len(h) != 1 || h[0].Status != member.MembershipDeleted {
			t.Fatalf("history %+v", h)
		}
		// A returning leaver is invited again and becomes the same person.
		w.clock.Advance(60e9)
		w.invite(w.authoriser, w.nursing, "nina.new@nhs.net")
		a, err := w.svc.Accept(w.ctx, whoAny, w.link("nina.new@nhs.net"), "", "")
		if err != nil || a.UserID != m.UserID {
			t.Fatalf("re-accept %+v %v", a, err)
		}
	})
}

func TestRemoveKeepsAccessThroughAnotherSite(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		m := w.join(w.authoriser, w.nursing, "nina.new@nhs.net")
		w.grant(m.UserID, w.riverside.ID, access.AccountActive)
		w.clock.Advance(60e9)
		w.invite(w.other, w.mentalHealth, "nina.new@nhs.net")
		if _, err := w.svc.Accept(w.ctx, whoAny, w.link("nina.new@nhs.net"), "", ""); err != nil {
			t.Fatal(err)
		}
		out, err := w.svc.Remove(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, "2026-11-30", "")
		if err != nil || out.RequestID != "" || !strings.Contains(out.Message, "Community Mental Health Team") {
			t.Fatalf("remove %+v %v", out, err)
		}
	})
}

func TestUpdateMember(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		// Without a record account, an e-mail change is immediate.
		m := w.join(w.authoriser, w.nursing, "nina.new@nhs.net")
		out, err := w.svc.UpdateMember(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, member.MemberEdit{Email: "nina.newman@nhs.net", JobTitle: "Sister"})
		if err != nil || out.Member.Email != "nina.newman@nhs.net" || out.Member.JobTitle != "Sister" || out.RequestID != "" {
			t.Fatalf("update %+v %v", out, err)
		}
		_, err = w.svc.UpdateMember(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, member.MemberEdit{Email: "nina@gmail.com"})
		wantCode(t, err, errs.Invalid, "allowed domains")
		_, err = w.svc.UpdateMember(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, member.MemberEdit{FinishingDate: "2020-01-01"})
		wantCode(t, err, errs.Invalid, "past")
		_, err = w.svc.UpdateMember(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, member.MemberEdit{JobCategory: "Wizard"})
		wantCode(t, err, errs.Invalid, "job category")
		_, err = w.svc.UpdateMember(w.ctx, w.at(w.admin, w.nursing.ID), m.ID, member.MemberEdit{JobTitle: "x"})
		wantCode(t, err, errs.Forbidden, "")

		// With one, the e-mail change becomes an amendment request, and a
		// finishing date reaches the record account at once.
		w.grant(m.UserID, w.riverside.ID, access.AccountActive)
		out, err = w.svc.UpdateMember(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, member.MemberEdit{Email: "n.newman@nhs.net", FinishingDate: "2027-03-31"})
		if err != nil || out.RequestID == "" || out.Member.Email != "nina.newman@nhs.net" || out.Member.FinishingDate != "2027-03-31" {
			t.Fatalf("update %+v %v", out, err)
		}
		r := w.request(out.RequestID)
		if r.Type != access.TypeAmendment || r.NewEmail != "n.newman@nhs.net" || r.Email != "nina.newman@nhs.net" {
			t.Fatalf("amendment %+v", r)
		}
		acct, err := w.acc.Account(w.ctx, m.UserID)
		if err != nil || acct.FinishingDate != "2027-03-31" {
			t.Fatalf("account %+v %v", acct, err)
		}
		if n := w.count(`SELECT COUNT(*) FROM audit_events WHERE action = 'record_account.finishing_date' AND object_id = ?`, m.UserID); n != 1 {
			t.Fatalf("%d finishing-date audit events", n)
		}
	})
}

// A rule deactivates the record account and leaves the membership active:
// the authoriser reactivates from the member's page all the same, and a
// temporary member whose finishing date has passed needs a new one.
func TestReactivateAfterAnAutomaticDeactivation(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		m := w.join(w.authoriser, w.nursing, "nina.new@nhs.net")
		w.grant(m.UserID, w.riverside.ID, access.AccountDeactivated)
		if _, err := w.db.Exec(w.ctx, `UPDATE memberships SET finishing_date = '2026-10-31' WHERE id = ?`, m.ID); err != nil {
			t.Fatal(err)
		}
		_, err := w.svc.Reactivate(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, attest)
		wantCode(t, err, errs.Invalid, "has passed")
		past := attest
		past.FinishingDate = "2026-11-01"
		_, err = w.svc.Reactivate(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, past)
		wantCode(t, err, errs.Invalid, "cannot be in the past")
		next := attest
		next.FinishingDate = "2027-03-31"
		out, err := w.svc.Reactivate(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, next)
		if err != nil || out.RequestID == "" || out.Member.FinishingDate != "2027-03-31" {
			t.Fatalf("reactivate %+v %v", out, err)
		}
		if r := w.request(out.RequestID); r.Type != access.TypeReactivation || r.FinishingDate != "2027-03-31" {
			t.Fatalf("request %+v", r)
		}
		// Someone neither deactivated nor with a deactivated account is refused.
		other := w.join(w.authoriser, w.nursing, "olga.other@nhs.net")
		_, err = w.svc.Reactivate(w.ctx, w.at(w.authoriser, w.nursing.ID), other.ID, attest)
		wantCode(t, err, errs.Conflict, "not deactivated")
	})
}

// Removing or deactivating someone still waiting for their account cancels
// their open new-user request; once the back office has started on it, the
// removal is refused whole.
func TestRemovalWithdrawsAnOpenNewUserRequest(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		newUser := func(m *member.Member) *access.Request {
			r, err := w.acc.Raise(w.ctx, w.authoriser, access.Input{Type: access.TypeNewUser, SiteID: w.nursing.ID, Email: m.Email,
				GivenName: m.GivenName, FamilyName: m.FamilyName, JobTitle: m.JobTitle, Role: access.RoleCareProfessional,
				AttestDirectCare: true, AttestToldMisuse: true, AttestIGTraining: true})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		m := w.join(w.authoriser, w.nursing, "nina.new@nhs.net")
		r := newUser(m)
		out, err := w.svc.Remove(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, "2026-11-30", "")
		if err != nil || out.RequestID != r.ID || !strings.Contains(out.Message, "cancelled") {
			t.Fatalf("remove %+v %v", out, err)
		}
		if got := w.request(r.ID); got.State != access.StateCancelled {
			t.Fatalf("request left %s", got.State)
		}

		d := w.join(w.authoriser, w.nursing, "dora.deact@nhs.net")
		r = newUser(d)
		if out, err := w.svc.Deactivate(w.ctx, w.at(w.authoriser, w.nursing.ID), d.ID, "long_term_sickness", ""); err != nil || w.request(r.ID).State != access.StateCancelled {
			t.Fatalf("deactivate %+v %v", out, err)
		}

		busy := w.join(w.authoriser, w.nursing, "bea.busy@nhs.net")
		r = newUser(busy)
		bo := w.principal(w.person("bo@nhs.net", "back_office").UserID)
		if _, err := w.acc.Assign(w.ctx, bo, r.ID, ""); err != nil {
			t.Fatal(err)
		}
		_, err = w.svc.Remove(w.ctx, w.at(w.authoriser, w.nursing.ID), busy.ID, "2026-11-30", "")
		wantCode(t, err, errs.Conflict, "Nothing was changed")
		if got := w.membership(w.nursing, busy.UserID); got.Status != member.MembershipActive {
			t.Fatalf("half-done removal: %+v", got)
		}
	})
}

// One site's authorisers cannot change the sign-in address of someone who
// is also a member of another site.
func TestEmailOfAMemberOfSeveralSites(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		m := w.join(w.authoriser, w.nursing, "nina.new@nhs.net")
		w.clock.Advance(time.Minute)
		w.invite(w.other, w.mentalHealth, "nina.new@nhs.net")
		if _, err := w.svc.Accept(w.ctx, whoAny, w.link("nina.new@nhs.net"), "", ""); err != nil {
			t.Fatal(err)
		}
		_, err := w.svc.UpdateMember(w.ctx, w.at(w.authoriser, w.nursing.ID), m.ID, member.MemberEdit{Email: "nina.newman@nhs.net"})
		wantCode(t, err, errs.Conflict, "Community Mental Health Team")
		if n := w.count(`SELECT COUNT(*) FROM users WHERE email = 'nina.new@nhs.net'`); n != 1 {
			t.Fatal("the address changed")
		}
	})
}
