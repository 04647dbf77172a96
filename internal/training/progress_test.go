package training_test

import (
	"testing"
	"time"

	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/training"
)

// Progress is saved page by page and counts the knowledge check as one more
// step; it is in the database, so a new session (or another instance)
// sees it.
func TestProgressPageByPage(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		m := w.module("Signing in and smartcards", 3, 4, training.SettingsInput{})
		short := w.module("Introduction", 2, 0, training.SettingsInput{})
		p := w.member("amir@nhs.net", w.nursing, "Nursing and midwifery")

		a := find(w.mine(p), m.ID)
		if a.Status != training.NotStarted || a.Percent != 0 || a.NextPage != 1 || a.Pages != 3 || !a.HasCheck {
			t.Fatalf("not started: %+v", a)
		}
		for i, want := range []int{25, 50, 75} {
			pr := must(w.svc.CompletePage(w.ctx, p, m.ID, i+1))(t)
			if pr.Percent != want || pr.PagesDone != i+1 || pr.Completed {
				t.Fatalf("after page %d: %+v, want %d%%", i+1, pr, want)
			}
			// Finishing a page again changes nothing.
			if pr := must(w.svc.CompletePage(w.ctx, p, m.ID, i+1))(t); pr.PagesDone != i+1 {
				t.Fatalf("page %d again: %+v", i+1, pr)
			}
		}
		// Signing out and in: a new principal, and a new service on the same
		// database, see the same progress.
		again := w.principal(p.UserID)
		a = find(w.mine(again), m.ID)
		if a.Status != training.InProgress || a.Percent != 75 || !a.CheckNext || a.NextPage != 0 {
			t.Fatalf("after signing in again: %+v", a)
		}
		mv := must(w.svc.MyModule(w.ctx, again, m.ID))(t)
		if len(mv.Contents) != 3 || !mv.Contents[2].Done || mv.PassMark != 80 || mv.Reasons[0] != "assigned to everyone" {
			t.Fatalf("module view: %+v", mv)
		}
		cv := must(w.svc.Check(w.ctx, again, m.ID))(t)
		if !cv.Ready || len(cv.Questions) != 4 || cv.PassMark != 80 || cv.LastScore != -1 {
			t.Fatalf("check view: %+v", cv)
		}

		// A module without a check: each page is half.
		if pr := must(w.svc.CompletePage(w.ctx, p, short.ID, 1))(t); pr.Percent != 50 || pr.NextPage != 2 {
			t.Fatalf("short module page 1: %+v", pr)
		}
		pg := must(w.svc.Page(w.ctx, p, short.ID, 2))(t)
		if pg.Done || !pg.Reachable || pg.Of != 2 || pg.Title != "Part 2" || pg.HTML == "" {
			t.Fatalf("page view: %+v", pg)
		}
		pr := must(w.svc.CompletePage(w.ctx, p, short.ID, 2))(t)
		if pr.Percent != 100 || !pr.Completed {
			t.Fatalf("short module done: %+v", pr)
		}
		o := w.mine(p)
		if o.Completed != 1 || o.Outstanding != 1 || o.AllComplete || o.AccessAllowed {
			t.Fatalf("overview: %+v", o)
		}
		if o.StatusLine != "You have outstanding modules to complete below before you will be given access to the Westshire Care Record. Please complete all course content shown." {
			t.Errorf("status line: %q", o.StatusLine)
		}
		w.verify()
	})
}

// A knowledge check passes at or above its pass mark; a fail is recorded
// and may be tried again.
func TestKnowledgeCheck(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		m := w.module("Legitimate use", 1, 5, training.SettingsInput{}) // pass mark 80: 4 of 5
		p := w.member("lucy@nhs.net", w.nursing, "Social care")
		_, err := w.svc.SubmitCheck(w.ctx, p, m.ID, answers(5, 0))
		wantCode(t, err, errs.Conflict, "the check before the pages")
		cv := must(w.svc.Check(w.ctx, p, m.ID))(t)
		if cv.Ready {
			t.Error("check ready before the pages are read")
		}
		must(w.svc.CompletePage(w.ctx, p, m.ID, 1))(t)

		res := must(w.svc.SubmitCheck(w.ctx, p, m.ID, answers(5, 2)))(t)
		if res.Passed || res.Score != 60 || res.Progress.Completed || res.Progress.Percent != 50 || res.Correct["q1"] || !res.Correct["q3"] {
			t.Fatalf("3 of 5: %+v", res)
		}
		a := find(w.mine(p), m.ID)
		if a.Status != training.InProgress || a.CheckTries != 1 || a.LastCheckScore != 60 {
			t.Fatalf("after a fail: %+v", a)
		}
		res = must(w.svc.SubmitCheck(w.ctx, p, m.ID, answers(5, 1)))(t)
		if !res.Passed || res.Score != 80 || !res.Progress.Completed || res.Progress.Percent != 100 {
			t.Fatalf("4 of 5 passes a pass mark of 80: %+v", res)
		}
		a = find(w.mine(p), m.ID)
		if a.Status != training.Completed || a.Percent != 100 || a.CompletedVersion != 1 || a.CompletedAt == nil || a.ExpiresAt != nil {
			t.Fatalf("after passing: %+v", a)
		}
		_, err = w.svc.SubmitCheck(w.ctx, p, m.ID, answers(5, 0))
		wantCode(t, err, errs.Conflict, "the check again without a retake")
		if n := w.count(`SELECT COUNT(*) FROM audit_events WHERE action = 'training.check'`); n != 2 {
			t.Errorf("%d check events, want 2", n)
		}
	})
}

// A completed module can be retaken at any time; its completion stands
// (and keeps access) until the retake finishes, which replaces it.
func TestRetakeKeepsCompletion(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		m := w.module("Information governance", 2, 3, training.SettingsInput{ValidityMonths: ptr(12)})
		p := w.member("amir@nhs.net", w.nursing, "Nursing and midwifery")
		_, err := w.svc.Retake(w.ctx, p, m.ID)
		wantCode(t, err, errs.Conflict, "retaking a module never completed")
		w.finish(p, m, 2, 3)
		first := find(w.mine(p), m.ID)

		// Finishing a page of a completed module changes nothing.
		if pr := must(w.svc.CompletePage(w.ctx, p, m.ID, 1))(t); !pr.Completed || pr.Percent != 100 {
			t.Fatalf("page of a completed module: %+v", pr)
		}
		if n := w.count(`SELECT COUNT(*) FROM training_attempts WHERE user_id = ?`, p.UserID); n != 1 {
			t.Fatalf("%d attempts, want 1", n)
		}

		w.clock.Advance(60 * 24 * time.Hour)
		pr := must(w.svc.Retake(w.ctx, p, m.ID))(t)
		if pr.Percent != 0 || pr.PagesDone != 0 || pr.NextPage != 1 {
			t.Fatalf("retake started: %+v", pr)
		}
		must(w.svc.CompletePage(w.ctx, p, m.ID, 1))(t)
		o := w.mine(p)
		a := find(o, m.ID)
		if a.Status != training.Completed || a.Percent != 100 || !a.Retaking || a.RetakePercent != 33 || !o.AccessAllowed ||
			!a.CompletedAt.Equal(*first.CompletedAt) {
			t.Fatalf("during the retake: %+v", a)
		}
		if ok, why := w.svc.AccessAllowed(w.ctx, p.UserID); !ok {
			t.Fatalf("a retake took access away: %s", why)
		}
		// Restarting the retake abandons the open one.
		must(w.svc.Retake(w.ctx, p, m.ID))(t)
		w.finish(p, m, 2, 3)
		a = find(w.mine(p), m.ID)
		if a.Status != training.Completed || a.Retaking || !a.CompletedAt.After(*first.CompletedAt) || !a.ExpiresAt.After(*first.ExpiresAt) {
			t.Fatalf("after the retake: %+v (first %+v)", a, first)
		}
		if n := w.count(`SELECT COUNT(*) FROM training_attempts WHERE user_id = ? AND state = 'finished'`, p.UserID); n != 2 {
			t.Errorf("%d finished attempts, want the history of 2", n)
		}
		if n := w.count(`SELECT COUNT(*) FROM training_attempts WHERE user_id = ? AND state = 'abandoned'`, p.UserID); n != 1 {
			t.Errorf("%d abandoned attempts, want 1", n)
		}
		// The retake of a complete module does not raise a second request.
		if n := w.count(`SELECT COUNT(*) FROM access_requests`); n != 1 {
			t.Errorf("%d requests, want the one the first completion raised", n)
		}
		w.verify()
	})
}

// Bad input is refused with a clear error and records nothing.
func TestBadInputRecordsNothing(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		m := w.module("Finding a patient", 2, 3, training.SettingsInput{})
		noCheck := w.module("Introduction", 1, 0, training.SettingsInput{})
		draft := must(w.svc.CreateModule(w.ctx, w.admin, content("Draft", 1, 0), training.SettingsInput{}))(t)
		must(w.svc.AddRule(w.ctx, w.admin, training.RuleInput{ModuleID: draft.ID}))(t)
		retired := w.module("Old module", 1, 0, training.SettingsInput{})
		must(w.svc.Retire(w.ctx, w.admin, retired.ID))(t)
		nurses := must(w.svc.CreateModule(w.ctx, w.admin, content("Nurses only", 1, 0), training.SettingsInput{}))(t)
		must(w.svc.Publish(w.ctx, w.admin, nurses.ID))(t)
		must(w.svc.AddRule(w.ctx, w.admin, training.RuleInput{ModuleID: nurses.ID, JobCategory: "Nursing and midwifery"}))(t)

		p := w.member("lucy@nhs.net", w.nursing, "Social care")
		must(w.svc.CompletePage(w.ctx, p, m.ID, 1))(t)
		snapshot := func() [4]int {
			return [4]int{w.count(`SELECT COUNT(*) FROM training_attempts`), w.count(`SELECT COALESCE(SUM(pages_done + check_tries), 0) FROM training_attempts`),
				w.count(`SELECT COUNT(*) FROM training_completions`), w.count(`SELECT COUNT(*) FROM audit_events`)}
		}
		before := snapshot()
		cases := []struct {
			name string
			code errs.Code
			call func() error
		}{
			{"page 0", errs.Invalid, func() error { _, err := w.svc.CompletePage(w.ctx, p, m.ID, 0); return err }},
			{"page -1", errs.Invalid, func() error { _, err := w.svc.CompletePage(w.ctx, p, m.ID, -1); return err }},
			{"page past the end", errs.Invalid, func() error { _, err := w.svc.CompletePage(w.ctx, p, m.ID, 3); return err }},
			{"page past the end of a module not started", errs.Invalid, func() error { _, err := w.svc.CompletePage(w.ctx, p, noCheck.ID, 2); return err }},
			{"reading a page past the end", errs.Invalid, func() error { _, err := w.svc.Page(w.ctx, p, m.ID, 9); return err }},
			{"skipping a page", errs.Conflict, func() error {
				q := w.module("Long", 4, 0, training.SettingsInput{})
				must(w.svc.CompletePage(w.ctx, p, q.ID, 1))(t)
				before = snapshot()
				_, err := w.svc.CompletePage(w.ctx, p, q.ID, 3)
				return err
			}},
			{"no such module", errs.NotFound, func() error { _, err := w.svc.CompletePage(w.ctx, p, "no-such-module", 1); return err }},
			{"an unpublished module", errs.NotFound, func() error { _, err := w.svc.CompletePage(w.ctx, p, draft.ID, 1); return err }},
			{"a retired module", errs.Conflict, func() error { _, err := w.svc.CompletePage(w.ctx, p, retired.ID, 1); return err }},
			{"a module not assigned", errs.Forbidden, func() error { _, err := w.svc.CompletePage(w.ctx, p, nurses.ID, 1); return err }},
			{"check of a module not assigned", errs.Forbidden, func() error { _, err := w.svc.SubmitCheck(w.ctx, p, nurses.ID, answers(1, 0)); return err }},
			{"check of an unpublished module", errs.NotFound, func() error { _, err := w.svc.SubmitCheck(w.ctx, p, draft.ID, nil); return err }},
			{"check before the pages", errs.Conflict, func() error { _, err := w.svc.SubmitCheck(w.ctx, p, m.ID, answers(3, 0)); return err }},
			{"a module without a check", errs.NotFound, func() error { _, err := w.svc.Check(w.ctx, p, noCheck.ID); return err }},
			{"an answer to a question that does not exist", errs.Invalid, func() error {
				must(w.svc.CompletePage(w.ctx, p, m.ID, 2))(t)
				before = snapshot()
				a := answers(3, 0)
				a["q99"] = 1
				_, err := w.svc.SubmitCheck(w.ctx, p, m.ID, a)
				return err
			}},
			{"an option that does not exist", errs.Invalid, func() error {
				a := answers(3, 0)
				a["q2"] = 3
				_, err := w.svc.SubmitCheck(w.ctx, p, m.ID, a)
				return err
			}},
			{"a negative option", errs.Invalid, func() error {
				a := answers(3, 0)
				a["q2"] = -1
				_, err := w.svc.SubmitCheck(w.ctx, p, m.ID, a)
				return err
			}},
			{"a question left out", errs.Invalid, func() error {
				a := answers(3, 0)
				delete(a, "q3")
				_, err := w.svc.SubmitCheck(w.ctx, p, m.ID, a)
				return err
			}},
			{"no answers", errs.Invalid, func() error { _, err := w.svc.SubmitCheck(w.ctx, p, m.ID, nil); return err }},
			{"retaking a module never completed", errs.Conflict, func() error { _, err := w.svc.Retake(w.ctx, p, m.ID); return err }},
		}
		for _, c := range cases {
			err := c.call()
			wantCode(t, err, c.code, c.name)
			if e := errs.As(err); err != nil && (e.Message == "" || e.Code == errs.Internal) {
				t.Errorf("%s: unclear error %v", c.name, err)
			}
			if after := snapshot(); after != before {
				t.Errorf("%s recorded something: %v -> %v", c.name, before, after)
			}
		}
		// Every problem with the answers is reported at once, by field.
		a := answers(3, 0)
		a["q1"], a["q99"] = 7, 0
		delete(a, "q3")
		_, err := w.svc.SubmitCheck(w.ctx, p, m.ID, a)
		if e := errs.As(err); !hasField(e, "answers") || !hasField(e, "answers.q1") || !hasField(e, "answers.q3") {
			t.Errorf("answers: %+v", e)
		}
		// And the check still passes with good answers.
		if res := must(w.svc.SubmitCheck(w.ctx, p, m.ID, answers(3, 0)))(t); !res.Passed {
			t.Errorf("good answers after bad ones: %+v", res)
		}
	})
}
