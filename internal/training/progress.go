package training

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/ident"
	"github.com/caregate/caregate/internal/store"
)

// A member works through the version of a module they started, page by page
// in order, then answers its knowledge check if it has one. Progress is an
// attempt row, so it survives signing out. A completed module is not taken
// again by accident: finishing a page of it changes nothing until the member
// asks for a retake, which opens a new attempt while the completion stands.

// MyModule is an assigned module as its member sees it: progress, contents
// and reasons. Callers: the member. Errors: Unauthenticated, NotFound,
// Conflict (retired), Forbidden (not assigned to them).
func (s *Service) MyModule(ctx context.Context, p *authz.Principal, moduleID string) (*ModuleView, error) {
	if err := requireSignedIn(p); err != nil {
		return nil, err
	}
	cat, per, a, err := memberModule(ctx, s.db, p.UserID, moduleID)
	if err != nil {
		return nil, err
	}
	v := &ModuleView{Assignment: cat.view(per, a, s.clock.Now())}
	v.PassMark = cat.version(moduleID, v.Version).passMark
	pages, _, err := loadPages(ctx, s.db, moduleID, v.Version, false)
	if err != nil {
		return nil, err
	}
	for _, pg := range pages {
		done := pg.Number <= v.PagesDone || (v.Status == Completed && !v.Retaking)
		v.Contents = append(v.Contents, PageRef{Number: pg.Number, Title: pg.Title, Done: done})
	}
	return v, nil
}

// Page shows page n of the version the member is taking (the current
// version if they have not started). Reading a page records nothing;
// CompletePage does. Callers: the member. Errors: Unauthenticated,
// NotFound, Conflict (retired), Forbidden (not assigned), Invalid (no such
// page).
func (s *Service) Page(ctx context.Context, p *authz.Principal, moduleID string, n int) (*PageView, error) {
	if err := requireSignedIn(p); err != nil {
		return nil, err
	}
	cat, per, a, err := memberModule(ctx, s.db, p.UserID, moduleID)
	if err != nil {
		return nil, err
	}
	view := cat.view(per, a, s.clock.Now())
	ver := cat.version(moduleID, view.Version)
	if n < 1 || n > ver.pages {
		return nil, pageRange(n, ver.pages)
	}
	pv := &PageView{ModuleID: moduleID, ModuleTitle: ver.title, Version: view.Version, Number: n, Of: ver.pages, HasCheck: ver.questions > 0}
	var body string
	err = s.db.QueryRow(ctx, `SELECT title, body FROM training_pages WHERE module_id = ? AND version = ? AND page_no = ?`,
		moduleID, view.Version, n).Scan(&pv.Title, &body)
	if err != nil {
		return nil, errs.Wrap(err, "load page")
	}
	pv.HTML, _ = RenderMarkdown(body)
	completedOnly := view.Status == Completed && !view.Retaking
	pv.Done = completedOnly || n <= view.PagesDone
	pv.Reachable = completedOnly || n <= view.PagesDone+1
	return pv, nil
}

func pageRange(n, pages int) error {
	return &errs.Error{Code: errs.Invalid, Message: fmt.Sprintf("There is no page %d: this module has %d pages", n, pages),
		Fields: []errs.FieldError{{Field: "page", Message: fmt.Sprintf("Choose a page from 1 to %d", pages)}}}
}

// CompletePage records that the member has finished page n. Pages are
// finished in order; finishing one again changes nothing. Finishing the
// last page of a module without a knowledge check completes the module
// (and, if it was their last outstanding one, raises their access request:
// see Gate). On a module already complete with no retake open it records
// nothing and reports the module complete. Callers: the member.
// Errors: Unauthenticated, NotFound, Conflict (retired, a page skipped),
// Forbidden (not assigned), Invalid (no such page).
func (s *Service) CompletePage(ctx context.Context, p *authz.Principal, moduleID string, n int) (*Progress, error) {
	if err := requireSignedIn(p); err != nil {
		return nil, err
	}
	var out *Progress
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := lockPerson(ctx, tx, p.UserID); err != nil {
			return err
		}
		cat, per, a, err := memberModule(ctx, tx, p.UserID, moduleID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		att := per.attempts[moduleID]
		if att == nil {
			ver := cat.version(moduleID, a.m.version)
			if n < 1 || n > ver.pages {
				return pageRange(n, ver.pages)
			}
			if per.completions[moduleID].valid(now.UnixMicro()) {
				out = &Progress{ModuleID: moduleID, Version: per.completions[moduleID].version, Pages: ver.pages, PagesDone: ver.pages,
					HasCheck: ver.questions > 0, CheckPassed: ver.questions > 0, Percent: 100, Completed: true}
				return nil
			}
			if att, err = s.openAttempt(ctx, tx, p.UserID, moduleID, a.m.version, now); err != nil {
				return err
			}
		}
		ver := cat.version(moduleID, att.version)
		if n < 1 || n > ver.pages {
			return pageRange(n, ver.pages)
		}
		if n > att.pagesDone+1 {
			return errs.E(errs.Conflict, "Finish page %d before page %d", att.pagesDone+1, n)
		}
		if n == att.pagesDone+1 {
			att.pagesDone = n
			if _, err := tx.Exec(ctx, `UPDATE training_attempts SET pages_done = ?, updated_at = ? WHERE id = ?`, n, now.UnixMicro(), att.id); err != nil {
				return errs.Wrap(err, "record progress")
			}
		}
		out = progressOf(moduleID, ver, att)
		if att.pagesDone == ver.pages && ver.questions == 0 {
			out.Completed = true
			out.Gate, err = s.finish(ctx, tx, p, cat, per, a, att, now)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// openAttempt starts an attempt at a version. The person is locked, so no
// other attempt at the module can be opened meanwhile; the unique open_key
// would refuse one anyway.
func (s *Service) openAttempt(ctx context.Context, tx *store.Tx, userID, moduleID string, version int, now time.Time) (*attempt, error) {
	a := &attempt{id: ident.New(), moduleID: moduleID, version: version, score: -1}
	if _, err := tx.Exec(ctx, `INSERT INTO training_attempts (id, user_id, module_id, version, state, started_at, updated_at, open_key)
		VALUES (?, ?, ?, ?, 'open', ?, ?, ?)`, a.id, userID, moduleID, version, now.UnixMicro(), now.UnixMicro(), userID+":"+moduleID); err != nil {
		if store.IsUniqueViolation(err) {
			return nil, errs.E(errs.Conflict, "You already have this module open; reload the page")
		}
		return nil, errs.Wrap(err, "open attempt")
	}
	return a, nil
}

func progressOf(moduleID string, ver verInfo, att *attempt) *Progress {
	pr := &Progress{ModuleID: moduleID, Version: att.version, Pages: ver.pages, PagesDone: att.pagesDone, HasCheck: ver.questions > 0,
		CheckPassed: att.passed}
	pr.Percent = percent(pr.Pages, pr.PagesDone, pr.HasCheck, pr.CheckPassed)
	pr.NextPage, pr.CheckNext = next(pr.Pages, pr.PagesDone, pr.HasCheck, pr.CheckPassed)
	return pr
}

// Check shows a module's knowledge check to its member, without the
// answers. Ready is false until every page is finished. Callers: the
// member. Errors: Unauthenticated, NotFound (also: the module has no
// check), Conflict (retired), Forbidden (not assigned).
func (s *Service) Check(ctx context.Context, p *authz.Principal, moduleID string) (*CheckView, error) {
	if err := requireSignedIn(p); err != nil {
		return nil, err
	}
	cat, per, a, err := memberModule(ctx, s.db, p.UserID, moduleID)
	if err != nil {
		return nil, err
	}
	view := cat.view(per, a, s.clock.Now())
	ver := cat.version(moduleID, view.Version)
	if ver.questions == 0 {
		return nil, errs.E(errs.NotFound, "This module has no knowledge check")
	}
	qs, err := loadQuestions(ctx, s.db, moduleID, view.Version)
	if err != nil {
		return nil, err
	}
	cv := &CheckView{ModuleID: moduleID, ModuleTitle: ver.title, Version: view.Version, PassMark: ver.passMark, Tries: view.CheckTries,
		LastScore: view.LastCheckScore, Ready: view.CheckNext}
	for _, q := range qs {
		cv.Questions = append(cv.Questions, CheckQuestion{ID: q.ID, Prompt: q.Prompt, Options: q.Options})
	}
	return cv, nil
}

// SubmitCheck marks the member's answers to a module's knowledge check:
// answers maps question ids to the index of the chosen option, and every
// question must be answered. A pass (a score at or above the pass mark)
// completes the module (and may raise their access request: see Gate); a
// fail is recorded and may be tried again. Answers that name no question
// of the check or no option of the question are refused and nothing is
// recorded. Callers: the member. Errors: Unauthenticated, NotFound,
// Forbidden (not assigned), Invalid (answers), Conflict (retired, pages not
// finished, already complete with no retake open, no check).
func (s *Service) SubmitCheck(ctx context.Context, p *authz.Principal, moduleID string, answers map[string]int) (*CheckResult, error) {
	if err := requireSignedIn(p); err != nil {
		return nil, err
	}
	var out *CheckResult
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := lockPerson(ctx, tx, p.UserID); err != nil {
			return err
		}
		cat, per, a, err := memberModule(ctx, tx, p.UserID, moduleID)
		if err != nil {
			return err
		}
		now := s.clock.Now()
		att := per.attempts[moduleID]
		if att == nil {
			if per.completions[moduleID].valid(now.UnixMicro()) {
				return errs.E(errs.Conflict, "You have already completed this module; start a retake to take its knowledge check again")
			}
			return errs.E(errs.Conflict, "Read the module's pages before its knowledge check")
		}
		ver := cat.version(moduleID, att.version)
		if ver.questions == 0 {
			return errs.E(errs.Conflict, "This module has no knowledge check")
		}
		if att.pagesDone < ver.pages {
			return errs.E(errs.Conflict, "Finish every page before the knowledge check: page %d is next", att.pagesDone+1)
		}
		if att.passed {
			return errs.E(errs.Conflict, "You have already passed this knowledge check")
		}
		qs, err := loadQuestions(ctx, tx, moduleID, att.version)
		if err != nil {
			return err
		}
		res, err := mark(qs, answers, ver.passMark)
		if err != nil {
			return err
		}
		att.tries++
		att.score, att.passed = res.Score, res.Passed
		if _, err := tx.Exec(ctx, `UPDATE training_attempts SET check_tries = ?, check_score = ?, check_passed = ?, updated_at = ? WHERE id = ?`,
			att.tries, att.score, flag(att.passed), now.UnixMicro(), att.id); err != nil {
			return errs.Wrap(err, "record check")
		}
		if err := s.log.Record(ctx, tx, audit.New(p.Who(), "training.check", "training_module", moduleID, audit.Success,
			map[string]string{"version": strconv.Itoa(att.version), "score": strconv.Itoa(res.Score), "passed": strconv.FormatBool(res.Passed),
				"try": strconv.Itoa(att.tries)})); err != nil {
			return err
		}
		res.Progress, res.Tries = progressOf(moduleID, ver, att), att.tries
		if res.Passed {
			res.Progress.Completed = true
			if res.Progress.Gate, err = s.finish(ctx, tx, p, cat, per, a, att, now); err != nil {
				return err
			}
		}
		out = res
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// mark checks and marks answers. Every problem is reported at once.
func mark(qs []Question, answers map[string]int, passMark int) (*CheckResult, error) {
	var v errs.Validation
	byID := map[string]int{}
	for i, q := range qs {
		byID[q.ID] = i
	}
	for id := range answers {
		if _, ok := byID[id]; !ok {
			if len(id) > 40 {
				id = id[:40]
			}
			v.Add("answers", "There is no question %q in this knowledge check", id)
		}
	}
	res := &CheckResult{PassMark: passMark, Correct: map[string]bool{}}
	right := 0
	for i, q := range qs {
		got, ok := answers[q.ID]
		switch {
		case !ok:
			v.Add("answers."+q.ID, "Answer question %d", i+1)
		case got < 0 || got >= len(q.Options):
			v.Add("answers."+q.ID, "Choose one of the answers to question %d", i+1)
		default:
			res.Correct[q.ID] = got == q.Correct
			if got == q.Correct {
				right++
			}
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	res.Score = right * 100 / len(qs)
	// Compared without rounding: 4 of 5 right passes a pass mark of 80.
	res.Passed = right*100 >= passMark*len(qs)
	return res, nil
}

// Retake starts a completed module again from its first page, at its
// current version. The completion stands (and keeps counting) until the
// retake is finished, which replaces it. A retake already open is
// abandoned and started again. Callers: the member.
// Errors: Unauthenticated, NotFound, Conflict (retired, never completed),
// Forbidden (not assigned).
func (s *Service) Retake(ctx context.Context, p *authz.Principal, moduleID string) (*Progress, error) {
	if err := requireSignedIn(p); err != nil {
		return nil, err
	}
	var out *Progress
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := lockPerson(ctx, tx, p.UserID); err != nil {
			return err
		}
		cat, per, a, err := memberModule(ctx, tx, p.UserID, moduleID)
		if err != nil {
			return err
		}
		if per.completions[moduleID] == nil {
			return errs.E(errs.Conflict, "You can retake a module once you have completed it; carry on where you left off")
		}
		now := s.clock.Now()
		if old := per.attempts[moduleID]; old != nil {
			if _, err := tx.Exec(ctx, `UPDATE training_attempts SET state = 'abandoned', open_key = NULL, updated_at = ? WHERE id = ?`,
				now.UnixMicro(), old.id); err != nil {
				return errs.Wrap(err, "abandon attempt")
			}
		}
		att, err := s.openAttempt(ctx, tx, p.UserID, moduleID, a.m.version, now)
		if err != nil {
			return err
		}
		if err := s.log.Record(ctx, tx, audit.New(p.Who(), "training.retake", "training_module", moduleID, audit.Success,
			map[string]string{"version": strconv.Itoa(a.m.version), "completed_version": strconv.Itoa(per.completions[moduleID].version)})); err != nil {
			return err
		}
		out = progressOf(moduleID, cat.version(moduleID, att.version), att)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
