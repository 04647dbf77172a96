package demo_test

import (
	"context"
	"testing"

	"github.com/caregate/caregate/internal/auth"
	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/demo"
	"github.com/caregate/caregate/internal/onboarding"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// TestDemoApplications: the demo region has a submitted application that
// misses a prerequisite, a rejected one and an approved one waiting to go
// live, each once however often the demo is loaded.
func TestDemoApplications(t *testing.T) {
	storetest.EachOptions(t, func(t *testing.T, o store.Options) {
		ctx := context.Background()
		a := demoApp(t, o)
		for range 2 {
			if err := demo.Load(ctx, a.DB, a.Users, a.Orgs); err != nil {
				t.Fatal(err)
			}
		}
		u, err := a.Users.UserByEmail(ctx, "priya.shah@nhs.net")
		if err != nil || !u.HasRole(auth.RoleAdmin) {
			t.Fatalf("demo administrator: %v", err)
		}
		p, err := authz.Load(ctx, a.DB, u)
		if err != nil {
			t.Fatal(err)
		}
		apps, err := a.Onboarding.Applications(ctx, p, "")
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]*onboarding.Application{}
		for _, x := range apps {
			if got[x.State] != nil {
				t.Errorf("two demo applications %s", x.State)
			}
			got[x.State] = x
		}
		if len(apps) != 3 || got[onboarding.StateSubmitted] == nil || got[onboarding.StateRejected] == nil || got[onboarding.StateApproved] == nil {
			t.Fatalf("demo applications by state: %v", got)
		}
		if got[onboarding.StateSubmitted].MeetsPrerequisites() || !got[onboarding.StateApproved].MeetsPrerequisites() {
			t.Error("the submitted demo application should be flagged and the approved one not")
		}
		if got[onboarding.StateApproved].MeetingDate == "" || got[onboarding.StateRejected].Minutes == "" {
			t.Error("demo decisions without meeting date or minutes")
		}
	})
}
