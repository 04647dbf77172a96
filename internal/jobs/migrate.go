package jobs

import (
	"context"
	"fmt"

	"github.com/riverqueue/river/rivermigrate"

	"github.com/caregate/caregate/internal/store"
)

// Migrate creates or upgrades River's own tables (river_job, river_leader…)
// beside CareGate's, after store.Migrate. Like CareGate's migrations, each
// River migration runs in its own transaction (PostgreSQL refuses some of
// them in one: an enum value cannot be used in the transaction that adds
// it) and, on PostgreSQL, under the same advisory lock, so that several
// instances starting at once take turns (River's migrator has no lock of its
// own). It returns how many River migrations it applied.
func Migrate(ctx context.Context, db *store.DB) (int, error) {
	m, err := rivermigrate.New(driverFor(db, nil), &rivermigrate.Config{Logger: quietLogger(nil)})
	if err != nil {
		return 0, fmt.Errorf("job queue migrations: %w", err)
	}
	applied := 0
	for {
		step := 0
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if db.Dialect == store.Postgres {
				if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7201001)`); err != nil {
					return err
				}
			}
			res, err := m.MigrateTx(ctx, tx.SQL(), rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{MaxSteps: 1})
			if err != nil {
				return err
			}
			step = len(res.Versions)
			return nil
		})
		if err != nil {
			return applied, fmt.Errorf("job queue migrations: %w", err)
		}
		if step == 0 {
			return applied, nil
		}
		applied += step
	}
}
