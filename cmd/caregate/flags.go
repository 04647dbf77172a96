package main

import (
	"context"
	"errors"
	"flag"
	"io"

	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/store"
)

// errUsage means the flag package has already explained the problem.
var errUsage = errors.New("usage")

// newFlags returns a flag set that reports to stderr, with the database
// flags every command shares.
func newFlags(name string, stderr io.Writer, cfg *app.Config) *flag.FlagSet {
	fs := flag.NewFlagSet("caregate "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.DataDir, "data", "", "SQLite data directory (default ./caregate-data, or $CAREGATE_DATA)")
	fs.StringVar(&cfg.DatabaseURL, "database-url", "", "PostgreSQL URL, postgres://… (default $CAREGATE_DATABASE_URL; empty: SQLite)")
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	return nil
}

// openStore opens and migrates the configured database.
func openStore(ctx context.Context, cfg *app.Config) (*store.DB, error) {
	cfg.FromEnv()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return app.OpenStore(ctx, *cfg)
}
