package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Migrations are forward-only, numbered files NNNN_name.sql holding SQL that
// both engines accept. Where the engines truly differ, NNNN_name.sqlite.sql
// and NNNN_name.postgres.sql replace the shared file for that engine.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations returns the migrations for a dialect in version order.
func Migrations(d Dialect) ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFS, "migrations")
	if err != nil {
		return nil, err
	}
	byVersion := map[int]Migration{}
	specific := map[int]bool{}
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".sql")
		engine := ""
		if i := strings.LastIndexByte(name, '.'); i > 0 {
			engine, name = name[i+1:], name[:i]
		}
		if engine != "" && engine != string(d) {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", e.Name())
		}
		if specific[v] && engine == "" {
			continue
		}
		body, err := migrationFS.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		byVersion[v] = Migration{Version: v, Name: name, SQL: string(body)}
		if engine != "" {
			specific[v] = true
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration versions must be 1..n without gaps; found %d at position %d", m.Version, i+1)
		}
	}
	return out, nil
}

// Migrate applies every pending migration, each in its own transaction. It
// refuses a database that has migrations this binary does not know (a newer
// CareGate wrote it). On PostgreSQL an advisory lock makes concurrent
// start-ups of several instances take turns. It returns how many it applied.
func (db *DB) Migrate(ctx context.Context) (int, error) {
	ms, err := Migrations(db.Dialect)
	if err != nil {
		return 0, err
	}
	// Under the same lock as the migrations: PostgreSQL's IF NOT EXISTS does
	// not protect two instances creating the table at the same moment.
	if err := db.InTx(ctx, func(tx *Tx) error {
		if db.Dialect == Postgres {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7201001)`); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`)
		return err
	}); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	applied := 0
	for _, m := range ms {
		did := false
		err := db.InTx(ctx, func(tx *Tx) error {
			if db.Dialect == Postgres {
				// Serialise migrators across processes; released at commit.
				if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7201001)`); err != nil {
					return err
				}
			}
			var have int
			if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
				return err
			}
			if have > len(ms) {
				return fmt.Errorf("database schema version %d is newer than this caregate (knows %d): upgrade caregate", have, len(ms))
			}
			if have >= m.Version {
				return nil
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("migration %04d_%s: %w", m.Version, m.Name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, time.Now().UnixMicro()); err != nil {
				return err
			}
			did = true
			return nil
		})
		if err != nil {
			return applied, err
		}
		if did {
			applied++
		}
	}
	return applied, nil
}

// SchemaVersion returns the highest applied migration version (0 if none).
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := db.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
