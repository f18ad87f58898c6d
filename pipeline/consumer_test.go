package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/internal/stacktest"
	"github.com/idlink/idlink/pipeline"
)

// recorder is a Handler that fails its first call and then records every
// batch; it can hold a batch until released.
type recorder struct {
	mu       sync.Mutex
	calls    int
	failed   []int64 // offsets of the batch whose first attempt failed
	retried  []int64 // offsets of the next attempt
	handled  map[int64]int
	maxBatch int
	block    func(calls int) bool // hold this call until ctx is done
}

func offsets(msgs []kafka.Message) []int64 {
	out := make([]int64, len(msgs))
	for i, m := range msgs {
		out[i] = m.Offset
	}
	return out
}

func (r *recorder) Handle(ctx context.Context, msgs []kafka.Message) error {
	r.mu.Lock()
	r.calls++
	calls := r.calls
	switch calls {
	case 1:
		r.failed = offsets(msgs)
		r.mu.Unlock()
		return errors.New("first attempt fails")
	case 2:
		r.retried = offsets(msgs)
	}
	r.maxBatch = max(r.maxBatch, len(msgs))
	r.mu.Unlock()
	if r.block != nil && r.block(calls) {
		<-ctx.Done()
		return ctx.Err()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range msgs {
		r.handled[m.Offset]++
	}
	return nil
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.handled)
}

// produceN writes n messages to one partition of topic.
func produceN(t *testing.T, cfg *pipeline.Config, topic string, n int) {
	t.Helper()
	w, err := cfg.NewWriter(pipeline.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		msgs[i] = kafka.Message{Topic: topic, Key: []byte("one-key"), Value: fmt.Appendf(nil, "m%d", i)}
	}
	if err := w.WriteMessages(context.Background(), msgs...); err != nil {
		t.Fatal(err)
	}
}

// TestWriterSplitsBigBatches writes, in one call, more incompressible bytes
// to one partition than the broker takes in one record batch (message.max.bytes,
// 1,048,588 by default): NewWriter's writer must split them into requests
// the broker accepts, and every message must arrive.
func TestWriterSplitsBigBatches(t *testing.T) {
	cfg := stacktest.Config(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topic := cfg.Topics().Agency("mps")
	if err := cfg.EnsureTopics(ctx, topic); err != nil {
		t.Fatal(err)
	}
	w, err := cfg.NewWriter(pipeline.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const n, size = 4000, 1000 // 4 MB, in batches of up to 5,000 messages
	rng := rand.New(rand.NewPCG(1, 2))
	msgs := make([]kafka.Message, n)
	for i := range msgs {
		v := make([]byte, size)
		for j := range v {
			v[j] = byte(rng.Uint32())
		}
		msgs[i] = kafka.Message{Topic: topic, Key: []byte("one-key"), Value: v}
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("writing %d messages of %d random bytes to one partition: %v", n, size, err)
	}
	if st := w.Stats(); st.Messages != n || st.Errors != 0 {
		t.Fatalf("writer stats: %d messages, %d errors; want %d, 0", st.Messages, st.Errors, n)
	}
}

// TestRunConsumer runs RunConsumer on the real Kafka: a failed batch is
// retried whole with nothing committed, every message is handled, no batch
// exceeds MaxBatch, shutdown commits every handled batch, and a batch still
// being handled at shutdown is not committed.
func TestRunConsumer(t *testing.T) {
	cfg := stacktest.Config(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic := cfg.Topics().Agency("mps")
	if err := cfg.EnsureTopics(ctx, topic); err != nil {
		t.Fatal(err)
	}
	const n, maxBatch = 2500, 700
	produceN(t, cfg, topic, n)

	o := pipeline.ConsumerOptions{Name: "test", Group: cfg.Group("test"), Topics: []string{topic},
		MaxBatch: maxBatch, MaxWait: 50 * time.Millisecond, BackoffMin: 10 * time.Millisecond}
	rec := &recorder{handled: map[int64]int{}}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cfg.RunConsumer(runCtx, o, rec) }()
	for rec.count() < n && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("RunConsumer: %v", err)
	}
	if len(rec.handled) != n {
		t.Fatalf("%d of %d messages handled", len(rec.handled), n)
	}
	// Stopped as soon as the last batch was handled: its offsets are still
	// committed (the reader flushes them on Close).
	if got := committedSum(ctx, t, cfg, o.Group, topic); got != n {
		t.Errorf("after shutdown, %d messages committed, want %d", got, n)
	}
	if rec.maxBatch > maxBatch {
		t.Errorf("a batch of %d messages, MaxBatch is %d", rec.maxBatch, maxBatch)
	}
	if len(rec.failed) == 0 || fmt.Sprint(rec.failed) != fmt.Sprint(rec.retried) {
		t.Errorf("the failed batch %v was retried as %v", rec.failed, rec.retried)
	}

	// Shutdown while a batch is in hand: it is not committed.
	produceN(t, cfg, topic, 10)
	held := make(chan struct{})
	var once sync.Once
	rec2 := &recorder{handled: map[int64]int{}, calls: 2, block: func(int) bool {
		once.Do(func() { close(held) })
		return true
	}}
	runCtx, stop = context.WithCancel(ctx)
	go func() { done <- cfg.RunConsumer(runCtx, o, rec2) }()
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatal("no batch was handed over")
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("RunConsumer: %v", err)
	}
	if got := committedSum(ctx, t, cfg, o.Group, topic); got != n {
		t.Errorf("after shutdown mid-batch, %d messages committed, want %d", got, n)
	}
}

// committedSum is the number of messages of topic the group has committed.
func committedSum(ctx context.Context, t *testing.T, cfg *pipeline.Config, group, topic string) int64 {
	t.Helper()
	committed, err := cfg.CommittedOffsets(ctx, group, []string{topic})
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, off := range committed[topic] {
		sum += max(off, 0) // -1: nothing committed
	}
	return sum
}
