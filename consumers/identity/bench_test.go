package identity

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/internal/stacktest"
	"github.com/idlink/idlink/schemas"
)

// discardPub drops published messages (the bench measures Redis and CPU).
type discardPub struct{}

func (discardPub) WriteMessages(context.Context, ...kafka.Message) error { return nil }

// syntheticBatch makes n events over n/2 persons: each person's first event
// names two documents, its second names one of them and a third.
func syntheticBatch(codec *schemas.Codec, start, n int) []kafka.Message {
	msgs := make([]kafka.Message, 0, n)
	for i := start; i < start+n; i++ {
		p := i / 2
		docs := []string{fmt.Sprintf("R%d", p), fmt.Sprintf("M%d", p)}
		if i%2 == 1 {
			docs = []string{fmt.Sprintf("M%d", p), fmt.Sprintf("P%d", p)}
		}
		ev := &schemas.Event{EventID: fmt.Sprintf("ev-%d", i), Type: "identity.verified", Agency: "nia", OccurredAt: time.Unix(int64(i), 0)}
		for _, d := range docs {
			ev.Documents = append(ev.Documents, schemas.DocumentRef{Type: docType(d), Token: tok(d)})
		}
		b, _ := codec.EncodeEvent(ev)
		msgs = append(msgs, kafka.Message{Topic: "events.nia", Value: b})
	}
	return msgs
}

func BenchmarkResolveRedis(b *testing.B) {
	cfg := stacktest.Config(b)
	rdb := redisClient(b, cfg)
	codec, _ := schemas.NewCodec()
	res := New(NewRedisStore(rdb, cfg.RedisPrefix, 0), codec, discardPub{}, Options{})
	const batch = 10000
	var batches [][]kafka.Message
	for i := 0; i < 10; i++ {
		batches = append(batches, syntheticBatch(codec, i*batch, batch))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := res.Handle(context.Background(), batches[i%len(batches)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkResolveMem is the resolver's own CPU cost, with an in-memory store.
func BenchmarkResolveMem(b *testing.B) {
	codec, _ := schemas.NewCodec()
	mem := newMemStore()
	res := New(mem.handle(), codec, discardPub{}, Options{})
	const batch = 10000
	var batches [][]kafka.Message
	for i := 0; i < b.N; i++ {
		batches = append(batches, syntheticBatch(codec, i*batch, batch))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := res.Handle(context.Background(), batches[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}
