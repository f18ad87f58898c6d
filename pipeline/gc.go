package pipeline

import (
	"os"
	"runtime/debug"
)

// DefaultGCPercent replaces Go's GOGC=100 when GOGC is unset (see SetGC).
const DefaultGCPercent = 400

// SetGC sets the garbage collector's target to DefaultGCPercent unless the
// GOGC environment variable is set. The consumers' live heap is small (tens
// of MiB) but they allocate a lot per batch, so at Go's default of 100 the
// collector takes about a fifth of the resolver's CPU; at 400 the heap may
// grow to five times the live data instead. GOGC and GOMEMLIMIT override it.
// Programs call it once, first thing in main.
func SetGC() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(DefaultGCPercent)
	}
}
