package analytics_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/analytics/analyticstest"
)

// BenchmarkReports seeds IDLINK_BENCH_EVENTS synthetic events (default
// 10,000,000) into a throw-away database on the local stack (ClickHouse
// 18.16) and times every report. The target of under a second each at 10M
// events is the current engine's: `make bench` times that in chdb (phase
// reports-current of cmd/idlink-bench).
func BenchmarkReports(b *testing.B) {
	n := 10_000_000
	if v := os.Getenv("IDLINK_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatalf("IDLINK_BENCH_EVENTS=%q: %v", v, err)
		}
	}
	ctx := context.Background()
	s := analyticstest.Store(b, analyticstest.Config(b))
	start := time.Now()
	if err := s.SeedSynthetic(ctx, n); err != nil {
		b.Fatal(err)
	}
	var rows uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM event_documents").Scan(&rows); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d events (%d event_documents rows) in %s", n, rows, time.Since(start).Round(time.Millisecond))
	for _, name := range analytics.ReportNames() {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Report(ctx, name); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
