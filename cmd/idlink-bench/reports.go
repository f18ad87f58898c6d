package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/idlink/idlink/analytics"
	sink "github.com/idlink/idlink/consumers/analytics"
	"github.com/idlink/idlink/consumers/identity"
	"github.com/idlink/idlink/pipeline"
)

// reports seeds -report-rows synthetic events into a fresh database and
// times every report (best and median of -report-runs).
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
	b.figure("report_seed_seconds", "%.1f", time.Since(start).Seconds())
	timings, err := s.TimeReports(ctx, b.opts.reportRuns)
	if err != nil {
		return err
	}
	var worst time.Duration
	for _, t := range timings {
		name := strings.ReplaceAll(t.Report, "-", "_")
		b.figure("report_"+name+"_ms", "%.0f best_ms=%.0f rows=%d", ms(t.Median), ms(t.Best), t.Rows)
		worst = max(worst, t.Median)
	}
	b.figure("report_max_ms", "%.0f", ms(worst))
	if b.opts.reportRows >= 10_000_000 {
		b.extraTargets = append(b.extraTargets, targetLE("reports<1s@10M", ms(worst), 999.999))
	}
	return nil
}

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
