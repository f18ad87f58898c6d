package pipeline

import (
	"os"
	"runtime/debug"
)

// DefaultGCPercent replaces Go's GOGC=100 when GOGC is unset (see SetGC).
const DefaultGCPercent = 400

// DefaultMemoryLimit is the soft memory limit SetGC sets when GOMEMLIMIT is
// unset: 1 GiB.
const DefaultMemoryLimit = 1 << 30

// SetGC sets the garbage collector's target to DefaultGCPercent unless the
// GOGC environment variable is set, and its soft memory limit to
// DefaultMemoryLimit unless GOMEMLIMIT is set. The consumers' live heap is
// small (tens to a few hundred MiB, the sink's batches of 50,000 messages
// being the most of it) but they allocate a lot per batch, so at Go's
// default of 100 the collector takes about a fifth of the resolver's CPU; at
// 400 the heap may grow to five times the live data instead, and the limit
// keeps that growth from taking more than about a gigabyte (peak RSS of
// `idlink run` over a backlog of 1M events: 990-1,012 MiB with it,
// 1,469-1,536 MiB without, at the same throughput). A live heap above the
// limit is not refused: the collector then runs more often. Programs call it
// once, first thing in main.
func SetGC() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(DefaultGCPercent)
	}
	if _, ok := os.LookupEnv("GOMEMLIMIT"); !ok {
		debug.SetMemoryLimit(DefaultMemoryLimit)
	}
}
