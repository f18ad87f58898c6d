package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	sink "github.com/idlink/idlink/consumers/analytics"
	"github.com/idlink/idlink/consumers/identity"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/producers"
	"github.com/idlink/idlink/producers/simulator"
	"github.com/idlink/idlink/schemas"
)

// latencyWarmup is how many events go through before the clock starts, so
// that joining the consumer group is not measured.
const latencyWarmup = 500

// latency measures produce-to-resolved latency: the resolver and the sink
// run in this process (like `idlink run`) in a namespace with topics of its
// own, and the producer library publishes a fresh data set at a steady -rate
// for -latency-seconds. Event i is due at begin + i/rate; its latency runs
// from then to the resolver's Handle returning for its batch (Redis state
// written, identity changes published). Counting from the due time rather
// than from when the producer got to it keeps a stalled producer from hiding
// latency; the latency from produced_at is printed too.
func (b *bench) latency(ctx context.Context) error {
	cfg := b.namespace("latency", nil)
	defer b.release(ctx, cfg)
	total := int(float64(b.opts.rate) * b.opts.latencySeconds)
	ds := simulator.Generate(simulator.Options{
		Seed: b.opts.seed + 1, Persons: max(1, (total+latencyWarmup)/2), Events: total + latencyWarmup,
		BadEvents: -1, Duplicates: -1, IDPrefix: "lat-",
	})
	input := ds.Bytes()
	offsets := make([]int, len(ds.Lines)+1) // line i is input[offsets[i]:offsets[i+1]]
	for i, l := range ds.Lines {
		offsets[i+1] = offsets[i] + len(l) + 1
	}
	total = min(total, len(ds.Lines)-latencyWarmup)
	lineID := make([]string, len(ds.Lines)) // event_id of every line
	for i := range ds.Events {
		lineID[ds.Events[i].Line] = ds.Events[i].ID
	}

	m := pipeline.NewMetrics()
	quiet := b.logger()
	rc, err := identity.NewConsumer(ctx, cfg, b.codec, m, quiet)
	if err != nil {
		return err
	}
	defer rc.Close()
	sk, err := sink.New(ctx, cfg, b.codec, m)
	if err != nil {
		return err
	}
	defer sk.Close()
	timed := &timedHandler{inner: rc, codec: b.codec, due: make(map[string]time.Time, total)}
	ro := rc.Options()
	ro.Logger = quiet
	if b.opts.latencyMaxWait > 0 {
		ro.MaxWait = b.opts.latencyMaxWait
	}
	so := sk.Options()
	so.Logger = quiet
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() { errs[0] = cfg.RunConsumer(runCtx, ro, timed) })
	wg.Go(func() { errs[1] = cfg.RunConsumer(runCtx, so, sk) })
	stopAll := func() error {
		stop()
		wg.Wait()
		return errors.Join(errs...)
	}

	p, err := producers.New(ctx, cfg, b.codec, producers.Options{BatchSize: 1000})
	if err != nil {
		_ = stopAll()
		return err
	}
	defer p.Close()
	produce := func(from, to int) error {
		_, err := p.ProduceFile(ctx, bytes.NewReader(input[offsets[from]:offsets[to]]), "idlink-bench-latency")
		return err
	}
	if err := produce(0, latencyWarmup); err != nil {
		_ = stopAll()
		return err
	}
	if err := b.waitCaughtUp(ctx, cfg.Group("resolver"), cfg.Topics().AllAgencies(), 2*time.Minute); err != nil {
		_ = stopAll()
		return fmt.Errorf("warming up: %w", err)
	}

	if b.opts.profileDir != "" {
		stopProfile, err := b.startCPUProfile("latency.cpu.pprof")
		if err != nil {
			_ = stopAll()
			return err
		}
		defer stopProfile()
	}
	begin := time.Now()
	// A ProduceFile call per 10ms: fewer calls would batch more (and the
	// clock starts at produced_at, stamped per call), more would spend the
	// resolver's CPU on the producer's per-call buffers.
	tick := time.NewTicker(10 * time.Millisecond)
	sent := 0
	for sent < total {
		select {
		case <-ctx.Done():
			_ = stopAll()
			return ctx.Err()
		case <-tick.C:
		}
		due := min(total, int(time.Since(begin).Seconds()*float64(b.opts.rate)))
		if due > sent {
			timed.expect(lineID[latencyWarmup+sent:latencyWarmup+due], func(i int) time.Time {
				return begin.Add(time.Duration(float64(sent+i) / float64(b.opts.rate) * float64(time.Second)))
			})
			if err := produce(latencyWarmup+sent, latencyWarmup+due); err != nil {
				_ = stopAll()
				return err
			}
			sent = due
		}
	}
	tick.Stop()
	produced := time.Since(begin)
	if err := b.waitCaughtUp(ctx, cfg.Group("resolver"), cfg.Topics().AllAgencies(), b.opts.phaseTimeout); err != nil {
		_ = stopAll()
		return err
	}
	if err := stopAll(); err != nil {
		return err
	}
	lat, fromProduced, handle, batched := timed.result()
	if len(lat) == 0 {
		return errors.New("no latency was recorded")
	}
	slices.Sort(lat)
	slices.Sort(fromProduced)
	slices.Sort(handle)
	maxWait := ro.MaxWait
	if maxWait == 0 {
		maxWait = time.Second // RunConsumer's default
	}
	b.res.p99 = percentile(lat, 0.99)
	b.figure("latency_rate_events_per_s", "%.0f", perSecond(int64(total), produced))
	b.figure("latency_events", "%d", len(lat))
	b.figure("latency_batch_wait_ms", "%d", maxWait.Milliseconds())
	b.figure("latency_batches", "%d", len(handle))
	b.figure("latency_mean_batch", "%.0f", float64(batched)/float64(max(len(handle), 1)))
	b.figure("latency_handle_p50_ms", "%.1f", percentile(handle, 0.5))
	b.figure("latency_handle_p99_ms", "%.1f", percentile(handle, 0.99))
	b.figure("p50_ms", "%.1f", percentile(lat, 0.5))
	b.figure("p99_ms", "%.1f", b.res.p99)
	b.figure("max_ms", "%.1f", percentile(lat, 1))
	b.figure("p99_from_produced_at_ms", "%.1f", percentile(fromProduced, 0.99))
	return nil
}

// waitCaughtUp polls until group has committed the end of topics.
func (b *bench) waitCaughtUp(ctx context.Context, group string, topics []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		g, err := b.progressOf(pctx, group, topics)
		cancel()
		if err == nil && g.caught {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("group %s has not caught up after %s (%d of %d committed, last error %v)", group, timeout, g.committed, g.end, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// timedHandler wraps the resolver and records, once its Handle succeeds, how
// long ago each expected event of the batch was due and was produced.
type timedHandler struct {
	inner pipeline.Handler
	codec *schemas.Codec

	mu           sync.Mutex
	due          map[string]time.Time // event_id -> when it was due
	lat          []time.Duration      // from due
	fromProduced []time.Duration      // from produced_at
	handle       []time.Duration      // time in the resolver's Handle per batch
	batched      int                  // messages in those batches
}

func (h *timedHandler) Handle(ctx context.Context, msgs []kafka.Message) error {
	start := time.Now()
	if err := h.inner.Handle(ctx, msgs); err != nil {
		return err
	}
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.due) == 0 && len(h.lat) == 0 {
		return nil // warming up
	}
	h.handle = append(h.handle, now.Sub(start))
	h.batched += len(msgs)
	for _, m := range msgs {
		ev, err := h.codec.DecodeEvent(m.Value)
		if err != nil {
			continue
		}
		due, ok := h.due[ev.EventID]
		if !ok {
			continue
		}
		delete(h.due, ev.EventID) // a redelivery counts once
		h.lat = append(h.lat, now.Sub(due))
		if !ev.ProducedAt.IsZero() {
			h.fromProduced = append(h.fromProduced, now.Sub(ev.ProducedAt))
		}
	}
	return nil
}

// expect records when the events ids[i] are due.
func (h *timedHandler) expect(ids []string, due func(i int) time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i, id := range ids {
		h.due[id] = due(i)
	}
}

func (h *timedHandler) result() (lat, fromProduced, handle []time.Duration, batched int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.lat), slices.Clone(h.fromProduced), slices.Clone(h.handle), h.batched
}

// percentile returns the p-th percentile (nearest rank) of sorted ds in
// milliseconds.
func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(p*float64(len(ds)))) - 1
	return ms(ds[min(max(i, 0), len(ds)-1)])
}
