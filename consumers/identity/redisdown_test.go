package identity

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/internal/stacktest"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/schemas"
)

// TestRedisDown runs the resolver consumer on real Kafka with Redis cut off
// behind a proxy: it must commit no offset while Redis is away, and resolve
// every event once Redis is back.
func TestRedisDown(t *testing.T) {
	cfg := stacktest.Config(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	redisURL, err := url.Parse(cfg.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	p := &stacktest.Proxy{T: t, Target: redisURL.Host}
	p.Start()
	p.Stop() // Redis is "down" from the start
	t.Cleanup(p.Stop)
	pcfg := *cfg
	redisURL.Host = p.Addr // the same scheme (TLS or not), user and database
	pcfg.RedisURL = redisURL.String()

	// Publish 200 events for 100 persons.
	if err := cfg.EnsureTopics(ctx, cfg.Topics().All()...); err != nil {
		t.Fatal(err)
	}
	w, err := cfg.NewWriter(pipeline.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []kafka.Message
	for _, m := range syntheticBatch(codec, 0, 200) {
		m.Topic = cfg.Topics().Agency("nia")
		msgs = append(msgs, m)
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()

	rdb := redisClient(t, &pcfg)
	pub, err := cfg.NewWriter(pipeline.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	res := New(NewRedisStore(rdb, cfg.RedisPrefix, 0), codec, pub, Options{Topics: cfg.Topics()})
	m := pipeline.NewMetrics()
	opts := pipeline.ConsumerOptions{Name: "resolver", Group: cfg.Group("resolver"), Topics: cfg.Topics().AllAgencies(),
		MaxWait: 100 * time.Millisecond, BackoffMax: 500 * time.Millisecond, Metrics: m}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cfg.RunConsumer(runCtx, opts, res) }()

	// Wait until a batch has failed against the stopped proxy (on a loaded
	// machine joining the group alone can take seconds), then a little more.
	for counterValue(t, m, "idlink_batch_retries_total") < 1 {
		if ctx.Err() != nil {
			t.Fatal("no batch was retried while Redis was down")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	committed, err := cfg.CommittedOffsets(ctx, opts.Group, opts.Topics)
	if err != nil {
		t.Fatal(err)
	}
	for topic, ps := range committed {
		for part, off := range ps {
			if off > 0 {
				t.Fatalf("offset %d committed on %s/%d while Redis was down", off, topic, part)
			}
		}
	}
	p.Start() // Redis is back
	for {
		ok, err := cfg.CaughtUp(ctx, opts.Group, opts.Topics)
		if err == nil && ok {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("resolver did not catch up after Redis came back")
		}
		time.Sleep(200 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	direct := redisClient(t, cfg)
	store := NewRedisStore(direct, cfg.RedisPrefix, 0)
	for i := 0; i < 100; i++ {
		a, err1 := LookupDocument(ctx, store, tok(fmt.Sprintf("R%d", i)))
		b, err2 := LookupDocument(ctx, store, tok(fmt.Sprintf("P%d", i)))
		if err1 != nil || err2 != nil || a == nil || b == nil || a.PersonID != b.PersonID || len(a.Documents) != 3 {
			t.Fatalf("person %d not resolved after Redis came back: %v %v %v %v", i, a, b, err1, err2)
		}
	}
}

func counterValue(t *testing.T, m *pipeline.Metrics, name string) float64 {
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, x := range mf.GetMetric() {
				sum += x.GetCounter().GetValue()
			}
		}
	}
	return sum
}
