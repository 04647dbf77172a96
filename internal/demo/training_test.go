package demo_test

import (
	"context"
	"testing"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
	"github.com/caregate/caregate/internal/training"
)

// The demo region has eight published modules with rules and progress, the
// same on every load, and a demo member can finish their training to an
// automatically raised access request.
func TestDemoTraining(t *testing.T) {
	storetest.EachOptions(t, func(t *testing.T, o store.Options) {
		ctx := context.Background()
		a := demoApp(t, o)
		for range 2 { // the second run changes nothing
			loadTrained(t, a)
		}
		who := func(email string) *authz.Principal {
			t.Helper()
			u, err := a.Users.UserByEmail(ctx, email)
			if err != nil {
				t.Fatal(err)
			}
			p, err := authz.Load(ctx, a.DB, u)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		admin := who("priya.shah@nhs.net")
		modules, err := a.Training.Modules(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		if len(modules) != 8 {
			t.Fatalf("%d demo modules, want 8", len(modules))
		}
		for _, m := range modules {
			v, err := a.Training.Preview(ctx, admin, m.ID, 0)
			if err != nil {
				t.Fatal(err)
			}
			if m.Status != training.StatusPublished || len(v.Pages) < 2 || len(v.Pages) > 4 || len(v.Questions) < 3 || len(v.Questions) > 5 ||
				v.PassMark != 80 || len(v.Warnings) != 0 {
				t.Errorf("module %q: %s, %d pages, %d questions, pass mark %d, warnings %v", m.Title, m.Status, len(v.Pages), len(v.Questions),
					v.PassMark, v.Warnings)
			}
			if (m.Title == "Information governance and confidentiality") != (m.ValidityMonths == 12) {
				t.Errorf("module %q lapses after %d months", m.Title, m.ValidityMonths)
			}
		}
		rules, err := a.Training.Rules(ctx, admin, "")
		if err != nil {
			t.Fatal(err)
		}
		forAdministrators := 0
		for _, r := range rules {
			if r.RecordRole == "" && r.OrganisationID == "" {
				forAdministrators++
			}
		}
		if len(rules) != 9 || forAdministrators != 5 {
			t.Errorf("%d rules, %d for every role; want 9 and 5", len(rules), forAdministrators)
		}

		amir, err := a.Training.MyTraining(ctx, who("amir.khan@nhs.net"))
		if err != nil {
			t.Fatal(err)
		}
		if amir.Assigned != 8 || amir.Completed != 5 || !amir.AccessAllowed {
			t.Errorf("Amir: %d / %d, access %v", amir.Completed, amir.Assigned, amir.AccessAllowed)
		}
		twoReasons := 0
		for _, m := range amir.Modules {
			if len(m.Reasons) == 2 {
				twoReasons++
			}
		}
		if twoReasons != 1 {
			t.Errorf("%d of Amir's modules give two reasons, want 1", twoReasons)
		}

		// Lucy finishes her training: her request is raised automatically.
		lucy := who("lucy.brown@westshire.gov.uk")
		before, err := a.Training.MyTraining(ctx, lucy)
		if err != nil {
			t.Fatal(err)
		}
		if before.Assigned != 8 || before.Completed != 2 || before.AccessAllowed || before.RequestRef != "" {
			t.Fatalf("Lucy before: %+v", before)
		}
		var gate *training.Gate
		for _, m := range before.Modules {
			if m.Status == training.Completed {
				continue
			}
			for n := max(m.PagesDone+1, 1); n <= m.Pages; n++ {
				pr, err := a.Training.CompletePage(ctx, lucy, m.ModuleID, n)
				if err != nil {
					t.Fatal(err)
				}
				gate = pr.Gate
			}
			v, err := a.Training.Preview(ctx, admin, m.ModuleID, 0)
			if err != nil {
				t.Fatal(err)
			}
			answers := map[string]int{}
			for _, q := range v.Questions {
				answers[q.ID] = q.Correct
			}
			res, err := a.Training.SubmitCheck(ctx, lucy, m.ModuleID, answers)
			if err != nil || !res.Passed {
				t.Fatalf("Lucy's check of %q: %+v %v", m.Title, res, err)
			}
			gate = res.Progress.Gate
		}
		if gate == nil || !gate.Raised {
			t.Fatalf("no request raised for Lucy: %+v", gate)
		}
		r, _, err := a.Access.Get(ctx, lucy, gate.RequestID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Type != access.TypeNewUser || r.State != access.StateValidated || r.JobTitle != "Social Worker" || r.Email != "lucy.brown@westshire.gov.uk" {
			t.Errorf("Lucy's request: %+v", r)
		}
		if _, err := audit.Verify(ctx, a.DB); err != nil {
			t.Fatal(err)
		}
	})
}
