package training_test

import (
	"strings"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/training"
)

type reminder struct{ to, subject, text string }

func (w *world) reminders() []reminder {
	w.t.Helper()
	rows, err := w.db.Query(w.ctx, `SELECT to_addr, subject, text_body FROM outbox WHERE kind = 'training_reminder' ORDER BY created_at, id`)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	var out []reminder
	for rows.Next() {
		var r reminder
		if err := rows.Scan(&r.to, &r.subject, &r.text); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// A completion lapses its validity period after it was made; reminders go
// 30 and 7 days before, each once; a lapsed mandatory module counts as
// incomplete until it is taken again. The clock is moved, never waited for.
func TestLapseAndReminders(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		ig := w.module("Information governance and confidentiality", 1, 2, training.SettingsInput{ValidityMonths: ptr(12)})
		intro := w.module("Introduction", 1, 0, training.SettingsInput{})
		p := w.member("amir@nhs.net", w.nursing, "Nursing and midwifery")
		w.finish(p, intro, 1, 0)
		pr := w.finish(p, ig, 1, 2)
		req, _ := must2(w.acc.Get(w.ctx, w.backOffice, pr.Gate.RequestID))(t)
		must(w.acc.Complete(w.ctx, w.backOffice, req.ID, ""))(t)

		a := find(w.mine(p), ig.ID)
		lapses := time.Date(2027, 11, 2, 9, 0, 0, 0, time.UTC)
		if a.ExpiresAt == nil || !a.ExpiresAt.Equal(lapses) {
			t.Fatalf("expires %v, want %v", a.ExpiresAt, lapses)
		}
		if find(w.mine(p), intro.ID).ExpiresAt != nil {
			t.Error("a module without a validity period lapses")
		}
		sweep := func(want training.SweepResult) {
			t.Helper()
			got := must(w.svc.SweepOnce(w.ctx, w.clock.Now()))(t)
			if got != want {
				t.Fatalf("sweep at %s: %+v, want %+v", w.clock.Now().Format(time.DateTime), got, want)
			}
		}
		at := func(tm time.Time) { w.clock.Advance(tm.Sub(w.clock.Now())) }

		sweep(training.SweepResult{})
		at(lapses.Add(-30*24*time.Hour - time.Hour))
		sweep(training.SweepResult{})
		at(lapses.Add(-30*24*time.Hour + time.Hour))
		sweep(training.SweepResult{Reminders: 1})
		sweep(training.SweepResult{}) // each reminder once
		rs := w.reminders()
		if len(rs) != 1 || rs[0].to != "amir@nhs.net" || rs[0].subject != "Your Information governance and confidentiality training lapses on 2 November 2027" ||
			!strings.Contains(rs[0].text, "in 30 days") || !strings.Contains(rs[0].text, "https://caregate.example/training/modules/"+ig.ID) {
			t.Fatalf("30-day reminder: %+v", rs)
		}
		at(lapses.Add(-7*24*time.Hour + time.Hour))
		sweep(training.SweepResult{Reminders: 1})
		sweep(training.SweepResult{})
		if rs := w.reminders(); len(rs) != 2 || !strings.Contains(rs[1].text, "in 7 days") {
			t.Fatalf("7-day reminder: %+v", rs)
		}
		if ok, _ := w.svc.AccessAllowed(w.ctx, p.UserID); !ok {
			t.Fatal("access refused before the lapse")
		}

		// The lapse: the module counts as incomplete; recorded once.
		at(lapses.Add(time.Minute))
		sweep(training.SweepResult{Lapses: 1})
		sweep(training.SweepResult{})
		o := w.mine(p)
		a = find(o, ig.ID)
		if a.Status != training.Lapsed || a.Percent != 0 || o.AccessAllowed || o.AllComplete || a.NextPage != 1 {
			t.Fatalf("lapsed: %+v / %+v", o, a)
		}
		ok, why := w.svc.AccessAllowed(w.ctx, p.UserID)
		if ok || why != "Training has lapsed: Information governance and confidentiality" {
			t.Fatalf("access after the lapse: %v %q", ok, why)
		}
		if n := w.count(`SELECT COUNT(*) FROM audit_events WHERE action = 'training.lapse'`); n != 1 {
			t.Errorf("%d lapse events, want 1", n)
		}

		// Taking it again (no retake needed once lapsed) restores access
		// and starts a new validity period with its own reminders.
		pr = w.finish(p, ig, 1, 2)
		if pr.Gate != nil {
			t.Errorf("the gate fired for someone with an account: %+v", pr.Gate)
		}
		a = find(w.mine(p), ig.ID)
		if a.Status != training.Completed || !a.ExpiresAt.Equal(time.Date(2028, 11, 2, 9, 1, 0, 0, time.UTC)) {
			t.Fatalf("taken again: %+v", a)
		}
		if ok, _ := w.svc.AccessAllowed(w.ctx, p.UserID); !ok {
			t.Fatal("access not restored")
		}
		if n := w.count(`SELECT COUNT(*) FROM access_requests WHERE type = ?`, access.TypeNewUser); n != 1 {
			t.Errorf("%d new-user requests, want 1", n)
		}
		// A long pause: only the nearer, 7-day reminder is sent.
		at(time.Date(2028, 10, 30, 9, 0, 0, 0, time.UTC))
		sweep(training.SweepResult{Reminders: 1})
		sweep(training.SweepResult{})
		if rs := w.reminders(); len(rs) != 3 || !strings.Contains(rs[2].text, "in 7 days") || !strings.Contains(rs[2].subject, "2 November 2028") {
			t.Fatalf("after a long pause: %+v", rs)
		}

		// A reminder for a module no longer assigned is not sent.
		other := w.member("lucy@nhs.net", w.nursing, "Social care")
		w.finish(other, ig, 1, 2)
		for _, r := range must(w.svc.Rules(w.ctx, w.admin, ig.ID))(t) {
			if err := w.svc.RemoveRule(w.ctx, w.admin, r.ID); err != nil {
				t.Fatal(err)
			}
		}
		w.clock.Advance(360 * 24 * time.Hour)
		sweep(training.SweepResult{Lapses: 1}) // amir's second completion lapses; lucy's reminder is not sent
		if rs := w.reminders(); len(rs) != 3 {
			t.Errorf("reminders for a module no longer assigned: %+v", rs[3:])
		}
		w.verify()
	})
}

// A new validity period moves every completion's lapse date at once.
func TestValidityChangeMovesExpiries(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		m := w.module("Information governance", 1, 0, training.SettingsInput{})
		p := w.member("amir@nhs.net", w.nursing, "Nursing and midwifery")
		w.finish(p, m, 1, 0)
		w.clock.Advance(100 * 24 * time.Hour)
		must(w.svc.UpdateSettings(w.ctx, w.admin, m.ID, training.SettingsInput{ValidityMonths: ptr(3)}))(t)
		a := find(w.mine(p), m.ID)
		if a.Status != training.Lapsed || a.ExpiresAt == nil || !a.ExpiresAt.Equal(time.Date(2027, 2, 2, 9, 0, 0, 0, time.UTC)) {
			t.Fatalf("3 months from 2 November 2026: %+v", a)
		}
		must(w.svc.UpdateSettings(w.ctx, w.admin, m.ID, training.SettingsInput{ValidityMonths: ptr(0)}))(t)
		if a := find(w.mine(p), m.ID); a.Status != training.Completed || a.ExpiresAt != nil {
			t.Fatalf("never lapses: %+v", a)
		}
	})
}
