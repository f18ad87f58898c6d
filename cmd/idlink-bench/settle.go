package main

import (
	"context"
	"time"
)

// Settling: a phase leaves work behind it (ClickHouse merging the parts it
// inserted, Redis rewriting its append-only file, Kafka flushing), and on a
// 2-core machine that work would be charged to the next phase. Before each
// timed phase the bench waits until the machine has been mostly idle for a
// couple of seconds, or -settle-max has passed, and prints how long it waited.
const (
	settleBusyPct = 25.0 // "idle": at most this share of CPU time busy
	settleQuiet   = 2    // for this many consecutive 1s samples
)

// settle waits for the machine to go quiet and reports the wait as
// <phase>_settle_seconds and the last sample as <phase>_settle_cpu_busy_pct.
func (b *bench) settle(ctx context.Context, phase string) {
	if b.opts.settleMax <= 0 {
		return
	}
	start := time.Now()
	quiet, last := 0, -1.0
	t0, b0 := cpuTimes()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for quiet < settleQuiet && time.Since(start) < b.opts.settleMax {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		t1, b1 := cpuTimes()
		if t1 <= t0 {
			return // no /proc/stat: nothing to wait for
		}
		last = 100 * float64(b1-b0) / float64(t1-t0)
		t0, b0 = t1, b1
		if last <= settleBusyPct {
			quiet++
		} else {
			quiet = 0
		}
	}
	b.figure(phase+"_settle_seconds", "%.0f", time.Since(start).Seconds())
	b.figure(phase+"_settle_cpu_busy_pct", "%.0f", last)
}
