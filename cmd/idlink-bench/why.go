package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/consumers/identity"
	"github.com/idlink/idlink/eventtypes"
	"github.com/idlink/idlink/producers"
	"github.com/idlink/idlink/schemas"
)

// whyEvents is how many events name the person the why phase explains.
const whyEvents = 1000

// why resolves one person named by whyEvents events (a residence permit and
// travel permit issued, then verifications naming them with a new passport
// now and then) on the real Redis, then times `idlink why` for it (the
// explanation, without the process start): the median of 21 calls.
func (b *bench) why(ctx context.Context) error {
	cfg := b.namespace("why", b.data)
	defer b.release(ctx, cfg)
	ps := producers.NewPseudonymizer([]byte("idlink-bench-why"))
	rp := ps.Token("residence_permit", "810000199002110016")
	tp := ps.Token("mainland_travel_permit", "H12345678")
	msgs := make([]kafka.Message, 0, whyEvents)
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range whyEvents {
		ev := &schemas.Event{EventID: fmt.Sprintf("why-%04d", i), Type: eventtypes.IdentityVerified, Agency: eventtypes.Platform,
			OccurredAt: at.Add(time.Duration(i) * time.Hour),
			Documents:  []schemas.DocumentRef{{Type: "residence_permit", Token: rp, BirthDate: "1990-02-11"}, {Type: "mainland_travel_permit", Token: tp}}}
		if i%10 == 0 {
			ev.Documents = append(ev.Documents, schemas.DocumentRef{Type: "passport", Token: ps.Token("passport", fmt.Sprintf("P%07d", i))})
		}
		v, err := b.codec.EncodeEvent(ev)
		if err != nil {
			return err
		}
		msgs = append(msgs, kafka.Message{Topic: cfg.Topics().Agency(eventtypes.Platform), Value: v})
	}
	store := identity.NewRedisStore(b.rdb, cfg.RedisPrefix, 0)
	res := identity.New(store, b.codec, discard{}, identity.Options{Topics: cfg.Topics()})
	if err := res.Handle(ctx, msgs); err != nil {
		return fmt.Errorf("resolving the person: %w", err)
	}
	var times []time.Duration
	for range 21 {
		start := time.Now()
		x, err := identity.ExplainDocument(ctx, store, rp)
		if err != nil {
			return err
		}
		times = append(times, time.Since(start))
		if x == nil || len(x.Events) != whyEvents {
			return fmt.Errorf("the explanation lists %v events, want %d", x, whyEvents)
		}
	}
	slices.Sort(times)
	ms := float64(times[len(times)/2].Microseconds()) / 1000
	b.figure("why_1000_events_ms", "%.1f", ms)
	b.extraTargets = append(b.extraTargets, targetLE("why_1000_events<=100ms", ms, 100))
	return nil
}

// discard publishes nothing.
type discard struct{}

func (discard) WriteMessages(context.Context, ...kafka.Message) error { return nil }
