package app_test

import (
	"runtime/debug"
	"testing"

	"github.com/caregate/caregate/internal/app"
)

// TuneMemory sets the serving settings only where the operator has not.
func TestTuneMemory(t *testing.T) {
	prevGC := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetGCPercent(prevGC); debug.SetMemoryLimit(prevLimit) })

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	gc, limit := app.TuneMemory()
	if got := debug.SetGCPercent(100); gc != 300 || got != 300 {
		t.Errorf("TuneMemory() set GC percent %d (said %d), want 300", got, gc)
	}
	if got := debug.SetMemoryLimit(-1); limit != 256<<20 || got != 256<<20 {
		t.Errorf("TuneMemory() set memory limit %d (said %d), want 256 MiB", got, limit)
	}

	debug.SetMemoryLimit(1 << 40)
	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "1TiB")
	if gc, limit := app.TuneMemory(); gc != -1 || limit != -1 || debug.SetGCPercent(100) != 100 || debug.SetMemoryLimit(-1) != 1<<40 {
		t.Errorf("TuneMemory() overrode the operator's GOGC/GOMEMLIMIT: %d %d", gc, limit)
	}
}
