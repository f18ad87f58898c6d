package main

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/producers"
	"github.com/idlink/idlink/producers/simulator"
)

// produce generates the data set and publishes it into a namespace of its
// own with the producer library, timing the publishing.
func (b *bench) produce(ctx context.Context) error {
	start := time.Now()
	ds := simulator.Generate(simulator.Options{Seed: b.opts.seed, Persons: b.opts.persons, Events: b.opts.n})
	docs := map[simulator.Doc]struct{}{}
	for i := range ds.Events {
		for _, d := range ds.Events[i].Docs {
			docs[d] = struct{}{}
		}
	}
	b.accepted, b.documents = len(ds.Events), len(docs)
	input := ds.Bytes()
	lines := len(ds.Lines)
	want := ds.ExpectedProduce()
	ds, docs = nil, nil
	runtime.GC()
	b.progress("generated %d lines (%d valid events, %d documents, %d MiB) in %s",
		lines, b.accepted, b.documents, len(input)>>20, time.Since(start).Round(time.Millisecond))

	b.data = b.namespace("data", nil)
	p, err := producers.New(ctx, b.data, b.codec, producers.Options{})
	if err != nil {
		return err
	}
	// The figure is the producer's rate, not the machine's leftovers from
	// what ran before (make test, topic creation): wait for quiet first.
	b.settle(ctx, "produce")
	start = time.Now()
	res, err := p.ProduceFile(ctx, bytes.NewReader(input), "idlink-bench")
	if cerr := p.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("flushing the producer: %w", cerr)
	}
	elapsed := time.Since(start)
	if err != nil {
		return err
	}
	if res.Accepted != want.Accepted || res.Rejected != want.Rejected {
		return fmt.Errorf("the producer accepted %d and rejected %d lines; the simulator expects %d and %d", res.Accepted, res.Rejected, want.Accepted, want.Rejected)
	}
	b.figure("events", "%d", b.accepted)
	b.figure("documents", "%d", b.documents)
	b.figure("produce_events_per_s", "%.0f", perSecond(int64(res.Accepted), elapsed))
	b.figure("produce_lines_per_s", "%.0f", perSecond(int64(lines), elapsed))
	return nil
}

// e2e runs `idlink run` over the produced events and waits until the
// resolver and the sink have committed everything, ClickHouse counts every
// event and Redis holds every document.
func (b *bench) e2e(ctx context.Context) error {
	cfg := b.namespace("e2e", b.data)
	defer b.release(ctx, cfg)
	memBefore, err := b.usedMemory(ctx)
	if err != nil {
		return err
	}
	statsBefore, err := b.commandStats(ctx)
	if err != nil {
		return err
	}
	done := b.waitAll(cfg, true, true)
	r, err := b.runChild(ctx, "e2e", cfg, nil, done)
	if err != nil {
		return err
	}
	memAfter, err := b.usedMemory(ctx)
	if err != nil {
		return err
	}
	statsAfter, err := b.commandStats(ctx)
	if err != nil {
		return err
	}
	b.res.e2e = perSecond(int64(b.accepted), r.elapsed)
	b.figure("e2e_seconds", "%.2f", r.elapsed.Seconds())
	b.figure("e2e_first_commit_seconds", "%.2f", r.firstWork.Seconds())
	b.figure("e2e_events_per_s", "%.0f", b.res.e2e)
	b.figure("e2e_steady_events_per_s", "%.0f", r.steadyRate(b.accepted))
	b.figure("peak_rss_mib", "%.1f", float64(r.maxRSSKiB)/1024)
	r.report(b, "e2e", b.accepted)
	b.reportCommandStats("e2e", statsBefore, statsAfter, b.accepted)

	// What the resolver keeps per document.
	docs, err := b.redisDocuments(ctx, cfg.RedisPrefix)
	if err != nil {
		return err
	}
	if docs != int64(b.documents) {
		b.progress("WARNING: Redis holds %d documents, the data set names %d", docs, b.documents)
		if err := b.explainMissing(ctx, cfg); err != nil {
			b.progress("explaining the missing documents: %v", err)
		}
	}
	keyBytes, keys, err := b.keyBytes(ctx, cfg.RedisPrefix)
	if err != nil {
		return err
	}
	b.figure("redis_documents", "%d", docs)
	b.figure("redis_keys", "%d", keys)
	perDoc := float64(memAfter-memBefore) / float64(max(docs, 1))
	b.figure("redis_bytes_per_doc", "%.0f", perDoc)
	b.figure("redis_key_bytes_per_doc", "%.0f", float64(keyBytes)/float64(max(docs, 1)))
	b.extraTargets = append(b.extraTargets, targetLE("redis_bytes_per_doc<=400", perDoc, 400))
	return nil
}

// stages runs the resolver and the sink alone, each in fresh groups and a
// fresh Redis prefix or database, over the same topics. The sink runs first,
// reading the identity changes the e2e phase published.
func (b *bench) stages(ctx context.Context) error {
	cfg := b.namespace("analytics", b.data)
	defer b.release(ctx, cfg)
	r, err := b.runChild(ctx, "analytics", cfg, []string{"--only", "analytics"}, b.waitAll(cfg, false, true))
	if err != nil {
		return fmt.Errorf("analytics stage: %w", err)
	}
	rate := perSecond(int64(b.accepted), r.elapsed)
	b.figure("analytics_events_per_s", "%.0f", rate)
	b.figure("analytics_steady_events_per_s", "%.0f", r.steadyRate(b.accepted))
	b.figure("analytics_peak_rss_mib", "%.1f", float64(r.maxRSSKiB)/1024)
	r.report(b, "analytics", b.accepted)
	b.release(ctx, cfg)

	cfg = b.namespace("resolver", b.data)
	defer b.release(ctx, cfg)
	statsBefore, err := b.commandStats(ctx)
	if err != nil {
		return err
	}
	r, err = b.runChild(ctx, "resolver", cfg, []string{"--only", "resolver"}, b.waitAll(cfg, true, false))
	if err != nil {
		return fmt.Errorf("resolver stage: %w", err)
	}
	statsAfter, err := b.commandStats(ctx)
	if err != nil {
		return err
	}
	b.figure("resolution_events_per_s", "%.0f", perSecond(int64(b.accepted), r.elapsed))
	b.figure("resolution_steady_events_per_s", "%.0f", r.steadyRate(b.accepted))
	b.figure("resolution_peak_rss_mib", "%.1f", float64(r.maxRSSKiB)/1024)
	r.report(b, "resolution", b.accepted)
	b.reportCommandStats("resolution", statsBefore, statsAfter, b.accepted)
	return nil
}

// waitAll returns a waitFunc for a child running the resolver and/or the
// sink in cfg: done when the resolver group has committed the end of the
// agency topics, then the sink group the end of those and of the identity
// changes, and ClickHouse counts every event. The progress it reports is
// the resolver's until it has caught up, then the sink's.
func (b *bench) waitAll(cfg *pipeline.Config, resolver, sink bool) waitFunc {
	topics := cfg.Topics()
	var store *analytics.Store
	return func(ctx context.Context) (bool, int64, int64, error) {
		if resolver {
			g, err := b.progressOf(ctx, cfg.Group("resolver"), topics.AllAgencies())
			if err != nil || !g.caught || !sink {
				return err == nil && g.caught, g.committed, g.end, err
			}
		}
		// Checked after the resolver caught up, so the changes topic is
		// complete.
		g, err := b.progressOf(ctx, cfg.Group("analytics"), append(topics.AllAgencies(), topics.IdentityChanges()))
		if err != nil || !g.caught {
			return false, g.committed, g.end, err
		}
		if store == nil {
			s, err := analytics.Open(ctx, cfg)
			if err != nil {
				return false, g.committed, g.end, err
			}
			store = s
		}
		n, err := countEvents(ctx, store)
		if err != nil {
			return false, g.committed, g.end, err
		}
		if n < uint64(b.accepted) {
			b.progress("caught up but ClickHouse counts %d of %d events; waiting", n, b.accepted)
			return false, g.committed, g.end, nil
		}
		store.Close()
		store = nil
		return true, g.committed, g.end, nil
	}
}

// countEvents counts the distinct events in event_documents.
func countEvents(ctx context.Context, s *analytics.Store) (uint64, error) {
	var n uint64
	if err := s.Conn().QueryRow(ctx, "SELECT uniqExact(event_id) FROM event_documents").Scan(&n); err != nil {
		return 0, fmt.Errorf("counting events in ClickHouse: %w", err)
	}
	return n, nil
}

// targetLE formats a target that v must not exceed.
func targetLE(name string, v, limit float64) string {
	if v <= limit {
		return name + "=met"
	}
	return name + "=MISSED"
}

// targetGE formats a target that v must reach.
func targetGE(name string, v, limit float64) string {
	if v >= limit {
		return name + "=met"
	}
	return name + "=MISSED"
}
