package store_test

import (
	"context"
	"testing"

	"github.com/caregate/caregate/internal/store"
	"github.com/caregate/caregate/internal/store/storetest"
)

// insertAccount stores a person with an active record account and an active
// membership of a site, as the schema of every version since 0005 allows.
func insertAccount(t *testing.T, ctx context.Context, db *store.DB, id string) {
	t.Helper()
	stmts := []struct {
		q    string
		args []any
	}{
		{`INSERT INTO organisations (id, ods_code, name, status, isa_level, routing, allowed_domains, created_at, updated_at)
			VALUES (?, ?, 'Organisation', 'active', 'read_only', 'site_authoriser', 'nhs.net', 1, 1)`, []any{"o" + id, "ODS" + id}},
		{`INSERT INTO users (id, email, given_name, family_name, created_at, updated_at) VALUES (?, ?, 'Ann', 'Able', 1, 1)`,
			[]any{"u" + id, id + "@nhs.net"}},
		{`INSERT INTO record_accounts (id, user_id, organisation_id, username, role, status, finishing_date, activated_at, idle_from, created_at, updated_at)
			VALUES (?, ?, ?, ?, 'care_professional', 'active', '2027-01-25', 5, 5, 1, 1)`, []any{"r" + id, "u" + id, "o" + id, "user" + id}},
		{`INSERT INTO sites (id, organisation_id, name, status, created_at, updated_at) VALUES (?, ?, 'Ward', 'active', 1, 1)`, []any{"s" + id, "o" + id}},
		{`INSERT INTO memberships (id, site_id, user_id, status, joined_at, finishing_date, updated_at) VALUES (?, ?, ?, 'active', 1, '2027-01-25', 1)`,
			[]any{"m" + id, "s" + id, "u" + id}},
	}
	for _, s := range stmts {
		if _, err := db.Exec(ctx, s.q, s.args...); err != nil {
			t.Fatal(err)
		}
	}
}

// Migration 0011 changes storage settings and indexes only: the accounts and
// memberships stored before it are all there after it, unchanged; a person
// still has one open membership of a site at most; and (on PostgreSQL)
// record_accounts, memberships and invitations have room for updates in
// their pages.
func TestSweepHotUpdatesMigrationKeepsData(t *testing.T) {
	storetest.EachOptions(t, func(t *testing.T, o store.Options) {
		ctx := context.Background()
		db, err := store.Open(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		ms, err := store.Migrations(db.Dialect)
		if err != nil {
			t.Fatal(err)
		}
		// The database as the previous version left it: migrations 1–10.
		if _, err := db.Exec(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		for _, m := range ms[:10] {
			err := db.InTx(ctx, func(tx *store.Tx) error {
				if _, err := tx.Exec(ctx, m.SQL); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)`, m.Version, m.Name)
				return err
			})
			if err != nil {
				t.Fatalf("migration %d: %v", m.Version, err)
			}
		}
		for _, id := range []string{"1", "2", "3"} {
			insertAccount(t, ctx, db, id)
		}
		if _, err := db.Exec(ctx, `UPDATE record_accounts SET inactivity_warned_at = 7, finish_reminded_for = '2027-01-25' WHERE id = 'r2'`); err != nil {
			t.Fatal(err)
		}
		if n, err := db.Migrate(ctx); err != nil || n != len(ms)-10 {
			t.Fatalf("migrate: applied %d, %v; want %d", n, err, len(ms)-10)
		}
		var n, warned int
		var reminded string
		if err := db.QueryRow(ctx, `SELECT COUNT(*), SUM(inactivity_warned_at), MAX(finish_reminded_for) FROM record_accounts
			WHERE status = 'active' AND idle_from = 5`).Scan(&n, &warned, &reminded); err != nil {
			t.Fatal(err)
		}
		if n != 3 || warned != 7 || reminded != "2027-01-25" {
			t.Fatalf("after migration: %d accounts, warned %d, reminded %q; want 3, 7, 2027-01-25", n, warned, reminded)
		}
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM memberships WHERE status = 'active' AND finishing_date = '2027-01-25'`).Scan(&n); err != nil || n != 3 {
			t.Fatalf("after migration: %d memberships (%v), want 3", n, err)
		}
		second := `INSERT INTO memberships (id, site_id, user_id, status, joined_at, updated_at) VALUES (?, 's1', 'u1', 'active', 2, 2)`
		if _, err := db.Exec(ctx, second, "m1b"); !store.IsUniqueViolation(err) {
			t.Fatalf("a second open membership of a site: %v, want a unique violation", err)
		}
		if _, err := db.Exec(ctx, `UPDATE memberships SET status = 'deactivated' WHERE id = 'm1'`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, second, "m1c"); !store.IsUniqueViolation(err) {
			t.Fatalf("a second membership beside a deactivated one: %v, want a unique violation", err)
		}
		if _, err := db.Exec(ctx, `UPDATE memberships SET status = 'deleted' WHERE id = 'm1'`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, second, "m1d"); err != nil {
			t.Fatalf("a new membership after the deletion of the last: %v", err)
		}
		if db.Dialect != store.Postgres {
			return
		}
		for table, want := range map[string]string{"record_accounts": "fillfactor=85", "memberships": "fillfactor=90", "invitations": "fillfactor=90"} {
			var opts string
			if err := db.QueryRow(ctx, `SELECT COALESCE(array_to_string(reloptions, ','), '') FROM pg_class WHERE oid = to_regclass(?)`, table).Scan(&opts); err != nil {
				t.Fatal(err)
			}
			if opts != want {
				t.Errorf("%s options %q, want %q", table, opts, want)
			}
		}
	})
}

// On PostgreSQL the reminder rules' updates of an account (the finishing
// date reminded of, the inactivity warning's time) and the deactivation of a
// membership change no indexed column, so they are HOT: the new version
// stays in the page and no index gains an entry. An account's deactivation
// takes it out of the sweeps' partial indexes, and a membership's deletion
// out of memberships_open: those are not.
func TestSweepUpdatesAreHOT(t *testing.T) {
	u := storetest.PostgresURL(t)
	if u == "" {
		t.Skip("PostgreSQL only: CAREGATE_TEST_POSTGRES is not set")
	}
	db := storetest.OpenPostgres(t)
	ctx := context.Background()
	insertAccount(t, ctx, db, "1")
	err := db.InTx(ctx, func(tx *store.Tx) error {
		for _, q := range []string{
			`UPDATE record_accounts SET finish_reminded_for = finishing_date WHERE id = 'r1'`,
			`UPDATE record_accounts SET inactivity_warned_at = 9 WHERE id = 'r1'`,
			`UPDATE record_accounts SET status = 'deactivated', status_reason = 'inactivity', updated_at = 9 WHERE id = 'r1'`,
			`UPDATE memberships SET status = 'deactivated', status_reason = 'end_of_contract', ended_by = 'system', ended_at = 9, updated_at = 9 WHERE id = 'm1'`,
			`UPDATE memberships SET status = 'deleted', updated_at = 10 WHERE id = 'm1'`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		// This transaction's own counts, available before it commits.
		for table, want := range map[string][2]int{"record_accounts": {3, 2}, "memberships": {2, 1}} {
			var upd, hot int
			if err := tx.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables WHERE relid = to_regclass(?)`, table).Scan(&upd, &hot); err != nil {
				return err
			}
			if upd != want[0] || hot != want[1] {
				t.Errorf("%s: %d updates of which %d HOT, want %d of which %d", table, upd, hot, want[0], want[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
