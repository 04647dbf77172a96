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

// Every change that can alter who a signed-in caller is moves the
// auth_generation count (migration 0007), on both engines; changes that
// cannot (a failed sign-in counted, a session seen) leave it, so that the
// callers instances remember are not forgotten for nothing.
func TestAuthGenerationMovesOnEveryChangeOfCaller(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		gen := func() int64 {
			var g int64
			if err := db.QueryRow(ctx, `SELECT gen FROM auth_generation WHERE id = 1`).Scan(&g); err != nil {
				t.Fatal(err)
			}
			return g
		}
		exec := func(q string, args ...any) {
			t.Helper()
			if err := db.InTx(ctx, func(tx *store.Tx) error { _, err := tx.Exec(ctx, q, args...); return err }); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		exec(`INSERT INTO users (id, email, given_name, family_name, created_at, updated_at) VALUES ('u1', 'u1@nhs.net', 'U', 'One', 1, 1)`)
		exec(`INSERT INTO organisations (id, ods_code, name, status, isa_level, routing, allowed_domains, created_at, updated_at)
			VALUES ('o1', 'RX1', 'Trust', 'active', 'read_only', 'site_authoriser', 'nhs.net', 1, 1)`)
		exec(`INSERT INTO sites (id, organisation_id, name, status, created_at, updated_at) VALUES ('s1', 'o1', 'Ward', 'active', 1, 1)`)
		exec(`INSERT INTO sessions (id_hash, user_id, state, created_at, last_seen_at, expires_at) VALUES ('h1', 'u1', 'full', 1, 1, 9)`)
		exec(`INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) VALUES ('t1', 'u1', 'x', 'th1', 1)`)
		for _, c := range []struct {
			q     string
			moves bool
		}{
			{`UPDATE users SET failed_logins = 3, updated_at = 2 WHERE id = 'u1'`, false},
			{`UPDATE sessions SET last_seen_at = 5 WHERE id_hash = 'h1'`, false},
			{`UPDATE api_tokens SET last_used_at = 5 WHERE id = 't1'`, false},
			{`UPDATE users SET email = 'u1b@nhs.net' WHERE id = 'u1'`, true},
			{`UPDATE users SET status = 'deactivated' WHERE id = 'u1'`, true},
			{`INSERT INTO user_roles (user_id, role) VALUES ('u1', 'admin')`, true},
			{`DELETE FROM user_roles WHERE user_id = 'u1'`, true},
			{`INSERT INTO site_authorisers (site_id, user_id, created_at) VALUES ('s1', 'u1', 1)`, true},
			{`DELETE FROM site_authorisers WHERE user_id = 'u1'`, true},
			{`INSERT INTO service_desk_staff (organisation_id, user_id, created_at) VALUES ('o1', 'u1', 1)`, true},
			{`DELETE FROM service_desk_staff WHERE user_id = 'u1'`, true},
			{`INSERT INTO memberships (id, site_id, user_id, status, joined_at) VALUES ('m1', 's1', 'u1', 'active', 1)`, true},
			{`UPDATE memberships SET job_title = 'Nurse' WHERE id = 'm1'`, false},
			{`UPDATE memberships SET status = 'deactivated' WHERE id = 'm1'`, true},
			{`UPDATE api_tokens SET revoked_at = 7 WHERE id = 't1'`, true},
			{`UPDATE sessions SET state = 'mfa' WHERE id_hash = 'h1'`, true},
			{`DELETE FROM sessions WHERE id_hash = 'h1'`, true},
		} {
			before := gen()
			exec(c.q)
			if moved := gen() != before; moved != c.moves {
				t.Errorf("%s: count moved %v, want %v", c.q, moved, c.moves)
			}
		}
	})
}
