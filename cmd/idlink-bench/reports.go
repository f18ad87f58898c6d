package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/idlink/idlink/analytics"
	sink "github.com/idlink/idlink/consumers/analytics"
	"github.com/idlink/idlink/consumers/identity"
	"github.com/idlink/idlink/pipeline"
)

// reports seeds -report-rows synthetic events into a fresh database of the
// stack's ClickHouse (18.16), merges its tables (OPTIMIZE ... FINAL, as
// background merges leave them once a bulk load has settled) and times every
// report, printing report_<name>_1816_ms (median of -report-runs; no
// target on 18.16).
func (b *bench) reports(ctx context.Context) error {
	cfg := b.namespace("reports", b.data)
	defer b.release(ctx, cfg)
	s, err := analytics.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		return err
	}
	start := time.Now()
	if err := s.SeedSynthetic(ctx, b.opts.reportRows); err != nil {
		return err
	}
	b.figure("report_rows", "%d", b.opts.reportRows)
	b.figure("report_1816_seed_seconds", "%.1f", time.Since(start).Seconds())
	start = time.Now()
	if _, err := s.OptimizeTables(ctx); err != nil {
		return err
	}
	b.figure("report_1816_merge_seconds", "%.1f", time.Since(start).Seconds())
	timings, err := s.TimeReports(ctx, b.opts.reportRuns)
	if err != nil {
		return err
	}
	var worst time.Duration
	for _, t := range timings {
		b.figure("report_"+figureName(t.Report)+"_1816_ms", "%.0f best_ms=%.0f rows=%d", ms(t.Median), ms(t.Best), t.Rows)
		worst = max(worst, t.Median)
	}
	b.figure("report_1816_max_ms", "%.0f", ms(worst))
	return nil
}

//go:embed chdb_reports.py
var chdbReportsPy []byte

// currentSpec is what chdb_reports.py runs: the migrations' statements, the
// seeding statements, every report's query and how many times to run each.
type currentSpec struct {
	Migrations [][]string        `json:"migrations"`
	Seed       []string          `json:"seed"`
	Reports    map[string]string `json:"reports"`
	Order      []string          `json:"order"`
	Runs       int               `json:"runs"`
}

// currentResult is what chdb_reports.py prints.
type currentResult struct {
	Version      string  `json:"version"`
	SeedSeconds  float64 `json:"seed_seconds"`
	MergeSeconds float64 `json:"merge_seconds"`
	Reports      []struct {
		Name string    `json:"name"`
		Rows int       `json:"rows"`
		Ms   []float64 `json:"ms"`
	} `json:"reports"`
}

// reportsCurrent does what reports does on the current ClickHouse engine,
// in-process in python3's chdb (analytics/sqlcheck/install.sh installs it):
// the same migrations, the same SyntheticSQL and the same report files,
// printing report_<name>_current_ms (median of -report-runs) against the
// target of under a second each at 10,000,000 events.
func (b *bench) reportsCurrent(ctx context.Context) error {
	if err := exec.CommandContext(ctx, "python3", "-c", "import chdb").Run(); err != nil {
		return fmt.Errorf("python3 cannot import chdb (%v): run analytics/sqlcheck/install.sh", err)
	}
	migrations, err := analytics.Migrations()
	if err != nil {
		return err
	}
	spec := currentSpec{Seed: analytics.SyntheticSQL(b.opts.reportRows), Reports: map[string]string{}, Runs: max(b.opts.reportRuns, 1)}
	for _, m := range migrations {
		spec.Migrations = append(spec.Migrations, m.Statements)
	}
	for _, name := range analytics.ReportNames() {
		q, err := analytics.ReportSQL(name)
		if err != nil {
			return err
		}
		spec.Reports[name] = q
		spec.Order = append(spec.Order, name)
	}
	dir, err := os.MkdirTemp("", "idlink-bench-chdb-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	script := filepath.Join(dir, "chdb_reports.py")
	if err := os.WriteFile(script, chdbReportsPy, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "spec.json"), specJSON, 0o644); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "python3", script, filepath.Join(dir, "spec.json"), filepath.Join(dir, "db"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("timing the reports in chdb: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var res currentResult
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("reading chdb_reports.py's output %q: %w", out, err)
	}
	b.figure("report_current_version", "%s", res.Version)
	b.figure("report_current_seed_seconds", "%.1f", res.SeedSeconds)
	b.figure("report_current_merge_seconds", "%.1f", res.MergeSeconds)
	var worst float64
	for _, r := range res.Reports {
		sort.Float64s(r.Ms)
		median := r.Ms[len(r.Ms)/2]
		b.figure("report_"+figureName(r.Name)+"_current_ms", "%.0f best_ms=%.0f rows=%d", median, r.Ms[0], r.Rows)
		worst = max(worst, median)
	}
	b.figure("report_current_max_ms", "%.0f", worst)
	if b.opts.reportRows >= 10_000_000 {
		b.extraTargets = append(b.extraTargets, targetLE("reports_current<1s@10M", worst, 999.999))
	}
	return nil
}

// figureName is a report's name in a figure: dashes become underscores.
func figureName(report string) string { return strings.ReplaceAll(report, "-", "_") }

// startCPUProfile starts the CPU profiler writing to name in -profile-dir;
// the returned function stops it.
func (b *bench) startCPUProfile(name string) (func(), error) {
	if err := os.MkdirAll(b.opts.profileDir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", b.opts.profileDir, err)
	}
	f, err := os.Create(filepath.Join(b.opts.profileDir, name))
	if err != nil {
		return nil, fmt.Errorf("creating the CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting the CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// profile runs the resolver and the sink in this process over the produced
// events, as `idlink run` does, under the CPU profiler, and writes
// e2e.cpu.pprof and e2e.heap.pprof to -profile-dir. Samples carry a
// "consumer" label (pprof -tagfocus consumer=resolver).
func (b *bench) profile(ctx context.Context) error {
	cfg := b.namespace("profile", b.data)
	defer b.release(ctx, cfg)
	m := pipeline.NewMetrics()
	rc, err := identity.NewConsumer(ctx, cfg, b.codec, m, b.logger())
	if err != nil {
		return err
	}
	defer rc.Close()
	sk, err := sink.New(ctx, cfg, b.codec, m)
	if err != nil {
		return err
	}
	defer sk.Close()

	stopProfile, err := b.startCPUProfile("e2e.cpu.pprof")
	if err != nil {
		return err
	}
	start := time.Now()
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, c := range []struct {
		name string
		o    pipeline.ConsumerOptions
		h    pipeline.Handler
	}{{"resolver", rc.Options(), rc}, {"analytics", sk.Options(), sk}} {
		c.o.Logger = b.logger()
		wg.Go(func() {
			pprof.Do(runCtx, pprof.Labels("consumer", c.name), func(ctx context.Context) {
				errs[i] = cfg.RunConsumer(ctx, c.o, c.h)
			})
		})
	}
	done := b.waitAll(cfg, true, true)
	var werr error
	for {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ok, _, _, err := done(pctx)
		cancel()
		if ok {
			break
		}
		if err != nil {
			b.progress("profile: checking progress: %v", err)
		}
		if time.Since(start) > b.opts.phaseTimeout {
			werr = fmt.Errorf("not done after %s", b.opts.phaseTimeout)
			break
		}
		select {
		case <-ctx.Done():
			werr = ctx.Err()
		case <-time.After(150 * time.Millisecond):
		}
		if werr != nil {
			break
		}
	}
	elapsed := time.Since(start)
	stopProfile()
	heapPath := filepath.Join(b.opts.profileDir, "e2e.heap.pprof")
	if hf, err := os.Create(heapPath); err == nil {
		_ = pprof.Lookup("heap").WriteTo(hf, 0)
		hf.Close()
	}
	stop()
	wg.Wait()
	if werr != nil {
		return werr
	}
	if errs[0] != nil || errs[1] != nil {
		return fmt.Errorf("consumers: %v, %v", errs[0], errs[1])
	}
	b.figure("profile_inprocess_e2e_events_per_s", "%.0f", perSecond(int64(b.accepted), elapsed))
	b.figure("profile_cpu", "%s", filepath.Join(b.opts.profileDir, "e2e.cpu.pprof"))
	b.figure("profile_heap", "%s", heapPath)
	return nil
}
