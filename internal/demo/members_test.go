package demo_test

import (
	"context"
	"testing"

	"github.com/caregate/caregate/internal/authz"
	"github.com/caregate/caregate/internal/demo"
	"github.com/caregate/caregate/internal/member"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// The demo authorisers have pending invitations and a deactivated member to
// reactivate, loaded once.
func TestDemoMembers(t *testing.T) {
	storetest.EachOptions(t, func(t *testing.T, o store.Options) {
		ctx := context.Background()
		a := demoApp(t, o)
		for range 2 { // the second run changes nothing
			loadTrained(t, a)
			if err := demo.LoadMembers(ctx, a.DB, a.Members); err != nil {
				t.Fatal(err)
			}
		}
		u, err := a.Users.UserByEmail(ctx, "sarah.jones@nhs.net")
		if err != nil {
			t.Fatal(err)
		}
		sarah, err := authz.Load(ctx, a.DB, u)
		if err != nil {
			t.Fatal(err)
		}
		var nursing string
		for _, id := range sarah.AuthoriserOf {
			if s, _ := a.Orgs.Site(ctx, sarah, id); s.Name == "District Nursing North" {
				nursing = id
			}
		}
		pl, err := a.Members.Open(ctx, sarah, nursing)
		if err != nil {
			t.Fatal(err)
		}
		pending, err := a.Members.Invitations(ctx, pl, false)
		if err != nil || len(pending) != 2 {
			t.Fatalf("%d pending invitations at District Nursing North: %v", len(pending), err)
		}
		history, err := a.Members.History(ctx, pl)
		if err != nil {
			t.Fatal(err)
		}
		deactivated := 0
		for _, m := range history {
			if m.Status == member.MembershipDeactivated && m.Email == "emma.clarke@nhs.net" && m.StatusReason == "maternity_leave" {
				deactivated++
			}
		}
		if deactivated != 1 {
			t.Fatalf("Emma Clarke is not the deactivated member of the history: %+v", history)
		}
	})
}
