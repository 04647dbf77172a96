package demo_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/demo"
	"github.com/caregate/caregate/internal/errs"
	"github.com/caregate/caregate/internal/record"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
	"github.com/caregate/caregate/internal/web"
)

func TestDemoRegionHasRequestsInEveryStateAndLoadsOnce(t *testing.T) {
	storetest.EachOptions(t, func(t *testing.T, o store.Options) {
		ctx := context.Background()
		a := demoApp(t, o)
		for range 2 { // the second run changes nothing
			if err := demo.Load(ctx, a.DB, a.Users, a.Orgs); err != nil {
				t.Fatal(err)
			}
			if err := demo.LoadRequests(ctx, a.DB, a.Users, a.Orgs, a.Access); err != nil {
				t.Fatal(err)
			}
		}
		rows, err := a.DB.Query(ctx, `SELECT state, COUNT(*) FROM access_requests GROUP BY state`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[string]int{}
		for rows.Next() {
			var s string
			var n int
			if err := rows.Scan(&s, &n); err != nil {
				t.Fatal(err)
			}
			got[s] = n
		}
		for _, s := range access.States {
			want := 1
			if s == access.StateCompleted {
				want = 2 // Amir Khan (Care Professional) and Ruth Ellis (Administrator)
			}
			if got[s] != want {
				t.Errorf("%d demo requests %s, want %d", got[s], s, want)
			}
		}
		for _, acc := range demo.Accounts() {
			if _, err := a.Users.UserByEmail(ctx, acc.Email); err != nil {
				t.Errorf("demo account %s: %v", acc.Email, err)
			}
		}
		if _, err := audit.Verify(ctx, a.DB); err != nil {
			t.Fatal(err)
		}
	})
}

// The demo has an account with the Administrator record role, trained and
// active, so that an evaluator can see the role filter: it opens the
// record, sees demographics and appointments, and is refused the rest.
func TestDemoAdministratorSeesDemographicsAndAppointmentsOnly(t *testing.T) {
	storetest.EachOptions(t, func(t *testing.T, o store.Options) {
		ctx := context.Background()
		a := demoApp(t, o)
		loadTrained(t, a)
		if err := demo.LoadPatients(ctx, a.DB, a.Record, 3, 3, nil); err != nil {
			t.Fatal(err)
		}
		listed := slices.ContainsFunc(demo.Accounts(), func(acc web.DemoAccount) bool {
			return acc.Email == "ruth.ellis@nhs.net" && strings.Contains(acc.Role, "Administrator")
		})
		if !listed {
			t.Fatal("no demo sign-in with the Administrator record role")
		}
		u, err := a.Users.UserByEmail(ctx, "ruth.ellis@nhs.net")
		if err != nil {
			t.Fatal(err)
		}
		if ok, why := a.Training.AccessAllowed(ctx, u.ID); !ok {
			t.Errorf("her training does not allow access: %s", why)
		}
		p, err := authz.Load(ctx, a.DB, u)
		if err != nil {
			t.Fatal(err)
		}
		v, err := a.Record.Gate(ctx, p, record.ViaSearch)
		if err != nil || v.Role != record.RoleAdministrator {
			t.Fatalf("the gate: %+v %v", v, err)
		}
		nhs := demo.PatientNHSNumbers(1)[0]
		view, err := a.Record.Record(ctx, p, record.ViaSearch, nhs, "")
		if err != nil || view.Section != record.Appointments || !slices.Equal(view.Sections, []record.Section{record.Appointments}) {
			t.Fatalf("her view: %+v %v", view, err)
		}
		if _, err := a.Record.Record(ctx, p, record.ViaSearch, nhs, record.Medications); errs.CodeOf(err) != errs.Forbidden {
			t.Errorf("medications: %v, want forbidden", err)
		}
	})
}
