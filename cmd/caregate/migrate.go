package main

import (
	"context"
	"fmt"
	"io"

	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/jobs"
	"github.com/caregate/caregate/internal/store"
)

func migrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg app.Config
	if err := parse(newFlags("migrate", stderr, &cfg), args); err != nil {
		return err
	}
	cfg.FromEnv()
	if err := cfg.Validate(); err != nil {
		return err
	}
	db, err := store.Open(ctx, cfg.StoreOptions())
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	if _, err := jobs.Migrate(ctx, db); err != nil {
		return err
	}
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: applied %d migrations; schema version %d\n", cfg.Describe(), n, v)
	return nil
}
