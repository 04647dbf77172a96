package web_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/store"
)

// follow posts a form, expects a redirect and returns where it goes.
func (b *browser) postRedirect(path string, form url.Values) string {
	b.e.t.Helper()
	p := b.post(path, form)
	if p.status != http.StatusSeeOther {
		b.e.t.Fatalf("POST %s: status %d, want 303: %s %s", path, p.status, p.text("#error-summary"), p.text("main p"))
	}
	return p.location()
}

// publishModule creates, assigns to everyone and publishes a module through
// the administrators' pages, returning its id.
func (b *browser) publishModule(title, pages, questions, passMark string) string {
	b.e.t.Helper()
	loc := b.postRedirect("/admin/training", url.Values{"title": {title}, "summary": {"About " + title},
		"pages": {pages}, "questions": {questions}, "pass_mark": {passMark}, "mandatory": {"yes"}, "blocks_existing": {"no"},
		"validity_months": {"0"}, "position": {"0"}})
	id := strings.TrimPrefix(loc, "/admin/training/")
	if id == loc || id == "" {
		b.e.t.Fatalf("module created at %q", loc)
	}
	b.postRedirect("/admin/training/"+id+"/rules", url.Values{"organisation_id": {""}, "job_category": {""}, "record_role": {""}})
	b.postRedirect("/admin/training/"+id+"/publish", nil)
	return id
}

func TestTrainingJourney(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		r := e.region()
		// A new starter at site 2, whose authorisers validate requests: the
		// request the gate raises goes straight to the back office.
		starter := e.user("starter@nhs.net")
		if err := e.app.DB.InTx(ctx, func(tx *store.Tx) error {
			return e.app.Orgs.AddMemberTx(ctx, tx, audit.System, "m-starter", r.site2.ID, starter.ID, "Staff Nurse", "Nursing and midwifery")
		}); err != nil {
			t.Fatal(err)
		}
		admin := e.signedIn(e.admin.Email)

		// The administrator creates and publishes two modules; bad content is
		// refused with a clear message and nothing is created.
		bad := admin.post("/admin/training", url.Values{"title": {""}, "pages": {"Only a title"}, "questions": {"Q?\nonly one answer"}, "pass_mark": {"x"}})
		if bad.status != http.StatusBadRequest || !bad.has("#error-summary") {
			t.Fatalf("bad module: status %d", bad.status)
		}
		intro := admin.publishModule("Introduction", "Welcome\nThe **record** joins up care.\n---page---\n# Your duties\nLook only when you care for the patient.<script>alert(1)</script>", "", "0")
		ig := admin.publishModule("Confidentiality",
			"Confidentiality\nKeep it private.\n---page---\nSharing\nShare for direct care.",
			"May you look at a colleague's record out of concern?\nYes\n* No\n\nWho may you share the record with?\n* People caring for the patient\nAnyone who asks", "100")
		list := admin.get("/admin/training")
		if list.status != http.StatusOK || list.doc.Find("#training-modules tbody tr").Length() != 2 {
			t.Fatalf("module list: status %d, %d rows", list.status, list.doc.Find("#training-modules tbody tr").Length())
		}
		if p := admin.get("/admin/training/" + ig + "/preview"); p.status != http.StatusOK || p.doc.Find("#questions > li").Length() != 2 {
			t.Fatalf("preview: %d", p.status)
		}
		// A draft module assigned to everyone is not shown to members.
		draftLoc := admin.postRedirect("/admin/training", url.Values{"title": {"Coming soon"}, "summary": {"Later"}, "pages": {"One\nText"}, "pass_mark": {"0"}})
		draft := strings.TrimPrefix(draftLoc, "/admin/training/")
		admin.postRedirect("/admin/training/"+draft+"/rules", url.Values{})

		m := e.signedIn("starter@nhs.net")
		home := m.get("/training")
		if home.status != http.StatusOK || !strings.Contains(home.body, "Assigned modules") {
			t.Fatalf("training page: %d", home.status)
		}
		if n := home.doc.Find("#modules [data-module]").Length(); n != 2 {
			t.Fatalf("%d modules assigned, want 2", n)
		}
		if !strings.Contains(home.text("#status-line"), "outstanding") {
			t.Errorf("status line %q", home.text("#status-line"))
		}
		percent := func(p *page, id string) string {
			return strings.TrimSpace(p.doc.Find(`[data-module="` + id + `"] .cg-percent`).Text())
		}
		if percent(home, intro) != "0%" {
			t.Errorf("intro at %q before starting", percent(home, intro))
		}

		// Bad input: a page out of range, an unpublished module, a made-up one,
		// a page skipped.
		if p := m.get("/training/modules/" + intro + "/pages/3"); p.status != http.StatusBadRequest || !strings.Contains(p.body, "There is no page 3") {
			t.Errorf("page 3 of 2: %d", p.status)
		}
		if p := m.get("/training/modules/" + intro + "/pages/zero"); p.status != http.StatusBadRequest {
			t.Errorf("page zero: %d", p.status)
		}
		if p := m.get("/training/modules/" + draft); p.status < 400 || p.status >= 500 {
			t.Errorf("draft module: %d", p.status)
		}
		if p := m.get("/training/modules/no-such-module"); p.status != http.StatusNotFound {
			t.Errorf("made-up module: %d", p.status)
		}
		if p := m.post("/training/modules/"+intro+"/pages/2/complete", nil); p.status != http.StatusConflict {
			t.Errorf("skipping page 1: %d", p.status)
		}
		// The page shows safe HTML: the script is neutralised. Page 2 can be
		// read, but not marked complete before page 1.
		pg := m.get("/training/modules/" + intro + "/pages/2")
		if pg.status != http.StatusOK || pg.has("#page-content script") || pg.has("#complete") {
			t.Errorf("page 2: %d, script %v", pg.status, pg.has("#page-content script"))
		}
		pg = m.get("/training/modules/" + intro + "/pages/1")
		if !pg.has("#page-content strong") || pg.text("#complete") != "Mark as complete and continue" {
			t.Errorf("page 1 content: %s", pg.text("#page-content"))
		}

		// Page by page.
		if loc := m.postRedirect("/training/modules/"+intro+"/pages/1/complete", nil); loc != "/training/modules/"+intro+"/pages/2" {
			t.Errorf("after page 1: %q", loc)
		}
		if p := m.get("/training"); percent(p, intro) != "50%" {
			t.Errorf("intro at %q after one page of two", percent(p, intro))
		}
		// The home page shows the same: assigned modules, progress, status.
		homePage := m.get("/")
		if !strings.Contains(homePage.text("#home-status-line"), "outstanding") ||
			!strings.Contains(homePage.text("#home-modules tbody"), "50%") {
			t.Errorf("home page training: %q / %q", homePage.text("#home-status-line"), homePage.text("#home-modules tbody"))
		}
		if loc := m.postRedirect("/training/modules/"+intro+"/pages/2/complete", nil); loc != "/training/modules/"+intro {
			t.Errorf("after page 2: %q", loc)
		}
		mod := m.get("/training/modules/" + intro)
		if mod.text("#module-percent") != "100%" || !mod.has("#retake") {
			t.Errorf("intro module page: %q", mod.text("#module-percent"))
		}

		// The knowledge check waits for the pages.
		if p := m.get("/training/modules/" + ig + "/check"); !p.has("#not-ready") {
			t.Errorf("check before pages: %d", p.status)
		}
		m.postRedirect("/training/modules/"+ig+"/pages/1/complete", nil)
		if loc := m.postRedirect("/training/modules/"+ig+"/pages/2/complete", nil); loc != "/training/modules/"+ig+"/check" {
			t.Errorf("after the last page: %q", loc)
		}
		check := m.get("/training/modules/" + ig + "/check")
		var qids []string
		check.doc.Find("#check fieldset input[type=radio]").Each(func(_ int, s *goquery.Selection) {
			if n := s.AttrOr("name", ""); len(qids) == 0 || qids[len(qids)-1] != n {
				qids = append(qids, n)
			}
		})
		if len(qids) != 2 {
			t.Fatalf("check questions: %v", qids)
		}
		// The right answers, from the administrator's preview.
		ap, err := authz.Load(ctx, e.app.DB, e.admin)
		if err != nil {
			t.Fatal(err)
		}
		v, err := e.app.Training.Preview(ctx, ap, ig, 0)
		if err != nil {
			t.Fatal(err)
		}
		right, wrong := url.Values{}, url.Values{}
		for _, q := range v.Questions {
			right.Set("q-"+q.ID, strconv.Itoa(q.Correct))
			wrong.Set("q-"+q.ID, strconv.Itoa(1-q.Correct))
		}
		// Unanswered, made-up question, bad option: refused, nothing recorded.
		if p := m.post("/training/modules/"+ig+"/check", url.Values{qids[0]: {"0"}}); p.status != http.StatusBadRequest || !p.has("#error-summary") {
			t.Errorf("one answer missing: %d", p.status)
		}
		made := url.Values{}
		for k, vs := range right {
			made[k] = vs
		}
		made.Set("q-no-such-question", "0")
		if p := m.post("/training/modules/"+ig+"/check", made); p.status != http.StatusBadRequest {
			t.Errorf("made-up question: %d", p.status)
		}
		badOpt := url.Values{}
		for k := range right {
			badOpt.Set(k, "7")
		}
		if p := m.post("/training/modules/"+ig+"/check", badOpt); p.status != http.StatusBadRequest {
			t.Errorf("no such option: %d", p.status)
		}
		// A fail, then a pass.
		fail := m.post("/training/modules/"+ig+"/check", wrong)
		if fail.status != http.StatusOK || fail.text("#score") != "0%" {
			t.Fatalf("failed check: %d %q", fail.status, fail.text("#score"))
		}
		// The page counts the try just made, as a fresh read of it would.
		if intro := fail.text("main h1 ~ p"); !strings.Contains(intro, "You have tried 1 time; your last score was 0%.") {
			t.Errorf("after a failed try the check page says %q", intro)
		}
		if again := m.get("/training/modules/" + ig + "/check"); again.text("main h1 ~ p") != fail.text("main h1 ~ p") {
			t.Errorf("the check page after a try says %q; read again, %q", fail.text("main h1 ~ p"), again.text("main h1 ~ p"))
		}
		if p := m.get("/training"); percent(p, ig) == "100%" {
			t.Errorf("module complete after a failed check")
		}
		if loc := m.postRedirect("/training/modules/"+ig+"/check", right); loc != "/training" {
			t.Errorf("after passing: %q", loc)
		}
		done := m.get("/training")
		if !strings.Contains(done.text("#flash"), "passed") || percent(done, ig) != "100%" || percent(done, intro) != "100%" {
			t.Errorf("after passing: flash %q, %s %s", done.text("#flash"), percent(done, ig), percent(done, intro))
		}
		if !strings.Contains(done.text("#status-line"), "All modules complete") {
			t.Errorf("status line %q", done.text("#status-line"))
		}
		ref := done.text("#request-ref")
		if ref == "" {
			t.Fatalf("no request reference on the training page: %s", done.text("#training-status"))
		}
		// The back office sees the request the gate raised.
		bo := e.signedIn(r.people[authz.BackOffice].Email)
		if refs := bo.get("/requests").refs(); !slices.Contains(refs, ref) {
			t.Errorf("back office requests %v, want %s", refs, ref)
		}

		// A retake keeps the completion.
		if loc := m.postRedirect("/training/modules/"+intro+"/retake", nil); loc != "/training/modules/"+intro+"/pages/1" {
			t.Errorf("retake: %q", loc)
		}
		m.postRedirect("/training/modules/"+intro+"/pages/1/complete", nil)
		after := m.get("/training")
		if percent(after, intro) != "100%" || !strings.Contains(after.text("#status-line"), "All modules complete") || after.text("#request-ref") != ref {
			t.Errorf("during a retake: %s, %q", percent(after, intro), after.text("#status-line"))
		}
		if p := m.post("/training/modules/"+draft+"/retake", nil); p.status < 400 || p.status >= 500 {
			t.Errorf("retake of a draft: %d", p.status)
		}

		// The site authoriser sees "completed / assigned".
		sa := e.signedIn(r.otherAuthoriser.Email)
		site := sa.get("/sites/" + r.site2.ID)
		if got := strings.TrimSpace(site.doc.Find("#members td.cg-training-progress").First().Text()); got != "2 / 2" {
			t.Errorf("site page training column %q", got)
		}
		// The report and its CSV.
		rep := admin.get("/admin/training/report")
		if rep.status != http.StatusOK || rep.doc.Find("#report tbody tr").Length() == 0 {
			t.Errorf("report: %d", rep.status)
		}
		csv := admin.get("/admin/training/report.csv")
		if csv.status != http.StatusOK || !strings.HasPrefix(csv.header.Get("Content-Type"), "text/csv") || !strings.Contains(csv.body, "Confidentiality") {
			t.Errorf("csv: %d %s", csv.status, csv.header.Get("Content-Type"))
		}
		if p := m.get("/admin/training/report.csv"); p.status != http.StatusForbidden {
			t.Errorf("member csv: %d", p.status)
		}
	})
}

func TestTrainingAdministration(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		r := e.region()
		admin := e.signedIn(e.admin.Email)
		id := admin.publishModule("Audit", "Audit\nEvery look is logged.", "", "0")
		mod := admin.get("/admin/training/" + id)
		if mod.status != http.StatusOK || mod.text("#current-version") != "1" || mod.doc.Find("#rules tbody tr").Length() != 1 {
			t.Fatalf("module page: %d %q", mod.status, mod.text("#current-version"))
		}
		// The edit form shows the content in the form's format.
		edit := admin.get("/admin/training/" + id + "/edit")
		if got := edit.doc.Find("#pages").Text(); !strings.Contains(got, "Audit\nEvery look is logged.") {
			t.Errorf("edit form pages %q", got)
		}
		// A new draft with raw HTML: the preview warns, members keep version 1.
		admin.postRedirect("/admin/training/"+id+"/content", url.Values{"title": {"Audit and monitoring"}, "summary": {"How looks are checked"},
			"pages": {"Audit\nEvery look is logged.\n---page---\nMonitoring\n<b>raw</b> [bad](javascript:alert(1))"}, "pass_mark": {"0"}})
		pre := admin.get("/admin/training/" + id + "/preview")
		if pre.status != http.StatusOK || !pre.has("#warnings") || pre.has(".cg-training-content a[href^=javascript]") {
			t.Errorf("preview: %d warnings %v", pre.status, pre.has("#warnings"))
		}
		if p := admin.get("/admin/training/" + id + "/preview?version=x"); p.status != http.StatusBadRequest {
			t.Errorf("preview of version x: %d", p.status)
		}
		admin.postRedirect("/admin/training/"+id+"/discard", nil)
		if p := admin.get("/admin/training/" + id); p.text("#draft-version") != "None" {
			t.Errorf("after discarding: %q", p.text("#draft-version"))
		}
		// Settings: a bad validity period is refused with the field marked.
		bad := admin.post("/admin/training/"+id+"/settings", url.Values{"mandatory": {"yes"}, "blocks_existing": {"no"}, "validity_months": {"999"}, "position": {"1"}})
		if bad.status != http.StatusBadRequest || !bad.has("#validity_months-error") {
			t.Errorf("bad settings: %d", bad.status)
		}
		admin.postRedirect("/admin/training/"+id+"/settings", url.Values{"mandatory": {"no"}, "blocks_existing": {"no"}, "validity_months": {"12"}, "position": {"1"}})
		if p := admin.get("/admin/training"); !strings.Contains(p.text("#training-modules tbody tr"), "12 months") {
			t.Errorf("list after settings: %q", p.text("#training-modules tbody tr"))
		}
		// Rules: a rule for the Administrator role, then removed.
		admin.postRedirect("/admin/training/"+id+"/rules", url.Values{"organisation_id": {r.org1.ID}, "record_role": {"administrator"}})
		mod = admin.get("/admin/training/" + id)
		if n := mod.doc.Find("#rules tbody tr").Length(); n != 2 {
			t.Fatalf("%d rules, want 2", n)
		}
		action, _ := mod.doc.Find("#rules tbody tr form").Last().Attr("action")
		admin.postRedirect(action, nil)
		if n := admin.get("/admin/training/" + id).doc.Find("#rules tbody tr").Length(); n != 1 {
			t.Errorf("%d rules after removing one, want 1", n)
		}
		// Retiring.
		admin.postRedirect("/admin/training/"+id+"/retire", nil)
		if p := admin.get("/admin/training/" + id); p.text("#module-status") != "Retired" {
			t.Errorf("status after retiring %q", p.text("#module-status"))
		}
		// Others are refused.
		for _, role := range []string{authz.Member, authz.SiteAuthoriser, authz.BackOffice} {
			b := e.signedIn(r.people[role].Email)
			if p := b.get("/admin/training/" + id); p.status != http.StatusForbidden {
				t.Errorf("%s sees the module editor: %d", role, p.status)
			}
			if p := b.post("/admin/training", url.Values{"title": {"X"}, "pages": {"X\nY"}}); p.status != http.StatusForbidden {
				t.Errorf("%s creates a module: %d", role, p.status)
			}
		}
	})
}

func TestHomePageShowsAssignedModules(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		b := e.browser()
		b.signIn("admin@nhs.net")
		p := b.get("/")
		if p.status != http.StatusOK {
			t.Fatalf("home: %d", p.status)
		}
		// The administrator has no membership, so no modules: no section.
		if p.has("#home-modules") {
			t.Error("assigned modules shown to someone with nothing assigned")
		}
	})
}
