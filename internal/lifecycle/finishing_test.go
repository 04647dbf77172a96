package lifecycle_test

import (
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/lifecycle"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// london is midnight at the start of a date in London (GMT in winter).
func london(y int, m time.Month, d int) time.Time {
	loc, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err)
	}
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

// A temporary member's authorisers are reminded 14 days before the
// finishing date (the service desk where the member has no authoriser); an
// extended date is reminded again; on the date the record account ends
// (end_of_contract) with the memberships that end that day, and the member
// and authorisers are told. Each step is audited as the system's.
func TestFinishingDates(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		o := w.organisation("RY4")
		ward, clinic, annex := w.site(o, "Ward 7"), w.site(o, "Eye Clinic"), w.site(o, "Annex")
		sam, kim := w.user("sam@nhs.net", "Sam", "Lead"), w.user("kim@nhs.net", "Kim", "Head")
		w.authoriser(ward, sam)
		w.authoriser(clinic, kim)
		w.serviceDesk(o, w.user("desk@nhs.net", "Desk", "Staff"))
		mo := w.user("mo@nhs.net", "Mo", "Farah")
		moWard := w.member(ward, mo, "active", "2026-12-01")
		moClinic := w.member(clinic, mo, "active", "")
		w.account(mo, o, "active", "2026-12-01")
		dee := w.user("dee@nhs.net", "Dee", "Locum") // approved, not yet active; a site without an authoriser
		deeAnnex := w.member(annex, dee, "active", "2026-12-01")
		w.account(dee, o, "pending", "2026-12-01")

		w.at(london(2026, 11, 17).Add(-time.Minute))
		w.sweep(lifecycle.Result{})
		w.at(london(2026, 11, 17))
		w.sweep(lifecycle.Result{FinishingReminded: 2, Emails: 3})
		w.sweep(lifecycle.Result{})
		if got := w.recipients(notify.KindFinishingReminder); got != "desk@nhs.net kim@nhs.net sam@nhs.net" {
			t.Fatalf("reminded: %q", got)
		}
		for _, m := range w.mails(notify.KindFinishingReminder) {
			want := "Mo Farah (mo@nhs.net), Ward 7: ends on 1 December 2026"
			if m.to == "kim@nhs.net" {
				want = "Mo Farah (mo@nhs.net), Eye Clinic: ends on 1 December 2026"
			}
			if m.to == "desk@nhs.net" {
				want = "Dee Locum (dee@nhs.net): ends on 1 December 2026"
			}
			if !strings.Contains(m.text, want) || !strings.Contains(m.text, "extend their finishing date") || m.subject != "Access to the Westshire Care Record ends soon for 1 of your members" {
				t.Errorf("reminder to %s: %s\n%s", m.to, m.subject, m.text)
			}
		}
		if evs := w.events("record_account.finishing_reminder"); len(evs) != 2 || !strings.Contains(evs[0], `"rule":"finishing_date_reminder_14_days"`) ||
			!strings.HasPrefix(evs[0], "system/system ") {
			t.Fatalf("audit: %v", evs)
		}

		// Sam extends Mo's contract to 15 December (as an amendment would).
		w.exec(`UPDATE record_accounts SET finishing_date = '2026-12-15' WHERE user_id = ?`, mo)
		w.exec(`UPDATE memberships SET finishing_date = '2026-12-15' WHERE id = ?`, moWard)
		w.sweep(lifecycle.Result{})
		w.at(london(2026, 12, 1).Add(-time.Minute))
		w.sweep(lifecycle.Result{})
		// 1 December: Dee's access ends; Mo's new date is reminded.
		w.at(london(2026, 12, 1))
		w.sweep(lifecycle.Result{FinishingReminded: 1, FinishedAccounts: 1, FinishedMemberships: 1, Emails: 4})
		if n := len(w.mails(notify.KindFinishingReminder)); n != 5 {
			t.Fatalf("%d reminders, want 5", n)
		}
		if s := w.str(`SELECT status || ' ' || status_reason FROM record_accounts WHERE user_id = ?`, dee); s != "deactivated end_of_contract" {
			t.Errorf("Dee's account: %s", s)
		}
		if n := w.count(`SELECT COUNT(*) FROM record_accounts WHERE user_id = ? AND deactivated_at = ?`, dee, w.clock.Now().UnixMicro()); n != 1 {
			t.Errorf("Dee's account does not say when it was deactivated")
		}
		if got := w.recipients(notify.KindMembersAccessEnded); got != "desk@nhs.net" {
			t.Errorf("told of Dee's end: %q", got)
		}
		w.sweep(lifecycle.Result{})

		w.at(london(2026, 12, 15).Add(-time.Minute))
		w.sweep(lifecycle.Result{})
		w.at(london(2026, 12, 15))
		w.sweep(lifecycle.Result{FinishedAccounts: 1, FinishedMemberships: 1, Emails: 3})
		w.sweep(lifecycle.Result{})
		if s := w.str(`SELECT status || ' ' || status_reason FROM record_accounts WHERE user_id = ?`, mo); s != "deactivated end_of_contract" {
			t.Errorf("Mo's account: %s", s)
		}
		now := w.clock.Now().UnixMicro()
		for id, want := range map[string]string{moWard: "deactivated end_of_contract system", moClinic: "active  ", deeAnnex: "deactivated end_of_contract system"} {
			var status, reason, by string
			var endedAt int64
			if err := w.db.QueryRow(w.ctx, `SELECT status, status_reason, ended_by, ended_at FROM memberships WHERE id = ?`, id).Scan(&status, &reason, &by, &endedAt); err != nil {
				t.Fatal(err)
			}
			if got := status + " " + reason + " " + by; got != want {
				t.Errorf("membership %s: %q, want %q", id, got, want)
			}
			if id == moWard && endedAt != now {
				t.Errorf("Mo's ward membership ended at %d, want %d", endedAt, now)
			}
		}
		ended := w.mails(notify.KindAccessEnded)
		if len(ended) != 2 || ended[1].to != "mo@nhs.net" || !strings.Contains(ended[1].text, "because your finishing date, 15 December 2026, has come") {
			t.Fatalf("members told: %+v", ended)
		}
		if got := w.recipients(notify.KindMembersAccessEnded); got != "desk@nhs.net kim@nhs.net sam@nhs.net" {
			t.Errorf("told of the ends: %q", got)
		}
		evs := w.events("record_account.deactivated")
		if len(evs) != 2 || !strings.Contains(evs[1], `"finishing_date":"2026-12-15"`) || !strings.Contains(evs[1], `"reason":"end_of_contract"`) ||
			!strings.Contains(evs[1], `"rule":"finishing_date"`) || !strings.HasPrefix(evs[1], "system/system "+mo) {
			t.Fatalf("audit: %v", evs)
		}
		if evs := w.events("membership.deactivate"); len(evs) != 2 || !strings.HasPrefix(evs[1], "system/system "+moWard) ||
			!strings.Contains(evs[1], `"rule":"finishing_date"`) {
			t.Fatalf("membership audit: %v", evs)
		}
		// Deactivated by its end, the account is not swept for inactivity.
		w.at(t0.Add(200 * day))
		w.sweep(lifecycle.Result{})
		w.verifyAudit()
	})
}

// Finishing dates are dates in London: in summer, 00:30 on 1 July there is
// still 30 June by UTC, and the access ends then.
func TestFinishingDateIsALondonDate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newWorldAt(t, db, clock.NewManual(time.Date(2027, 6, 10, 12, 0, 0, 0, time.UTC)), lifecycle.Config{})
		o := w.organisation("RY4")
		ward := w.site(o, "Ward 7")
		w.authoriser(ward, w.user("sam@nhs.net", "Sam", "Lead"))
		mo := w.user("mo@nhs.net", "Mo", "Farah")
		w.member(ward, mo, "active", "2027-07-01")
		w.account(mo, o, "active", "2027-07-01")
		w.at(time.Date(2027, 6, 16, 22, 59, 0, 0, time.UTC)) // 23:59 on 16 June in London
		w.sweep(lifecycle.Result{})
		w.at(time.Date(2027, 6, 16, 23, 0, 0, 0, time.UTC)) // midnight: 17 June, 14 days before
		w.sweep(lifecycle.Result{FinishingReminded: 1, Emails: 1})
		w.at(time.Date(2027, 6, 30, 22, 59, 0, 0, time.UTC))
		w.sweep(lifecycle.Result{})
		w.at(time.Date(2027, 6, 30, 23, 0, 0, 0, time.UTC)) // 00:00 on 1 July in London
		w.sweep(lifecycle.Result{FinishedAccounts: 1, FinishedMemberships: 1, Emails: 2})
	})
}

// The configuration refuses numbers out of range, and its defaults are the
// seeds' numbers.
func TestConfig(t *testing.T) {
	d := lifecycle.Defaults()
	if d.InactivityDays != 90 || d.InactivityWarningDays != 14 || d.FinishingReminderDays != 14 || d.TimeZone != "Europe/London" {
		t.Fatalf("defaults: %+v", d)
	}
	if err := (lifecycle.Config{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	for _, c := range []lifecycle.Config{
		{InactivityDays: -1}, {InactivityDays: 5000}, {InactivityWarningDays: 90}, {InactivityDays: 30, InactivityWarningDays: 30},
		{FinishingReminderDays: -2}, {FinishingReminderDays: 400}, {BatchSize: -1}, {BatchSize: 10_000},
		{Interval: time.Second}, {Interval: 48 * time.Hour}, {TimeZone: "Mars/Olympus"},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if _, err := lifecycle.NewService(nil, nil, nil, nil, nil, lifecycle.Config{InactivityDays: -1}); err == nil {
		t.Error("NewService accepted a bad configuration")
	}
}
