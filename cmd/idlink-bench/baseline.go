package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/schemas"
)

// baselineBatch is how many events the naive sink inserts at once.
const baselineBatch = 100

// baseline runs the deliberately naive path over -baseline-n events: a
// consumer-group reader handing over one message at a time, a resolver that
// sends one Redis command per round trip, and a sink that inserts (and
// commits offsets) every 100 events. The clock starts at the first message,
// so joining the group is not counted.
func (b *bench) baseline(ctx context.Context) error {
	cfg := b.namespace("baseline", b.data)
	defer b.release(ctx, cfg)
	store, err := analytics.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		return err
	}
	r, err := cfg.NewReader(pipeline.ReaderOptions{Group: cfg.Group("baseline"), Topics: cfg.Topics().AllAgencies()})
	if err != nil {
		return err
	}
	defer r.Close()
	n := b.opts.baselineN
	res := &naiveResolver{rdb: b.rdb, prefix: cfg.RedisPrefix}
	var (
		start   time.Time
		pending = make([]*schemas.Event, 0, baselineBatch)
		msgs    = make([]kafka.Message, 0, baselineBatch)
		done    int
	)
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if err := store.InsertEvents(ctx, pending, time.Now()); err != nil {
			return err
		}
		if err := r.CommitMessages(ctx, msgs...); err != nil {
			return fmt.Errorf("committing offsets: %w", err)
		}
		done += len(pending)
		pending, msgs = pending[:0], msgs[:0]
		return nil
	}
	fctx, cancel := context.WithTimeout(ctx, b.opts.phaseTimeout)
	defer cancel()
	for done+len(pending) < n {
		m, err := r.FetchMessage(fctx)
		if err != nil {
			return fmt.Errorf("reading the agency topics: %w", err)
		}
		if start.IsZero() {
			start = time.Now()
		}
		ev, err := b.codec.DecodeEvent(m.Value)
		if err != nil {
			return fmt.Errorf("decoding %s/%d/%d: %w", m.Topic, m.Partition, m.Offset, err)
		}
		if err := res.resolve(ctx, ev); err != nil {
			return err
		}
		pending, msgs = append(pending, ev), append(msgs, m)
		if len(pending) == baselineBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	elapsed := time.Since(start)
	b.res.baseline = perSecond(int64(done), elapsed)
	b.figure("baseline_events", "%d", done)
	b.figure("baseline_redis_round_trips_per_event", "%.2f", float64(res.roundTrips)/float64(max(done, 1)))
	b.figure("baseline_events_per_s", "%.0f", b.res.baseline)
	return nil
}

// naiveResolver is the baseline's identity resolution: a flat map from
// document to person, one Redis command per round trip. Per event it reads
// the event's marker and each document's person, then writes each document
// that is new or elsewhere (a union by overwriting, without moving the other
// person's documents) and the marker. It knows nothing of conflicts,
// retractions or order: it is only here to be timed.
type naiveResolver struct {
	rdb        redis.UniversalClient
	prefix     string
	roundTrips int
}

func (n *naiveResolver) resolve(ctx context.Context, ev *schemas.Event) error {
	n.roundTrips++
	seen, err := n.rdb.Exists(ctx, n.prefix+"ev:"+ev.EventID).Result()
	if err != nil {
		return fmt.Errorf("baseline: reading the event marker: %w", err)
	}
	if seen > 0 {
		return nil
	}
	person := ""
	owners := make([]string, len(ev.Documents))
	for i, d := range ev.Documents {
		n.roundTrips++
		p, err := n.rdb.Get(ctx, n.prefix+"doc:"+d.Token).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("baseline: reading a document: %w", err)
		}
		owners[i] = p
		if person == "" {
			person = p
		}
	}
	if person == "" {
		person = "P" + ev.EventID
	}
	for i, d := range ev.Documents {
		if owners[i] == person {
			continue
		}
		n.roundTrips++
		if err := n.rdb.Set(ctx, n.prefix+"doc:"+d.Token, person, 0).Err(); err != nil {
			return fmt.Errorf("baseline: writing a document: %w", err)
		}
	}
	n.roundTrips++
	if err := n.rdb.Set(ctx, n.prefix+"ev:"+ev.EventID, person, 0).Err(); err != nil {
		return fmt.Errorf("baseline: writing the event marker: %w", err)
	}
	return nil
}
