package demo_test

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/demo"
	"github.com/caregate/caregate/internal/store"
)

// demoApp is the whole application in demo mode on a fresh database of the
// engine, closed when the test ends; nothing is loaded yet.
func demoApp(t *testing.T, o store.Options) *app.App {
	t.Helper()
	a, err := app.New(context.Background(), app.Config{DataDir: o.DataDir, DatabaseURL: o.URL, Addr: "127.0.0.1:0", Demo: true},
		app.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), DemoAccounts: demo.Accounts()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// loadTrained loads the demo region as far as its training — the
// organisations and accounts, the access requests (so the record accounts)
// and the training with its progress — as serve --demo does.
func loadTrained(t *testing.T, a *app.App) {
	t.Helper()
	ctx := context.Background()
	if err := demo.Load(ctx, a.DB, a.Users, a.Orgs); err != nil {
		t.Fatal(err)
	}
	if err := demo.LoadRequests(ctx, a.DB, a.Users, a.Orgs, a.Access); err != nil {
		t.Fatal(err)
	}
	if err := demo.LoadTraining(ctx, a.DB, a.Training); err != nil {
		t.Fatal(err)
	}
}
