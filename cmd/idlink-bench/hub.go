package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/idlink/idlink/consumers/identity"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/producers"
)

// The hub phase's targets (issue 15): a chain event may cost the resolver
// at most twice an ordinary event's Redis bytes written and CPU, and the
// chain may make ordinary traffic next to it at most 1.5 times slower at p99.
const (
	hubTargetCostRatio    = 2
	hubTargetLatencyRatio = 1.5
)

// hub measures what a bad feed costs the resolver: a chain of -hub-chain
// conflicting events (event k names the Taiwan travel permits of persons k
// and k+1, so it is held, and every one joins the same cluster). The
// resolver runs as `idlink run --only resolver` in a child process; the
// phase produces from this process. In order:
//
//  1. seed: one travel_permit.issued per person (a travel permit and a
//     passport), not timed;
//  2. ordinary: identity.verified events naming a random person's two
//     documents, trickling at -hub-rate per second for -hub-seconds: Redis
//     bytes written (INFO total_net_input_bytes) and child CPU per event;
//  3. latency without the chain: the same kind of events at -hub-latency-rate
//     per second for -hub-seconds, each timed from when it was due to when
//     its event id is in Redis (polled every 5 ms): p50, p99;
//  4. chain: the chain events trickling at -hub-rate: bytes and CPU per event;
//  5. latency with the chain: as 3, for persons inside the chain now.
//
// Every window ends when the resolver group has committed all it was given.
func (b *bench) hub(ctx context.Context) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cfg := b.namespace("hub", nil)
	defer b.release(ctx, cfg)
	chain := b.opts.hubChain
	persons := chain + 1
	if err := cfg.EnsureTopics(ctx, cfg.Topics().All()...); err != nil {
		return err
	}
	p, err := producers.New(ctx, cfg, b.codec, producers.Options{BatchSize: 1000})
	if err != nil {
		return err
	}
	defer p.Close()
	store := identity.NewRedisStore(b.rdb, cfg.RedisPrefix, 0)
	h := &hubFeed{b: b, cfg: cfg, p: p, store: store, persons: persons, r: rand.New(rand.NewPCG(uint64(b.opts.seed), 15))}

	var seed bytes.Buffer
	for k := range persons {
		h.line(&seed, "s", k, "travel_permit.issued", "nia", []hubDoc{{"taiwan_travel_permit", ttp(k)}, {"passport", passport(k)}}, nil)
	}
	if err := h.produce(ctx, seed.Bytes()); err != nil {
		return fmt.Errorf("seeding: %w", err)
	}
	child, err := b.startChild(ctx, cfg, "hub", []string{"--only", "resolver"}, func(err error) { cancel(err) })
	if err != nil {
		return err
	}
	defer child.stop()
	if err := b.waitCaughtUp(ctx, cfg.Group("resolver"), cfg.Topics().AllAgencies(), b.opts.phaseTimeout); err != nil {
		return fmt.Errorf("seeding: %w", errors.Join(err, context.Cause(ctx)))
	}
	b.settle(ctx, "hub")

	events := int(float64(b.opts.hubRate) * b.opts.hubSeconds)
	ordinary, err := h.window(ctx, child, events, b.opts.hubRate, func(buf *bytes.Buffer, i int) {
		h.ordinary(buf, "o", i)
	})
	if err != nil {
		return fmt.Errorf("ordinary events: %w", errors.Join(err, context.Cause(ctx)))
	}
	before, err := h.latency(ctx, "l", b.opts.hubLatencyRate)
	if err != nil {
		return fmt.Errorf("latency without the chain: %w", errors.Join(err, context.Cause(ctx)))
	}
	chained, err := h.window(ctx, child, chain, b.opts.hubRate, func(buf *bytes.Buffer, i int) {
		h.line(buf, "c", i, "identity.verified", "platform", []hubDoc{{"taiwan_travel_permit", ttp(i)}, {"taiwan_travel_permit", ttp(i + 1)}}, hubAttrs)
	})
	if err != nil {
		return fmt.Errorf("chain events: %w", errors.Join(err, context.Cause(ctx)))
	}
	after, err := h.latency(ctx, "m", b.opts.hubLatencyRate)
	if err != nil {
		return fmt.Errorf("latency with the chain: %w", errors.Join(err, context.Cause(ctx)))
	}
	if err := child.stop(); err != nil {
		return err
	}
	conflicts, err := store.Conflicts(ctx)
	if err != nil {
		return err
	}

	b.figure("hub_chain_events", "%d", chain)
	b.figure("hub_conflicts", "%d", len(conflicts))
	b.figure("hub_ordinary_redis_bytes_per_event", "%.0f", ordinary.bytesPerEvent())
	b.figure("hub_chain_redis_bytes_per_event", "%.0f", chained.bytesPerEvent())
	b.figure("hub_ordinary_cpu_us_per_event", "%.1f", ordinary.cpuPerEvent())
	b.figure("hub_chain_cpu_us_per_event", "%.1f", chained.cpuPerEvent())
	b.figure("hub_chain_seconds", "%.1f", chained.elapsed.Seconds())
	b.figure("hub_p50_ms_without_chain", "%.2f", percentile(before, 0.5))
	b.figure("hub_p99_ms_without_chain", "%.2f", percentile(before, 0.99))
	b.figure("hub_p50_ms_with_chain", "%.2f", percentile(after, 0.5))
	b.figure("hub_p99_ms_with_chain", "%.2f", percentile(after, 0.99))
	bytesRatio := chained.bytesPerEvent() / max(ordinary.bytesPerEvent(), 1)
	cpuRatio := chained.cpuPerEvent() / max(ordinary.cpuPerEvent(), 0.1)
	p99Ratio := percentile(after, 0.99) / max(percentile(before, 0.99), 0.01)
	b.figure("hub_redis_bytes_ratio", "%.2f", bytesRatio)
	b.figure("hub_cpu_ratio", "%.2f", cpuRatio)
	b.figure("hub_p99_ratio", "%.2f", p99Ratio)
	b.extraTargets = append(b.extraTargets,
		targetLE(fmt.Sprintf("hub_redis_bytes_ratio<=%d", hubTargetCostRatio), bytesRatio, hubTargetCostRatio),
		targetLE(fmt.Sprintf("hub_cpu_ratio<=%d", hubTargetCostRatio), cpuRatio, hubTargetCostRatio),
		targetLE(fmt.Sprintf("hub_p99_ratio<=%.1f", hubTargetLatencyRatio), p99Ratio, hubTargetLatencyRatio))
	if len(conflicts) < chain {
		return fmt.Errorf("%d conflicts held for %d chain events: the chain is not what this phase measures", len(conflicts), chain)
	}
	return nil
}

// hubAttrs are the attributes of the hub phase's identity.verified events.
var hubAttrs = map[string]string{"relying_party": "hub_rp", "outcome": "passed"}

// ttp and passport are person k's documents.
func ttp(k int) string      { return strconv.Itoa(10_000_000 + k) }
func passport(k int) string { return fmt.Sprintf("HB%07d", k) }

type hubDoc struct{ typ, number string }

// hubFeed writes and produces the hub phase's events.
type hubFeed struct {
	b       *bench
	cfg     *pipeline.Config
	p       *producers.Producer
	store   *identity.RedisStore
	persons int
	r       *rand.Rand
}

// eventID is the event_id of event i of kind.
func hubEventID(kind string, i int) string { return "hub-" + kind + "-" + strconv.Itoa(i) }

// line appends one event, occurring now, to buf.
func (h *hubFeed) line(buf *bytes.Buffer, kind string, i int, typ, agency string, docs []hubDoc, attrs map[string]string) {
	fmt.Fprintf(buf, `{"event_id":%q,"type":%q,"agency":%q,"occurred_at":%q,"documents":[`,
		hubEventID(kind, i), typ, agency, time.Now().UTC().Format(time.RFC3339Nano))
	for j, d := range docs {
		if j > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(buf, `{"type":%q,"number":%q}`, d.typ, d.number)
	}
	buf.WriteByte(']')
	if len(attrs) > 0 {
		buf.WriteString(`,"attrs":{`)
		keys := make([]string, 0, len(attrs))
		for k := range attrs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for j, k := range keys {
			if j > 0 {
				buf.WriteByte(',')
			}
			fmt.Fprintf(buf, `%q:%q`, k, attrs[k])
		}
		buf.WriteByte('}')
	}
	buf.WriteString("}\n")
}

// ordinary appends an identity.verified naming a random person's documents.
func (h *hubFeed) ordinary(buf *bytes.Buffer, kind string, i int) {
	k := h.r.IntN(h.persons)
	h.line(buf, kind, i, "identity.verified", "platform", []hubDoc{{"taiwan_travel_permit", ttp(k)}, {"passport", passport(k)}}, hubAttrs)
}

func (h *hubFeed) produce(ctx context.Context, lines []byte) error {
	res, err := h.p.ProduceFile(ctx, bytes.NewReader(lines), "idlink-bench-hub")
	if err == nil && res.Rejected > 0 {
		err = fmt.Errorf("%d of the phase's own events were rejected: %v", res.Rejected, res.Reasons)
	}
	return err
}

// hubCost is what one trickling window cost.
type hubCost struct {
	events  int
	bytes   int64         // written to Redis (by every client; only the resolver writes meanwhile)
	cpu     time.Duration // of the resolver process
	elapsed time.Duration
}

func (c hubCost) bytesPerEvent() float64 { return float64(c.bytes) / float64(max(c.events, 1)) }
func (c hubCost) cpuPerEvent() float64 {
	return float64(c.cpu.Microseconds()) / float64(max(c.events, 1))
}

// window produces n events at rate per second, a ProduceFile per 10 ms,
// and waits until the resolver has committed them.
func (h *hubFeed) window(ctx context.Context, child *childProcess, n, rate int, write func(*bytes.Buffer, int)) (hubCost, error) {
	in0, err := h.b.redisInputBytes(ctx)
	if err != nil {
		return hubCost{}, err
	}
	cpu0 := child.cpu()
	begin := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var buf bytes.Buffer
	for sent := 0; sent < n; {
		select {
		case <-ctx.Done():
			return hubCost{}, ctx.Err()
		case <-tick.C:
		}
		due := min(n, int(time.Since(begin).Seconds()*float64(rate)))
		if due <= sent {
			continue
		}
		buf.Reset()
		for ; sent < due; sent++ {
			write(&buf, sent)
		}
		if err := h.produce(ctx, buf.Bytes()); err != nil {
			return hubCost{}, err
		}
	}
	if err := h.b.waitCaughtUp(ctx, h.cfg.Group("resolver"), h.cfg.Topics().AllAgencies(), h.b.opts.phaseTimeout); err != nil {
		return hubCost{}, err
	}
	in1, err := h.b.redisInputBytes(ctx)
	if err != nil {
		return hubCost{}, err
	}
	return hubCost{events: n, bytes: in1 - in0, cpu: child.cpu() - cpu0, elapsed: time.Since(begin)}, nil
}

// latency produces ordinary events at rate per second for -hub-seconds and
// returns each one's time from when it was due until its event id was seen
// in Redis.
func (h *hubFeed) latency(ctx context.Context, kind string, rate int) ([]time.Duration, error) {
	n := int(float64(rate) * h.b.opts.hubSeconds)
	due := make([]time.Time, n)
	lat := make([]time.Duration, n)
	var mu sync.Mutex
	pending := map[string]int{} // event id -> index, produced and not seen yet
	stop := make(chan struct{})
	pollErr := make(chan error, 1)
	go func() {
		// Polls the resolver's event pointers every 5 ms.
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				pollErr <- nil
				return
			case <-tick.C:
			}
			mu.Lock()
			ids := make([]string, 0, len(pending))
			for id := range pending {
				ids = append(ids, id)
			}
			mu.Unlock()
			if len(ids) == 0 {
				continue
			}
			_, seen, err := h.store.Lookup(ctx, nil, ids)
			if err != nil {
				pollErr <- err
				return
			}
			now := time.Now()
			mu.Lock()
			for id := range seen {
				if i, ok := pending[id]; ok {
					lat[i] = now.Sub(due[i])
					delete(pending, id)
				}
			}
			mu.Unlock()
		}
	}()
	begin := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	var buf bytes.Buffer
	var err error
	for sent := 0; sent < n && err == nil; {
		select {
		case <-ctx.Done():
			err = ctx.Err()
			continue
		case <-tick.C:
		}
		d := min(n, int(time.Since(begin).Seconds()*float64(rate)))
		if d <= sent {
			continue
		}
		buf.Reset()
		mu.Lock()
		for ; sent < d; sent++ {
			due[sent] = begin.Add(time.Duration(float64(sent) / float64(rate) * float64(time.Second)))
			pending[hubEventID(kind, sent)] = sent
			h.ordinary(&buf, kind, sent)
		}
		mu.Unlock()
		err = h.produce(ctx, buf.Bytes())
	}
	tick.Stop()
	if err == nil {
		err = h.b.waitCaughtUp(ctx, h.cfg.Group("resolver"), h.cfg.Topics().AllAgencies(), h.b.opts.phaseTimeout)
	}
	if err == nil {
		// The last poll sees every event the resolver committed.
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			left := len(pending)
			mu.Unlock()
			if left == 0 {
				break
			}
			if time.Now().After(deadline) {
				err = fmt.Errorf("%d events committed by the resolver are not in Redis", left)
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	close(stop)
	if perr := <-pollErr; err == nil {
		err = perr
	}
	if err != nil {
		return nil, err
	}
	slices.Sort(lat)
	return lat, nil
}

// redisInputBytes is Redis' total_net_input_bytes: every byte clients have
// sent it.
func (b *bench) redisInputBytes(ctx context.Context) (int64, error) {
	info, err := b.rdb.Info(ctx, "stats").Result()
	if err != nil {
		return 0, fmt.Errorf("reading Redis INFO stats: %w", err)
	}
	v := infoField(info, "total_net_input_bytes")
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("Redis INFO stats: total_net_input_bytes %q: %w", v, err)
	}
	return n, nil
}
