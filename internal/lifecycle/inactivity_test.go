package lifecycle_test

import (
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/lifecycle"
	"github.com/caregate/caregate/internal/notify"
)

// inactive is a region with one member, Mo, active at two sites, each with
// an authoriser, and once at a third whose membership has ended.
type inactive struct {
	*world
	org, ward, clinic, old string
	mo, sam, kim, pat      string
}

func newInactive(w *world) *inactive {
	x := &inactive{world: w}
	x.org = w.organisation("RY4")
	x.ward, x.clinic, x.old = w.site(x.org, "Ward 7"), w.site(x.org, "Eye Clinic"), w.site(x.org, "Old Ward")
	x.sam, x.kim, x.pat = w.user("sam@nhs.net", "Sam", "Lead"), w.user("kim@nhs.net", "Kim", "Head"), w.user("pat@nhs.net", "Pat", "Past")
	w.authoriser(x.ward, x.sam)
	w.authoriser(x.clinic, x.kim)
	w.authoriser(x.old, x.pat)
	x.mo = w.user("mo@nhs.net", "Mo", "Farah")
	w.member(x.ward, x.mo, "active", "")
	w.member(x.clinic, x.mo, "active", "")
	w.member(x.old, x.mo, "deactivated", "")
	w.account(x.mo, x.org, "active", "") // activated at t0
	return x
}

// An active record account unused for exactly 90 days is deactivated
// (reason inactivity), not a minute before; its memberships and portal
// sessions stay; the member and the authorisers of their active sites are
// told; the change is audited as the system's with the rule.
func TestInactivityExactlyAt90Days(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		x := newInactive(w)
		w.exec(`INSERT INTO sessions (id_hash, user_id, state, created_at, last_seen_at, expires_at) VALUES ('s1', ?, 'full', 0, 0, ?)`,
			x.mo, t0.Add(400*day).UnixMicro())

		w.at(t0.Add(90*day - time.Minute))
		w.sweep(lifecycle.Result{InactivityWarned: 1, Emails: 1}) // the warning was due since day 76
		if s := w.str(`SELECT status FROM record_accounts WHERE user_id = ?`, x.mo); s != "active" {
			t.Fatalf("a minute before 90 days: %s", s)
		}
		w.at(t0.Add(90 * day))
		w.sweep(lifecycle.Result{InactiveDeactivated: 1, Emails: 3})
		var status, reason string
		var updated, deactivated int64
		if err := w.db.QueryRow(w.ctx, `SELECT status, status_reason, updated_at, deactivated_at FROM record_accounts WHERE user_id = ?`, x.mo).Scan(&status, &reason, &updated, &deactivated); err != nil {
			t.Fatal(err)
		}
		if now := w.clock.Now().UnixMicro(); status != "deactivated" || reason != "inactivity" || updated != now || deactivated != now {
			t.Fatalf("after 90 days: %s %s updated %d deactivated %d", status, reason, updated, deactivated)
		}
		if n := w.count(`SELECT COUNT(*) FROM memberships WHERE user_id = ? AND status = 'active'`, x.mo); n != 2 {
			t.Errorf("%d active memberships, want 2: portal access continues", n)
		}
		if n := w.count(`SELECT COUNT(*) FROM sessions WHERE user_id = ?`, x.mo); n != 1 {
			t.Errorf("the portal session was revoked")
		}
		evs := w.events("record_account.deactivated")
		if len(evs) != 1 || !strings.HasPrefix(evs[0], "system/system "+x.mo+" ") || !strings.Contains(evs[0], `"reason":"inactivity"`) ||
			!strings.Contains(evs[0], `"rule":"inactivity_90_days"`) || !strings.Contains(evs[0], `"idle_since":"2026-11-02T09:00:00Z"`) {
			t.Fatalf("audit: %v", evs)
		}
		ended := w.mails(notify.KindAccessEnded)
		if len(ended) != 1 || ended[0].to != "mo@nhs.net" || ended[0].subject != "Your access to the Westshire Care Record has been deactivated" ||
			!strings.Contains(ended[0].text, "deactivated because it has not been used for 90 days (last used or activated on 2 November 2026)") ||
			!strings.Contains(ended[0].text, "You can still sign in to CareGate") {
			t.Fatalf("member's notice: %+v", ended)
		}
		if got := w.recipients(notify.KindMembersAccessEnded); got != "kim@nhs.net sam@nhs.net" {
			t.Fatalf("authorisers told: %q (not the authoriser of a site Mo has left)", got)
		}
		for _, m := range w.mails(notify.KindMembersAccessEnded) {
			if !strings.Contains(m.text, "Mo Farah (mo@nhs.net)") || !strings.Contains(m.text, "not been used for 90 days") ||
				!strings.Contains(m.html, "<li>Mo Farah (mo@nhs.net), ") {
				t.Errorf("authoriser's notice: %+v", m)
			}
		}
		w.sweep(lifecycle.Result{}) // a second sweep changes nothing
		w.at(t0.Add(400 * day))
		w.sweep(lifecycle.Result{})
		w.verifyAudit()
	})
}

// The warning goes 14 days before deactivation (at 76 days), once; using
// the record after it cancels the deactivation and the next spell of
// inactivity is warned of again.
func TestInactivityWarningOnceAndUseCancels(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		x := newInactive(w)
		w.at(t0.Add(76*day - time.Minute))
		w.sweep(lifecycle.Result{})
		w.at(t0.Add(76 * day))
		w.sweep(lifecycle.Result{InactivityWarned: 1, Emails: 1})
		w.sweep(lifecycle.Result{})
		w.at(t0.Add(80 * day))
		w.sweep(lifecycle.Result{})
		warns := w.mails(notify.KindInactivityWarning)
		if len(warns) != 1 || warns[0].to != "mo@nhs.net" ||
			warns[0].subject != "Your access to the Westshire Care Record will be deactivated on 31 January 2027" ||
			!strings.Contains(warns[0].text, "not used for 90 days is deactivated") || !strings.Contains(warns[0].text, "https://caregate.example/signin") {
			t.Fatalf("warning: %+v", warns)
		}
		evs := w.events("record_account.inactivity_warning")
		if len(evs) != 1 || !strings.HasPrefix(evs[0], "system/system "+x.mo) || !strings.Contains(evs[0], `"rule":"inactivity_warning_14_days"`) {
			t.Fatalf("audit: %v", evs)
		}

		// Mo opens the record on day 85: no deactivation at day 90.
		used := t0.Add(85 * day)
		w.at(used)
		if err := w.acc.MarkUsed(w.ctx, used, x.mo); err != nil {
			t.Fatal(err)
		}
		w.at(t0.Add(90 * day))
		w.sweep(lifecycle.Result{})
		if s := w.str(`SELECT status FROM record_accounts WHERE user_id = ?`, x.mo); s != "active" {
			t.Fatalf("used after the warning, then: %s", s)
		}
		// The clock restarted at the use: warned again at 76 days after it,
		// deactivated at 90.
		w.at(used.Add(76*day - time.Minute))
		w.sweep(lifecycle.Result{})
		w.at(used.Add(76 * day))
		w.sweep(lifecycle.Result{InactivityWarned: 1, Emails: 1})
		w.at(used.Add(90 * day))
		w.sweep(lifecycle.Result{InactiveDeactivated: 1, Emails: 3})
		if n := len(w.mails(notify.KindInactivityWarning)); n != 2 {
			t.Errorf("%d warnings, want 2", n)
		}
		w.verifyAudit()
	})
}

// The inactivity clock starts at activation: a pending account (approved,
// never activated) is never swept, however long it waits, and neither is
// an account already deactivated or deleted.
func TestPendingAccountsNeverSwept(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		o := w.organisation("RY4")
		ward := w.site(o, "Ward 7")
		for i, st := range []string{"pending", "deactivated", "deleted"} {
			u := w.user(st+"@nhs.net", "P", string(rune('A'+i)))
			w.member(ward, u, "active", "")
			w.account(u, o, st, "")
		}
		// A pending account that somehow has an old clock is not swept either.
		w.exec(`UPDATE record_accounts SET idle_from = ?, activated_at = ? WHERE status = 'pending'`, t0.UnixMicro(), t0.UnixMicro())
		w.at(t0.Add(400 * day))
		w.sweep(lifecycle.Result{})
		if n := w.count(`SELECT COUNT(*) FROM outbox`); n != 0 {
			t.Errorf("%d e-mails", n)
		}
		if s := w.str(`SELECT status FROM record_accounts WHERE user_id = (SELECT id FROM users WHERE email = 'pending@nhs.net')`); s != "pending" {
			t.Errorf("pending account became %s", s)
		}
		// Activated now: its clock starts now.
		w.exec(`UPDATE record_accounts SET status = 'active', activated_at = ?, idle_from = ? WHERE status = 'pending'`,
			w.clock.Now().UnixMicro(), w.clock.Now().UnixMicro())
		w.at(t0.Add(400*day + 90*day - time.Minute))
		w.sweep(lifecycle.Result{InactivityWarned: 1, Emails: 1})
		w.at(t0.Add(400*day + 90*day))
		w.sweep(lifecycle.Result{InactiveDeactivated: 1, Emails: 1}) // its site has no authoriser, its organisation no service desk
	})
}

// Where rules meet, one sweep applies the one that matters, whichever runs
// first: an account idle for 95 days whose finishing date has come ends for
// the end of its contract, not for inactivity; an account idle for 95 days
// that was never warned is deactivated without a warning; one idle for 80
// days whose finishing date has come ends without a warning.
func TestRulesThatMeetInOneSweep(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		o := w.organisation("RY4")
		ward := w.site(o, "Ward 7")
		w.authoriser(ward, w.user("sam@nhs.net", "Sam", "Lead"))
		end := t0.Add(95 * day).Format(time.DateOnly) // 5 February 2027, in London too
		ivy, kai := w.user("ivy@nhs.net", "Ivy", "Idle"), w.user("kai@nhs.net", "Kai", "Idle")
		w.member(ward, ivy, "active", end)
		w.account(ivy, o, "active", end)
		w.member(ward, kai, "active", "")
		w.account(kai, o, "active", "")
		w.at(t0.Add(15 * day))
		lou := w.user("lou@nhs.net", "Lou", "Locum")
		w.member(ward, lou, "active", end)
		w.account(lou, o, "active", end)

		w.at(t0.Add(95 * day))
		w.sweep(lifecycle.Result{FinishedAccounts: 2, FinishedMemberships: 2, InactiveDeactivated: 1, Emails: 5})
		w.sweep(lifecycle.Result{})
		for id, want := range map[string]string{ivy: "end_of_contract", lou: "end_of_contract", kai: "inactivity"} {
			if got := w.str(`SELECT status || ' ' || status_reason FROM record_accounts WHERE user_id = ?`, id); got != "deactivated "+want {
				t.Errorf("account %s: %s, want deactivated %s", id, got, want)
			}
		}
		if got := w.recipients(notify.KindInactivityWarning); got != "" {
			t.Errorf("warned: %q", got)
		}
		if evs := w.events("record_account.inactivity_warning"); len(evs) != 0 {
			t.Errorf("warning events: %v", evs)
		}
		w.verifyAudit()
	})
}
