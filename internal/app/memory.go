package app

import (
	"os"
	"runtime/debug"
)

// Garbage-collector settings for a serving process, unless the operator
// set GOGC or GOMEMLIMIT. Go's default (collect when the heap has doubled)
// spent a fifth of a record read's CPU collecting: the server's live heap
// is small (tens of MB) and churns fast. Collecting when it has grown
// fourfold raised audited record reads by about a fifth (loadbench, peak
// memory 171 → 210 MB), and the soft limit makes the collector work harder
// rather than let the heap pass it, so peak memory stays bounded.
const (
	serveGCPercent   = 300
	serveMemoryLimit = 256 << 20
)

// TuneMemory applies the serving process's garbage-collector settings
// where the environment does not set its own. It returns what it set, for
// the start-up log.
func TuneMemory() (gcPercent int, limit int64) {
	gcPercent, limit = -1, -1
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
		gcPercent = serveGCPercent
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(serveMemoryLimit)
		limit = serveMemoryLimit
	}
	return gcPercent, limit
}
