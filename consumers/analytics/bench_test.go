package analytics_test

import (
	"context"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/analytics/analyticstest"
	sink "github.com/idlink/idlink/consumers/analytics"
)

// BenchmarkSinkInsert measures the sink's insert rate into the local stack's
// ClickHouse: each op hands one RunConsumer-sized batch (BatchSize agency
// events, a quarter naming two documents) to Handle, which decodes the Avro
// messages and writes them with one batch INSERT. Target: at least 100,000
// events/s.
func BenchmarkSinkInsert(b *testing.B) {
	const batch = sink.BatchSize
	ctx := context.Background()
	cfg := analyticstest.Config(b)
	s := newSink(b, cfg, nil)
	enc := &encoder{t: b, codec: newCodec(b), topics: cfg.Topics()}
	// A few distinct batches, so not every op writes the same ids.
	var batches [][]kafka.Message
	for i := range 8 {
		data := makeSynthetic(uint64(100+i), batch/2, batch, false)
		msgs := make([]kafka.Message, 0, batch)
		for _, e := range data.events {
			msgs = append(msgs, enc.event(e))
		}
		batches = append(batches, msgs)
	}
	b.ResetTimer()
	start := time.Now()
	n := 0
	for b.Loop() {
		if err := s.Handle(ctx, batches[n%len(batches)]); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n*batch)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkSinkInsertChanges measures identity changes (each with one or two
// persons of one to three documents) per second through Handle.
func BenchmarkSinkInsertChanges(b *testing.B) {
	ctx := context.Background()
	cfg := analyticstest.Config(b)
	s := newSink(b, cfg, nil)
	enc := &encoder{t: b, codec: newCodec(b), topics: cfg.Topics()}
	data := makeSynthetic(3, 10000, 0, true)
	msgs := make([]kafka.Message, 0, len(data.changes))
	for _, c := range data.changes {
		msgs = append(msgs, enc.change(c))
	}
	b.ResetTimer()
	start := time.Now()
	n := 0
	for b.Loop() {
		if err := s.Handle(ctx, msgs); err != nil {
			b.Fatal(err)
		}
		n += len(msgs)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "changes/s")
}
