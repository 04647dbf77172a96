package browsertest

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/demo"
)

const navTraining = `.nhsuk-header__navigation-link[href="/training"]`

// TestTrainingJourney runs the training journey on a server of its own on
// every engine, beside the other journeys.
func TestTrainingJourney(t *testing.T) {
	needBrowser(t)
	for _, e := range engines() {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			srv := startServer(t, e)
			a := srv.App
			ctx := context.Background()
			if err := demo.LoadRequests(ctx, a.DB, a.Users, a.Orgs, a.Access); err != nil {
				t.Fatalf("demo.LoadRequests on %s: %v", e.name, err)
			}
			if err := demo.LoadTraining(ctx, a.DB, a.Training); err != nil {
				t.Fatalf("demo.LoadTraining on %s: %v", e.name, err)
			}
			trainingJourney(t, srv)
		})
	}
}

// trainingJourney: Lucy, a demo member (reset to no training at all), works
// through every page and knowledge check of all eight modules in the
// portal, answering correctly; finishing the last module raises her new-user
// access request, which her training page shows and the back office finds
// in its queue.
func trainingJourney(t *testing.T, srv *server) {
	ctx := context.Background()
	a := srv.App
	u, err := a.Users.UserByEmail(ctx, "priya.shah@nhs.net")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := authz.Load(ctx, a.DB, u)
	if err != nil {
		t.Fatal(err)
	}
	// The right answer of every question, by question id.
	correct := func(moduleID string) map[string]int {
		v, err := a.Training.Preview(ctx, admin, moduleID, 0)
		if err != nil {
			t.Fatalf("preview of %s: %v", moduleID, err)
		}
		out := map[string]int{}
		for _, q := range v.Questions {
			out[q.ID] = q.Correct
		}
		return out
	}

	// The demo leaves Lucy part-way through, to show a member in progress;
	// this journey starts her from nothing so that it takes her through
	// all eight modules.
	lucyUser, err := a.Users.UserByEmail(ctx, "lucy.brown@westshire.gov.uk")
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DELETE FROM training_completions WHERE user_id = ?`, `DELETE FROM training_attempts WHERE user_id = ?`} {
		if _, err := a.DB.Exec(ctx, q, lucyUser.ID); err != nil {
			t.Fatal(err)
		}
	}

	lucy := openTab(t, srv, "member")
	lucy.signIn("lucy.brown@westshire.gov.uk")
	lucy.wantStatus(lucy.follow(navTraining), http.StatusOK)
	lucy.wantPath("/training")
	if h := lucy.text("main h2"); h != "Assigned modules" {
		lucy.errorf("the training page's first heading is %q", h)
	}
	if n := lucy.count("#modules [data-module]"); n != 8 {
		lucy.fatalf("%d modules assigned to Lucy, want 8", n)
	}
	if s := lucy.text("#status-line"); !strings.Contains(s, "outstanding") {
		lucy.errorf("status line %q", s)
	}
	type mod struct{ ID, Percent string }
	mods := eval[[]mod](lucy, `Array.from(document.querySelectorAll('#modules [data-module]'), m => ({ID: m.dataset.module, Percent: m.querySelector('.cg-percent').textContent.trim()}))`)
	done := 0
	for _, m := range mods {
		if m.Percent == "100%" {
			done++
		}
	}
	if done != 0 {
		lucy.errorf("%d modules at 100%% before the journey, want 0", done)
	}
	for _, m := range mods {
		if m.Percent == "100%" {
			continue
		}
		lucy.wantStatus(lucy.open("/training/modules/"+m.ID), http.StatusOK)
		// Page by page, from where she left off.
		for lucy.count("#continue") == 1 && !strings.HasSuffix(lucy.attr("#continue", "href"), "/check") {
			lucy.wantStatus(lucy.follow("#continue"), http.StatusOK)
			for lucy.count("#complete") == 1 {
				if lucy.count("#page-content") != 1 {
					lucy.fatalf("a page without content")
				}
				lucy.wantStatus(lucy.follow("#complete"), http.StatusOK)
			}
			if !strings.HasSuffix(lucy.path(), "/check") {
				lucy.wantStatus(lucy.open("/training/modules/"+m.ID), http.StatusOK)
			}
		}
		if strings.HasSuffix(lucy.path(), "/training/modules/"+m.ID) && lucy.count("#continue") == 1 {
			lucy.wantStatus(lucy.follow("#continue"), http.StatusOK)
		}
		if strings.HasSuffix(lucy.path(), "/check") {
			for qid, right := range correct(m.ID) {
				sel := "#q-" + qid
				if right > 0 {
					sel += "-" + strconv.Itoa(right)
				}
				lucy.click(sel)
			}
			lucy.wantStatus(lucy.follow("#submit-check"), http.StatusOK)
		}
		if p := lucy.path(); p != "/training" && p != "/training/modules/"+m.ID {
			lucy.fatalf("after finishing module %s the browser is on %s", m.ID, lucy.where())
		}
	}
	lucy.wantPath("/training")
	if f := lucy.flash(); !strings.Contains(f, "passed") {
		lucy.errorf("flash after the last module %q", f)
	}
	if s := lucy.text("#status-line"); !strings.Contains(s, "All modules complete") {
		lucy.errorf("status line after the journey %q", s)
	}
	if ps := eval[[]string](lucy, `Array.from(document.querySelectorAll('#modules .cg-percent'), p => p.textContent.trim())`); slices.ContainsFunc(ps, func(p string) bool { return p != "100%" }) {
		lucy.errorf("progress after the journey %q", ps)
	}
	ref := lucy.text("#request-ref")
	if ref == "" {
		lucy.fatalf("no request reference on the training page: %q", lucy.text("#training-status"))
	}

	// The back office finds the request.
	tom := openTab(t, srv, "back office")
	tom.signIn("tom.baker@nhs.net")
	tom.wantStatus(tom.follow(navRequests), http.StatusOK)
	if refs := eval[[]string](tom, `Array.from(document.querySelectorAll('#requests tbody tr'), r => r.dataset.ref)`); !slices.Contains(refs, ref) {
		tom.errorf("the back office queue %q does not list %s", refs, ref)
	}

	// The programme administrator's pages: the list, a module, its preview
	// and editor, the new-module form with errors, and the report.
	priya := openTab(t, srv, "admin")
	priya.signIn("priya.shah@nhs.net")
	priya.wantStatus(priya.open("/admin/training"), http.StatusOK)
	if n := priya.count("#training-modules tbody tr"); n != 8 {
		priya.errorf("%d modules listed, want 8", n)
	}
	priya.wantStatus(priya.follow("#training-modules tbody tr a"), http.StatusOK)
	module := priya.path()
	priya.wantStatus(priya.follow("#preview"), http.StatusOK)
	priya.wantStatus(priya.open(module+"/edit"), http.StatusOK)
	priya.wantStatus(priya.open("/admin/training/new"), http.StatusOK)
	priya.wantStatus(priya.follow("#save"), http.StatusBadRequest)
	priya.wantErrorSummary("title", "summary")
	priya.wantStatus(priya.open("/admin/training/report"), http.StatusOK)
	if priya.count("#report tbody tr") == 0 {
		priya.errorf("the completion report is empty")
	}
}
