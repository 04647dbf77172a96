package training_test

import (
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/training"
)

// A module is a draft, then published; a published version never changes:
// editing makes a new draft that members do not see until it is published.
// Members part-way through the old version finish it; completions record
// the version; retiring withdraws the module.
func TestModuleLifecycleAndVersions(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		m := must(w.svc.CreateModule(w.ctx, w.admin, content("Finding a patient", 2, 0), training.SettingsInput{}))(t)
		if m.Status != training.StatusDraft || m.DraftVersion != 1 || m.CurrentVersion != 0 || !m.Mandatory || m.ValidityMonths != 0 || m.BlocksExistingAccess {
			t.Fatalf("new module: %+v", m)
		}
		must(w.svc.AddRule(w.ctx, w.admin, training.RuleInput{ModuleID: m.ID}))(t)
		early := w.member("early@nhs.net", w.nursing, "Nursing and midwifery")
		if o := w.mine(early); o.Assigned != 0 {
			t.Fatalf("a draft is assigned: %+v", o)
		}
		_, err := w.svc.Page(w.ctx, early, m.ID, 1)
		wantCode(t, err, errs.NotFound, "reading a draft")

		m = must(w.svc.Publish(w.ctx, w.admin, m.ID))(t)
		if m.Status != training.StatusPublished || m.CurrentVersion != 1 || m.DraftVersion != 0 || m.FirstPublishedAt == nil {
			t.Fatalf("published: %+v", m)
		}
		_, err = w.svc.Publish(w.ctx, w.admin, m.ID)
		wantCode(t, err, errs.Conflict, "publishing without a draft")
		_, err = w.svc.DiscardDraft(w.ctx, w.admin, m.ID)
		wantCode(t, err, errs.Conflict, "discarding no draft")
		must(w.svc.CompletePage(w.ctx, early, m.ID, 1))(t) // early starts version 1

		// Editing the published module makes version 2, a draft.
		c2 := content("Finding a patient", 3, 2)
		c2.Pages[0].Body = "Version two text"
		m = must(w.svc.EditContent(w.ctx, w.admin, m.ID, c2))(t)
		if m.CurrentVersion != 1 || m.DraftVersion != 2 || m.Status != training.StatusPublished {
			t.Fatalf("edited: %+v", m)
		}
		c2.Summary = "Edited again"
		m = must(w.svc.EditContent(w.ctx, w.admin, m.ID, c2))(t)
		if m.DraftVersion != 2 {
			t.Fatalf("a second edit made another version: %+v", m)
		}
		v1 := must(w.svc.Preview(w.ctx, w.admin, m.ID, 1))(t)
		if v1.Draft || len(v1.Pages) != 2 || strings.Contains(string(v1.Pages[0].HTML), "Version two") || v1.Summary != "About Finding a patient" {
			t.Fatalf("version 1 changed: %+v", v1)
		}
		draft := must(w.svc.Preview(w.ctx, w.admin, m.ID, 0))(t)
		if !draft.Draft || draft.Version != 2 || len(draft.Pages) != 3 || len(draft.Questions) != 2 || draft.Summary != "Edited again" ||
			draft.Questions[0].Correct != 1 || draft.Pages[0].Markdown != "Version two text" {
			t.Fatalf("draft preview: %+v", draft)
		}
		// Members still see version 1.
		pg := must(w.svc.Page(w.ctx, early, m.ID, 1))(t)
		if pg.Version != 1 || pg.Of != 2 || strings.Contains(string(pg.HTML), "Version two") {
			t.Fatalf("a member sees the draft: %+v", pg)
		}

		// Version 2 is published: a newcomer takes it, early finishes version 1.
		m = must(w.svc.Publish(w.ctx, w.admin, m.ID))(t)
		if m.CurrentVersion != 2 || m.DraftVersion != 0 || m.Summary != "Edited again" {
			t.Fatalf("version 2 published: %+v", m)
		}
		late := w.member("late@nhs.net", w.nursing, "Nursing and midwifery")
		if a := find(w.mine(late), m.ID); a == nil || a.Version != 2 || a.Pages != 3 || !a.HasCheck {
			t.Fatalf("newcomer's module: %+v", a)
		}
		pr := must(w.svc.CompletePage(w.ctx, early, m.ID, 2))(t)
		if !pr.Completed || pr.Version != 1 {
			t.Fatalf("early's version 1 attempt: %+v", pr)
		}
		w.finish(late, m, 3, 2)
		a, b := find(w.mine(early), m.ID), find(w.mine(late), m.ID)
		if a.CompletedVersion != 1 || b.CompletedVersion != 2 || a.Status != training.Completed || b.Status != training.Completed {
			t.Fatalf("completions record the version: %+v / %+v", a, b)
		}
		vs := must(w.svc.Versions(w.ctx, w.admin, m.ID))(t)
		if len(vs) != 2 || vs[0].Version != 2 || !vs[0].Current || vs[0].Completions != 1 || vs[1].Completions != 1 || vs[1].Current || vs[1].Draft {
			t.Fatalf("versions: %+v", vs)
		}

		// A draft can be thrown away; members go on with the current version.
		must(w.svc.EditContent(w.ctx, w.admin, m.ID, content("Finding a patient", 1, 0)))(t)
		m = must(w.svc.DiscardDraft(w.ctx, w.admin, m.ID))(t)
		if m.DraftVersion != 0 || m.CurrentVersion != 2 {
			t.Fatalf("after discarding: %+v", m)
		}
		_, err = w.svc.Preview(w.ctx, w.admin, m.ID, 3)
		wantCode(t, err, errs.NotFound, "previewing a discarded draft")

		// Settings are not content: they change without a version.
		m = must(w.svc.UpdateSettings(w.ctx, w.admin, m.ID, training.SettingsInput{ValidityMonths: ptr(12), Position: ptr(3)}))(t)
		if m.ValidityMonths != 12 || m.Position != 3 || m.CurrentVersion != 2 || m.DraftVersion != 0 {
			t.Fatalf("settings: %+v", m)
		}

		// Retiring withdraws it; completions stay; it is final.
		m = must(w.svc.Retire(w.ctx, w.admin, m.ID))(t)
		if m.Status != training.StatusRetired {
			t.Fatalf("retired: %+v", m)
		}
		if o := w.mine(early); o.Assigned != 0 {
			t.Errorf("a retired module is still assigned: %+v", o)
		}
		_, err = w.svc.CompletePage(w.ctx, late, m.ID, 1)
		wantCode(t, err, errs.Conflict, "progress on a retired module")
		_, err = w.svc.Retire(w.ctx, w.admin, m.ID)
		wantCode(t, err, errs.Conflict, "retiring twice")
		_, err = w.svc.EditContent(w.ctx, w.admin, m.ID, content("X", 1, 0))
		wantCode(t, err, errs.Conflict, "editing a retired module")
		_, err = w.svc.Publish(w.ctx, w.admin, m.ID)
		wantCode(t, err, errs.Conflict, "publishing a retired module")
		if n := w.count(`SELECT COUNT(*) FROM training_completions WHERE module_id = ?`, m.ID); n != 2 {
			t.Errorf("%d completions after retiring, want 2 kept", n)
		}
		list := must(w.svc.Modules(w.ctx, w.admin))(t)
		if len(list) != 1 || list[0].Status != training.StatusRetired {
			t.Errorf("module list: %+v", list)
		}
		w.verify()
	})
}

// A module needs a page before it can be published, and its content is
// checked field by field.
func TestContentValidation(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		empty := content("Empty", 0, 0)
		m := must(w.svc.CreateModule(w.ctx, w.admin, empty, training.SettingsInput{}))(t)
		_, err := w.svc.Publish(w.ctx, w.admin, m.ID)
		wantCode(t, err, errs.Conflict, "publishing a module without pages")
		pv := must(w.svc.Preview(w.ctx, w.admin, m.ID, 0))(t)
		if len(pv.Warnings) == 0 {
			t.Error("the preview does not warn that a page is needed")
		}
		_, err = w.svc.DiscardDraft(w.ctx, w.admin, m.ID)
		wantCode(t, err, errs.Conflict, "discarding the draft of a module never published")

		bad := func(name string, edit func(c *training.Content), field string) {
			t.Helper()
			c := content("Good", 2, 3)
			edit(&c)
			_, err := w.svc.CreateModule(w.ctx, w.admin, c, training.SettingsInput{})
			wantCode(t, err, errs.Invalid, name)
			if e := errs.As(err); err != nil && !hasField(e, field) {
				t.Errorf("%s: fields %+v, want %s", name, e.Fields, field)
			}
		}
		bad("no title", func(c *training.Content) { c.Title = "  " }, "title")
		bad("title with a line break", func(c *training.Content) { c.Title = "A\nB" }, "title")
		bad("no summary", func(c *training.Content) { c.Summary = "" }, "summary")
		bad("empty page", func(c *training.Content) { c.Pages[1].Body = "" }, "pages[1].body")
		bad("NUL in a page", func(c *training.Content) { c.Pages[0].Body = "a\x00b" }, "pages[0].body")
		bad("invalid UTF-8", func(c *training.Content) { c.Pages[0].Title = "a\xffb" }, "pages[0].title")
		bad("one option", func(c *training.Content) { c.Questions[0].Options = []string{"Yes"}; c.Questions[0].Correct = 0 }, "questions[0].options")
		bad("right answer out of range", func(c *training.Content) { c.Questions[2].Correct = 3 }, "questions[2].correct")
		bad("negative right answer", func(c *training.Content) { c.Questions[2].Correct = -1 }, "questions[2].correct")
		bad("the same answer twice", func(c *training.Content) { c.Questions[1].Options = []string{"Yes", "yes "} }, "questions[1].options[1]")
		bad("pass mark 0 with questions", func(c *training.Content) { c.PassMark = 0 }, "pass_mark")
		bad("pass mark over 100", func(c *training.Content) { c.PassMark = 101 }, "pass_mark")
		bad("pass mark without questions", func(c *training.Content) { c.Questions = nil; c.PassMark = 80 }, "pass_mark")
		bad("too many pages", func(c *training.Content) {
			for range training.MaxPages {
				c.Pages = append(c.Pages, c.Pages[0])
			}
		}, "pages")
		_, err = w.svc.CreateModule(w.ctx, w.admin, content("Good", 1, 0), training.SettingsInput{ValidityMonths: ptr(-1)})
		wantCode(t, err, errs.Invalid, "negative validity")
		_, err = w.svc.UpdateSettings(w.ctx, w.admin, m.ID, training.SettingsInput{ValidityMonths: ptr(121)})
		wantCode(t, err, errs.Invalid, "validity over ten years")
		if n := w.count(`SELECT COUNT(*) FROM training_modules`); n != 1 {
			t.Errorf("%d modules after refusals, want 1", n)
		}
	})
}

func hasField(e *errs.Error, field string) bool {
	for _, f := range e.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// Only programme administrators manage modules and rules and read the
// region's report; authorisers read their own sites only.
func TestPermissions(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		m := w.module("Introduction", 1, 0, training.SettingsInput{})
		member := w.member("amir@nhs.net", w.nursing, "Nursing and midwifery")
		rules := must(w.svc.Rules(w.ctx, w.admin, m.ID))(t)
		calls := map[string]func(p *principal) error{
			"CreateModule": func(p *principal) error {
				_, err := w.svc.CreateModule(w.ctx, p.p, content("X", 1, 0), training.SettingsInput{})
				return err
			},
			"EditContent": func(p *principal) error {
				_, err := w.svc.EditContent(w.ctx, p.p, m.ID, content("X", 1, 0))
				return err
			},
			"UpdateSettings": func(p *principal) error {
				_, err := w.svc.UpdateSettings(w.ctx, p.p, m.ID, training.SettingsInput{BlocksExistingAccess: ptr(true)})
				return err
			},
			"Publish":      func(p *principal) error { _, err := w.svc.Publish(w.ctx, p.p, m.ID); return err },
			"DiscardDraft": func(p *principal) error { _, err := w.svc.DiscardDraft(w.ctx, p.p, m.ID); return err },
			"Retire":       func(p *principal) error { _, err := w.svc.Retire(w.ctx, p.p, m.ID); return err },
			"Preview":      func(p *principal) error { _, err := w.svc.Preview(w.ctx, p.p, m.ID, 0); return err },
			"Versions":     func(p *principal) error { _, err := w.svc.Versions(w.ctx, p.p, m.ID); return err },
			"Modules":      func(p *principal) error { _, err := w.svc.Modules(w.ctx, p.p); return err },
			"Module":       func(p *principal) error { _, err := w.svc.Module(w.ctx, p.p, m.ID); return err },
			"Rules":        func(p *principal) error { _, err := w.svc.Rules(w.ctx, p.p, ""); return err },
			"AddRule": func(p *principal) error {
				_, err := w.svc.AddRule(w.ctx, p.p, training.RuleInput{ModuleID: m.ID, JobCategory: "X"})
				return err
			},
			"RemoveRule":    func(p *principal) error { return w.svc.RemoveRule(w.ctx, p.p, rules[0].ID) },
			"JobCategories": func(p *principal) error { _, err := w.svc.JobCategories(w.ctx, p.p); return err },
			"CompletionReport": func(p *principal) error {
				_, err := w.svc.CompletionReport(w.ctx, p.p)
				return err
			},
			"ExportCompletionCSV": func(p *principal) error {
				var b strings.Builder
				return w.svc.ExportCompletionCSV(w.ctx, p.p, &b)
			},
		}
		before := w.count(`SELECT COUNT(*) FROM audit_events`)
		for name, c := range calls {
			for _, who := range []principal{{"member", member}, {"authoriser", w.authoriser}, {"back office", w.backOffice}} {
				wantCode(t, c(&who), errs.Forbidden, name+" by "+who.name)
			}
			wantCode(t, c(&principal{"nobody", nil}), errs.Unauthenticated, name+" signed out")
		}
		if after := w.count(`SELECT COUNT(*) FROM audit_events`); after != before {
			t.Errorf("refused calls changed the audit trail: %d -> %d events", before, after)
		}
		// Site reports: the site's authorisers and administrators.
		_, err := w.svc.SiteProgress(w.ctx, w.authoriser, w.nursing.ID)
		if err != nil {
			t.Errorf("authoriser reading their site: %v", err)
		}
		_, err = w.svc.SiteProgress(w.ctx, w.admin, w.emergency.ID)
		if err != nil {
			t.Errorf("administrator reading a site: %v", err)
		}
		_, err = w.svc.SiteProgress(w.ctx, w.authoriser, w.emergency.ID)
		wantCode(t, err, errs.Forbidden, "authoriser reading another site")
		_, err = w.svc.SiteProgress(w.ctx, member, w.nursing.ID)
		wantCode(t, err, errs.Forbidden, "member reading their site")
		_, err = w.svc.SiteProgress(w.ctx, w.admin, "no-such-site")
		wantCode(t, err, errs.NotFound, "no such site")
		_, err = w.svc.MemberTraining(w.ctx, w.authoriser, member.UserID)
		if err != nil {
			t.Errorf("authoriser reading their member: %v", err)
		}
		_, err = w.svc.MemberTraining(w.ctx, w.outsider, member.UserID)
		wantCode(t, err, errs.Forbidden, "outsider reading a member")
		_, err = w.svc.MyTraining(w.ctx, nil)
		wantCode(t, err, errs.Unauthenticated, "signed out")
		// A member cannot work through someone else's training: they act on
		// their own only (the principal is them).
		if o := w.mine(w.outsider); o.Assigned != 0 || o.StatusLine != "No training modules are assigned to you." {
			t.Errorf("someone without a membership: %+v", o)
		}
		_, err = w.svc.CompletePage(w.ctx, w.outsider, m.ID, 1)
		wantCode(t, err, errs.Forbidden, "progress by someone the module is not assigned to")
	})
}

type principal struct {
	name string
	p    *authz.Principal
}
