package demo_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/caregate/caregate/internal/app"
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
		a, err := app.New(ctx, app.Config{DataDir: o.DataDir, DatabaseURL: o.URL, Addr: "127.0.0.1:0", Demo: true},
			app.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), DemoAccounts: demo.Accounts()})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		for range 2 { // the second run changes nothing
			if err := demo.Load(ctx, a.DB, a.Users, a.Orgs); err != nil {
				t.Fatal(err)
			}
			if err := demo.LoadRequests(ctx, a.DB, a.Users, a.Orgs, a.Access); err != nil {
				t.Fatal(err)
			}
			if err := demo.LoadTraining(ctx, a.DB, a.Training); err != nil {
				t.Fatal(err)
			}
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
		pending, err := a.Members.Invitations(ctx, sarah, nursing, false)
		if err != nil || len(pending) != 2 {
			t.Fatalf("%d pending invitations at District Nursing North: %v", len(pending), err)
		}
		history, err := a.Members.History(ctx, sarah, nursing)
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
