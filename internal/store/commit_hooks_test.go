package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// BeforeCommitLast functions run after every BeforeCommit function, even
// those registered later or added by another hook, and a BeforeCommit
// function a last one adds still runs; an error from one rolls the
// transaction back.
func TestBeforeCommitLastRunsLast(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var order []string
		note := func(s string) func() error { return func() error { order = append(order, s); return nil } }
		err := db.InTx(ctx, func(tx *store.Tx) error {
			tx.BeforeCommitLast(func() error {
				tx.BeforeCommit(note("added by last"))
				return note("last")()
			})
			tx.BeforeCommit(func() error {
				tx.BeforeCommit(note("added"))
				return note("first")()
			})
			tx.BeforeCommit(note("second"))
			_, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('hooks', '1')`)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(order, " "); got != "first second added last added by last" {
			t.Fatalf("hooks ran in the order %q", got)
		}

		boom := errors.New("boom")
		err = db.InTx(ctx, func(tx *store.Tx) error {
			tx.BeforeCommitLast(func() error { return boom })
			_, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('hooks2', '1')`)
			return err
		})
		var n int
		if qerr := db.QueryRow(ctx, `SELECT COUNT(*) FROM settings WHERE key = 'hooks2'`).Scan(&n); qerr != nil {
			t.Fatal(qerr)
		}
		if !errors.Is(err, boom) || n != 0 {
			t.Fatalf("InTx = %v and %d rows after a failing last hook, want boom and none", err, n)
		}
	})
}
