package lifecycle_test

import (
	"context"
	"log/slog"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/caregate/caregate/internal/audit"
	"github.com/caregate/caregate/internal/clock"
	"github.com/caregate/caregate/internal/lifecycle"
	"github.com/caregate/caregate/internal/notify"
	"github.com/caregate/caregate/internal/store"
)

func TestSeededTmp(t *testing.T) {
	u, dir := os.Getenv("TMP_URL"), os.Getenv("TMP_DIR")
	if u == "" && dir == "" {
		t.Skip()
	}
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{URL: u, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := clock.NewManual(t0)
	if os.Getenv("TMP_SEED") != "" {
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		seed(t, db, c.Now(), 1_000_000)
		return
	}
	l := audit.NewLog(db, c)
	defer l.Close()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc, err := lifecycle.NewService(db, l, c, notify.NewOutbox(c), logger, lifecycle.Config{BaseURL: "https://caregate.example"})
	if err != nil {
		t.Fatal(err)
	}
	stop := profile(t, "seeded", 1)
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	r, err := svc.Sweep(ctx)
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano())
	t.Logf("first %v cpu %v %+v %v", time.Since(start), cpu, r, err)
	stop()
	start = time.Now()
	r, err = svc.Sweep(ctx)
	t.Logf("second %v %+v %v", time.Since(start), r, err)
}
