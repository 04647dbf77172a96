package demo_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/caregate/caregate/internal/access"
	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/demo"
	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

func TestDemoRegionHasRequestsInEveryStateAndLoadsOnce(t *testing.T) {
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
			if got[s] != 1 {
				t.Errorf("%d demo requests %s, want 1", got[s], s)
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
