// Package storetest gives tests a fresh, migrated database on every engine:
// SQLite always, and PostgreSQL when CAREGATE_TEST_POSTGRES holds a URL. Each
// PostgreSQL test gets a schema of its own, dropped when the test ends. Under
// CI (CI=true) a missing CAREGATE_TEST_POSTGRES fails the test instead of
// quietly running SQLite alone.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/caregate/caregate/internal/store"
)

// Engine is one database engine a test runs on.
type Engine struct {
	Name string
	Open func(t testing.TB) *store.DB
}

// Engines lists the engines available to this test run.
func Engines(t testing.TB) []Engine {
	t.Helper()
	es := []Engine{{Name: "sqlite", Open: OpenSQLite}}
	if PostgresURL(t) != "" {
		es = append(es, Engine{Name: "postgres", Open: OpenPostgres})
	}
	return es
}

// PostgresURL returns CAREGATE_TEST_POSTGRES, failing the test under CI if it
// is not set.
func PostgresURL(t testing.TB) string {
	u := os.Getenv("CAREGATE_TEST_POSTGRES")
	if u == "" && os.Getenv("CI") != "" {
		t.Fatal("CAREGATE_TEST_POSTGRES is not set: under CI the suite must run on PostgreSQL too")
	}
	return u
}

// Each runs fn as a subtest on every engine with a fresh migrated database.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	for _, e := range Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			fn(t, e.Open(t))
		})
	}
}

// OpenSQLite returns a migrated SQLite database in a temporary directory.
func OpenSQLite(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// OpenPostgres returns a migrated database in a new PostgreSQL schema.
func OpenPostgres(t testing.TB) *store.DB {
	t.Helper()
	u := PostgresURL(t)
	if u == "" {
		t.Fatal("CAREGATE_TEST_POSTGRES is not set")
	}
	schemaURL := NewSchema(t, u)
	db, err := store.Open(context.Background(), store.Options{URL: schemaURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// NewSchema creates an empty schema for the test, dropped at cleanup, and
// returns a URL whose connections use it.
func NewSchema(t testing.TB, base string) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		admin.Close()
		t.Fatalf("create schema on %s: %v", store.Redact(base), err)
	}
	t.Cleanup(func() {
		admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
		admin.Close()
	})
	pu, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := pu.Query()
	q.Set("search_path", schema)
	pu.RawQuery = q.Encode()
	return pu.String()
}

// EachOptions runs fn as a subtest on every engine with the options that
// open a fresh, empty database of it, for tests that open the store
// themselves (a whole server, the command line).
func EachOptions(t *testing.T, fn func(t *testing.T, o store.Options)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, store.Options{DataDir: t.TempDir()}) })
	if u := PostgresURL(t); u != "" {
		t.Run("postgres", func(t *testing.T) { fn(t, store.Options{URL: NewSchema(t, u)}) })
	}
}
