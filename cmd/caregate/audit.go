package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/caregate/caregate/internal/app"
	"github.com/caregate/caregate/internal/audit"
)

// auditVerify checks the hash chain: exit 0 with "ok: N events", or exit 1
// naming the first event that was changed, removed or reordered.
func auditVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg app.Config
	if err := parse(newFlags("audit verify", stderr, &cfg), args); err != nil {
		return err
	}
	db, err := openStore(ctx, &cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := audit.Verify(ctx, db)
	var b *audit.Break
	if errors.As(err, &b) {
		fmt.Fprintf(stdout, "checked %d events before the break\n", n)
		return fmt.Errorf("FAILED: event %d: %s", b.Seq, b.Reason)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ok: %d events\n", n)
	return nil
}
