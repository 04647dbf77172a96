package member_test

import (
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/member"
)

func TestInviteAndAccept(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		i := w.invite(w.authoriser, w.nursing, "nina.new@nhs.net")
		if i.Status != member.InvitationPending || !i.ExpiresAt.Equal(t0.Add(30*24*time.Hour)) || i.CreatedByName != "Sam Lead" {
			t.Fatalf("invitation %+v", i)
		}
		// The token is stored only as a hash.
		token := w.link("nina.new@nhs.net")
		if n := w.count(`SELECT COUNT(*) FROM invitations WHERE token_hash = ?`, token); n != 0 {
			t.Fatal("the token is stored in clear")
		}
		if n := w.count(`SELECT COUNT(*) FROM outbox WHERE kind = 'invitation' AND sensitive = 1`); n != 1 {
			t.Fatalf("%d sensitive invitation e-mails", n)
		}
		if n := w.count(`SELECT COUNT(*) FROM audit_events WHERE action = 'invitation.create' AND object_id = ?`, i.ID); n != 1 {
			t.Fatalf("%d audit events", n)
		}
		wl, err := w.svc.Welcome(w.ctx, token)
		if err != nil || wl.InvitedBy != "Sam Lead" || wl.Organisation != "Riverside Community Health" || wl.HasAccount || wl.Invitation.SiteName != "District Nursing North" {
			t.Fatalf("welcome %+v %v", wl, err)
		}
		// A weak or mismatched password changes nothing.
		_, err = w.svc.Accept(w.ctx, audit.Who{}, token, "password", "password")
		wantCode(t, err, errs.Invalid, "")
		_, err = w.svc.Accept(w.ctx, audit.Who{}, token, password, password+"x")
		wantCode(t, err, errs.Invalid, "do not match")
		if n := w.count(`SELECT COUNT(*) FROM users WHERE email = 'nina.new@nhs.net'`); n != 0 {
			t.Fatal("an account was made by a refused acceptance")
		}
		a, err := w.svc.Accept(w.ctx, audit.Who{IP: "192.0.2.1"}, token, password, password)
		if err != nil || !a.NewAccount {
			t.Fatalf("accept %+v %v", a, err)
		}
		m := w.membership(w.nursing, a.UserID)
		if m.Status != member.MembershipActive || m.JobTitle != "District Nurse" || m.RecordRole != "care_professional" || m.Phone != "0113 496 0000" {
			t.Fatalf("membership %+v", m)
		}
		// The person signs in with the password and must enrol MFA next.
		_, sess, err := w.users.SignIn(w.ctx, audit.Who{}, "nina.new@nhs.net", password)
		if err != nil || sess.State != auth.StateEnrol {
			t.Fatalf("sign in: %+v %v", sess, err)
		}
		// The link is used up.
		_, err = w.svc.Welcome(w.ctx, token)
		wantCode(t, err, errs.Conflict, "already been accepted")
		inv, _ := w.svc.Invitation(w.ctx, w.at(w.authoriser, w.nursing.ID), i.ID)
		if inv.Status != member.InvitationAccepted || inv.UserID != a.UserID {
			t.Fatalf("accepted invitation %+v", inv)
		}
		// Now a member, they cannot be invited to the site again.
		_, err = w.svc.Invite(w.ctx, w.at(w.authoriser, w.nursing.ID), input("nina.new@nhs.net"))
		wantCode(t, err, errs.Conflict, "already a member")
	})
}

func TestInviteBadInput(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		cases := []struct {
			name  string
			edit  func(*member.InvitationInput)
			field string
		}{
			{"domain not allowed", func(in *member.InvitationInput) { in.Email = "nina@gmail.com" }, "allowed domains"},
			{"bad address", func(in *member.InvitationInput) { in.Email = "nina" }, "correct format"},
			{"no forename", func(in *member.InvitationInput) { in.GivenName = " " }, "Enter the forename"},
			{"no phone", func(in *member.InvitationInput) { in.Phone = "" }, "contact number"},
			{"bad phone", func(in *member.InvitationInput) { in.Phone = "call me" }, "digits"},
			{"category not on the list", func(in *member.InvitationInput) { in.JobCategory = "Wizard" }, "job category"},
			{"unknown role", func(in *member.InvitationInput) { in.RecordRole = "superuser" }, "record role"},
			{"finishing date in the past", func(in *member.InvitationInput) { in.FinishingDate = "2026-11-01" }, "cannot be in the past"},
			{"not a date", func(in *member.InvitationInput) { in.FinishingDate = "31/03/2027" }, "real date"},
			{"no IG confirmation", func(in *member.InvitationInput) { in.IGConfirmed = false }, "information governance"},
			{"markup in a name", func(in *member.InvitationInput) { in.FamilyName = "<script>" }, "must not contain"},
		}
		for _, c := range cases {
			in := input("nina.new@nhs.net")
			c.edit(&in)
			_, err := w.svc.Invite(w.ctx, w.at(w.authoriser, w.nursing.ID), in)
			wantCode(t, err, errs.Invalid, c.field)
		}
		if n := w.count(`SELECT COUNT(*) FROM invitations`); n != 0 {
			t.Fatalf("%d invitations stored from bad input", n)
		}
		// Today is an allowed finishing date.
		in := input("nina.new@nhs.net")
		in.FinishingDate = "2026-11-02"
		if _, err := w.svc.Invite(w.ctx, w.at(w.authoriser, w.nursing.ID), in); err != nil {
			t.Fatal(err)
		}
		_, err := w.svc.Invite(w.ctx, w.at(w.authoriser, w.nursing.ID), input("Nina.New@nhs.net"))
		wantCode(t, err, errs.Conflict, "already been invited")
		// Another site may invite the same person.
		if _, err := w.svc.Invite(w.ctx, w.at(w.other, w.mentalHealth.ID), input("nina.new@nhs.net")); err != nil {
			t.Fatal(err)
		}
	})
}

func TestInvitationPermissions(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		i := w.invite(w.authoriser, w.nursing, "nina.new@nhs.net")
		// Another site's authoriser and an outsider may not open the site,
		// nor reach its invitation by its id; nobody signed in may not either.
		for _, p := range []*authz.Principal{w.other, w.outsider} {
			_, err := w.svc.Open(w.ctx, p, w.nursing.ID)
			wantCode(t, err, errs.Forbidden, "")
			_, _, err = w.svc.OpenInvitation(w.ctx, p, i.ID)
			wantCode(t, err, errs.Forbidden, "")
		}
		_, err := w.svc.Open(w.ctx, nil, w.nursing.ID)
		wantCode(t, err, errs.Unauthenticated, "")
		// changes tries every change of the invitation through a place.
		changes := func(pl *member.Place, want errs.Code) {
			t.Helper()
			_, err := w.svc.Resend(w.ctx, pl, i.ID)
			wantCode(t, err, want, "")
			_, err = w.svc.CancelInvitation(w.ctx, pl, i.ID)
			wantCode(t, err, want, "")
			_, err = w.svc.UpdateInvitation(w.ctx, pl, i.ID, input("nina.new@nhs.net"))
			wantCode(t, err, want, "")
		}
		// Through their own site, another site's invitation reads as absent.
		mine := w.at(w.other, w.mentalHealth.ID)
		changes(mine, errs.NotFound)
		_, err = w.svc.Invitation(w.ctx, mine, i.ID)
		wantCode(t, err, errs.NotFound, "")
		// Administrators may read, but not act.
		admin := w.at(w.admin, w.nursing.ID)
		if admin.CanManage() {
			t.Fatal("an administrator may manage the site")
		}
		if l, err := w.svc.Invitations(w.ctx, admin, false); err != nil || len(l) != 1 {
			t.Fatalf("admin reads %d %v", len(l), err)
		}
		_, err = w.svc.Invite(w.ctx, admin, input("x.y@nhs.net"))
		wantCode(t, err, errs.Forbidden, "")
		changes(admin, errs.Forbidden)
		// A place not opened by Open is refused.
		_, err = w.svc.Invite(w.ctx, &member.Place{}, input("x.y@nhs.net"))
		wantCode(t, err, errs.Unauthenticated, "")
		_, err = w.svc.Invitations(w.ctx, nil, false)
		wantCode(t, err, errs.Unauthenticated, "")
		_, err = w.svc.Invitation(w.ctx, w.at(w.authoriser, w.nursing.ID), "nope")
		wantCode(t, err, errs.NotFound, "")
		if got, pl, err := w.svc.OpenInvitation(w.ctx, w.admin, i.ID); err != nil || got.ID != i.ID || pl.Site().ID != w.nursing.ID || pl.Org().ID != w.riverside.ID {
			t.Fatalf("open invitation %+v %v", got, err)
		}
	})
}

func TestResendEditCancel(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		i := w.invite(w.authoriser, w.nursing, "nina.new@nhs.net")
		first := w.link("nina.new@nhs.net")
		w.clock.Advance(10 * 24 * time.Hour)
		r, err := w.svc.Resend(w.ctx, w.at(w.authoriser, w.nursing.ID), i.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !r.ExpiresAt.Equal(i.ExpiresAt) || r.SendCount != 2 || !r.SentAt.Equal(w.clock.Now().UTC()) {
			t.Fatalf("resend changed the expiry or did not count: %+v", r)
		}
		second := w.link("nina.new@nhs.net")
		if second == first {
			t.Fatal("resend reused the link")
		}
		_, err = w.svc.Welcome(w.ctx, first)
		wantCode(t, err, errs.NotFound, "newer invitation")
		if _, err := w.svc.Welcome(w.ctx, second); err != nil {
			t.Fatal(err)
		}
		// Editing the address sends a new link to the new address only.
		in := input("nina.newman@nhs.net")
		in.JobTitle = "Senior District Nurse"
		e, err := w.svc.UpdateInvitation(w.ctx, w.at(w.authoriser, w.nursing.ID), i.ID, in)
		if err != nil || e.Email != "nina.newman@nhs.net" || e.JobTitle != "Senior District Nurse" || !e.ExpiresAt.Equal(i.ExpiresAt) {
			t.Fatalf("edit %+v %v", e, err)
		}
		_, err = w.svc.Welcome(w.ctx, second)
		wantCode(t, err, errs.NotFound, "")
		third := w.link("nina.newman@nhs.net")
		// Bad input on edit changes nothing.
		bad := input("nina@gmail.com")
		_, err = w.svc.UpdateInvitation(w.ctx, w.at(w.authoriser, w.nursing.ID), i.ID, bad)
		wantCode(t, err, errs.Invalid, "allowed domains")
		c, err := w.svc.CancelInvitation(w.ctx, w.at(w.authoriser, w.nursing.ID), i.ID)
		if err != nil || c.Status != member.InvitationCancelled || c.ClosedBy != w.authoriser.UserID {
			t.Fatalf("cancel %+v %v", c, err)
		}
		_, err = w.svc.Welcome(w.ctx, third)
		wantCode(t, err, errs.Conflict, "cancelled")
		_, err = w.svc.Accept(w.ctx, audit.Who{}, third, password, password)
		wantCode(t, err, errs.Conflict, "cancelled")
		_, err = w.svc.Resend(w.ctx, w.at(w.authoriser, w.nursing.ID), i.ID)
		wantCode(t, err, errs.Conflict, "cancelled")
		// It stays in the history, and no longer blocks a new invitation.
		pending, _ := w.svc.Invitations(w.ctx, w.at(w.authoriser, w.nursing.ID), false)
		all, _ := w.svc.Invitations(w.ctx, w.at(w.authoriser, w.nursing.ID), true)
		if len(pending) != 0 || len(all) != 1 {
			t.Fatalf("pending %d, history %d", len(pending), len(all))
		}
		w.invite(w.authoriser, w.nursing, "nina.newman@nhs.net")
	})
}

func TestInvitationExpiresAtThirtyDays(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		i := w.invite(w.authoriser, w.nursing, "nina.new@nhs.net")
		token := w.link("nina.new@nhs.net")
		w.clock.Advance(30*24*time.Hour - time.Microsecond)
		if _, err := w.svc.Welcome(w.ctx, token); err != nil {
			t.Fatalf("a microsecond before 30 days: %v", err)
		}
		w.clock.Advance(time.Microsecond)
		_, err := w.svc.Welcome(w.ctx, token)
		wantCode(t, err, errs.Conflict, "expired on 2 December 2026")
		_, err = w.svc.Accept(w.ctx, audit.Who{}, token, password, password)
		wantCode(t, err, errs.Conflict, "Ask your site authoriser to invite you again")
		_, err = w.svc.Resend(w.ctx, w.at(w.authoriser, w.nursing.ID), i.ID)
		wantCode(t, err, errs.Conflict, "expired")
		pending, _ := w.svc.Invitations(w.ctx, w.at(w.authoriser, w.nursing.ID), false)
		all, _ := w.svc.Invitations(w.ctx, w.at(w.authoriser, w.nursing.ID), true)
		if len(pending) != 0 || len(all) != 1 || all[0].Status != member.InvitationExpired {
			t.Fatalf("pending %d, history %+v", len(pending), all)
		}
	})
}

func TestAcceptJoinsAnExistingAccount(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		m := w.join(w.authoriser, w.nursing, "nina.new@nhs.net")
		w.clock.Advance(time.Minute)
		w.invite(w.other, w.mentalHealth, "nina.new@nhs.net")
		token := w.link("nina.new@nhs.net")
		wl, err := w.svc.Welcome(w.ctx, token)
		if err != nil || !wl.HasAccount {
			t.Fatalf("welcome %+v %v", wl, err)
		}
		a, err := w.svc.Accept(w.ctx, audit.Who{}, token, "", "")
		if err != nil || a.NewAccount || a.UserID != m.UserID {
			t.Fatalf("accept %+v %v", a, err)
		}
		if n := w.count(`SELECT COUNT(*) FROM users WHERE email = 'nina.new@nhs.net'`); n != 1 {
			t.Fatalf("%d accounts", n)
		}
		if n := w.count(`SELECT COUNT(*) FROM memberships WHERE user_id = ? AND status = 'active'`, m.UserID); n != 2 {
			t.Fatalf("%d memberships", n)
		}
	})
}

// Past 30 days and before the hourly sweep has marked it, an invitation no
// longer blocks inviting the person again, one by one or from a file; it is
// closed as expired by the system, as the sweep would.
func TestReinviteAfterExpiryBeforeTheSweep(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		first := w.invite(w.authoriser, w.nursing, "nina.new@nhs.net")
		w.invite(w.authoriser, w.nursing, "doc0.tor@nhs.net")
		w.clock.Advance(30*24*time.Hour + time.Minute)
		again, err := w.svc.Invite(w.ctx, w.at(w.authoriser, w.nursing.ID), input("nina.new@nhs.net"))
		if err != nil {
			t.Fatalf("invite again after expiry: %v", err)
		}
		if again.ID == first.ID || again.Status != member.InvitationPending {
			t.Fatalf("second invitation %+v", again)
		}
		old, _ := w.svc.Invitation(w.ctx, w.at(w.authoriser, w.nursing.ID), first.ID)
		if old.Status != member.InvitationExpired {
			t.Fatalf("first invitation %+v", old)
		}
		if n := w.count(`SELECT COUNT(*) FROM audit_events WHERE action = 'invitation.expire' AND actor_id = 'system' AND object_id = ?`, first.ID); n != 1 {
			t.Fatalf("%d expiry events", n)
		}
		in, err := w.svc.PreviewIntake(w.ctx, w.at(w.authoriser, w.nursing.ID), "f.csv", intakeFile(1))
		if err != nil || in.Ready != 1 {
			t.Fatalf("preview after expiry %+v %v", in, err)
		}
		if done, err := w.svc.ConfirmIntake(w.ctx, w.at(w.authoriser, w.nursing.ID), in.ID, true); err != nil || done.Created != 1 {
			t.Fatalf("confirm after expiry %+v %v", done, err)
		}
	})
}
