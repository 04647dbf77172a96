package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

func TestMigrateIsIdempotentAndVersioned(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		n, err := db.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("second migrate applied %d migrations, want 0", n)
		}
		ms, _ := store.Migrations(db.Dialect)
		v, err := db.SchemaVersion(ctx)
		if err != nil || v != len(ms) {
			t.Fatalf("schema version %d (%v), want %d", v, err, len(ms))
		}
	})
}

func TestRefusesNewerDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`, 9999, "future", 0); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Migrate(ctx); err == nil {
			t.Fatal("migrate accepted a database newer than the binary")
		}
	})
}

func TestUniqueViolationIsRecognised(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ins := `INSERT INTO settings (key, value) VALUES (?, ?)`
		if _, err := db.Exec(ctx, ins, "k", "v"); err != nil {
			t.Fatal(err)
		}
		_, err := db.Exec(ctx, ins, "k", "w")
		if !store.IsUniqueViolation(err) {
			t.Fatalf("IsUniqueViolation(%v) = false", err)
		}
	})
}

func TestRebind(t *testing.T) {
	db := &store.DB{Dialect: store.Postgres}
	if got := db.Rebind(`SELECT a FROM t WHERE b = ? AND c = ?`); got != `SELECT a FROM t WHERE b = $1 AND c = $2` {
		t.Fatalf("Rebind = %q", got)
	}
}

// Statements prepared with PrepareHot serve transaction after transaction,
// including after one that rolled back, and see each transaction's own
// writes; a statement never prepared runs as an ordinary one.
func TestHotStatementsAcrossTransactions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ins := `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`
		count := `SELECT COUNT(*) FROM schema_migrations WHERE version >= ?`
		if err := db.PrepareHot(ctx, ins, count); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			err := db.InTx(ctx, func(tx *store.Tx) error {
				if _, err := tx.ExecHot(ctx, ins, 1000+i, "hot", 0); err != nil {
					return err
				}
				var n int
				if err := tx.QueryRowHot(ctx, count, 1000).Scan(&n); err != nil {
					return err
				}
				if want := min(i, 2) + 1; n != want {
					t.Errorf("transaction %d sees %d rows, want %d", i, n, want)
				}
				if i >= 2 {
					return errors.New("roll back")
				}
				return nil
			})
			if (err != nil) != (i >= 2) {
				t.Fatalf("transaction %d: %v", i, err)
			}
		}
		err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.ExecHot(ctx, `DELETE FROM schema_migrations WHERE version >= ?`, 1000)
			return err
		})
		if err != nil {
			t.Fatal("an unprepared statement through ExecHot:", err)
		}
	})
}
