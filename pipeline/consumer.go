package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/segmentio/kafka-go"
)

// Handler processes one batch of messages. When it returns nil every effect
// of the batch must be durable, because the batch's offsets are committed
// next. It must be idempotent: after a crash or a rebalance the same messages
// are delivered again. A message that can never be processed (malformed) is
// the handler's to dead-letter; an error return means "retry the batch".
type Handler interface {
	Handle(ctx context.Context, msgs []kafka.Message) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, msgs []kafka.Message) error

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, msgs []kafka.Message) error { return f(ctx, msgs) }

// ConsumerOptions configures RunConsumer.
type ConsumerOptions struct {
	Name     string   // metrics label and log name, e.g. "resolver"
	Group    string   // consumer group id
	Topics   []string // topics to consume
	MaxBatch int      // most messages per batch (default 10000)
	MaxWait  time.Duration
	// BackoffMin and BackoffMax bound the retry delay after a failed batch
	// (defaults 100ms and 5s).
	BackoffMin, BackoffMax time.Duration
	Metrics                *Metrics
	Logger                 *slog.Logger
	// Idle, when set, is signalled (non-blocking) whenever a fetch waited
	// MaxWait without a message, i.e. the consumer may have caught up.
	Idle chan<- string
}

// RunConsumer reads batches from the group, hands each to h, and commits the
// batch's offsets only after h succeeded. A failed batch is retried with
// exponential backoff and nothing is committed meanwhile. It returns when ctx
// is done, after finishing (or abandoning, uncommitted) the batch in hand.
func (c *Config) RunConsumer(ctx context.Context, o ConsumerOptions, h Handler) error {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 10000
	}
	if o.MaxWait <= 0 {
		o.MaxWait = time.Second
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 100 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 5 * time.Second
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	log := o.Logger.With("consumer", o.Name, "group", o.Group)
	r, err := c.NewReader(ReaderOptions{Group: o.Group, Topics: o.Topics})
	if err != nil {
		return err
	}
	defer r.Close()

	// The next batch is gathered while this one is handled, so fetching
	// overlaps the handler's round trips. Three buffers circulate: one being
	// handled, one ready, one being gathered.
	gctx, stopGather := context.WithCancel(ctx)
	ready := make(chan []kafka.Message, 1)
	free := make(chan []kafka.Message, 3)
	for range 3 {
		free <- make([]kafka.Message, 0, o.MaxBatch)
	}
	gathered := make(chan struct{})
	go func() {
		defer close(gathered)
		defer close(ready)
		for {
			var batch []kafka.Message
			select {
			case batch = <-free:
			case <-gctx.Done():
				return
			}
			batch, ok := gather(gctx, r, o, log, batch[:0])
			if !ok {
				return
			}
			select {
			case ready <- batch:
			case <-gctx.Done():
				return
			}
		}
	}()
	defer func() {
		stopGather()
		<-gathered // before r.Close
	}()

	for {
		var batch []kafka.Message
		select {
		case batch = <-ready:
		case <-ctx.Done():
			return nil
		}
		if batch == nil || ctx.Err() != nil {
			return nil // the batch is not processed, so not committed
		}
		start := time.Now()
		backoff := o.BackoffMin
		for {
			err := h.Handle(ctx, batch)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			o.Metrics.Retries.WithLabelValues(o.Name).Inc()
			log.Warn("batch failed; nothing committed, retrying", "messages", len(batch), "backoff", backoff, "err", err)
			sleep(ctx, backoff)
			if ctx.Err() != nil {
				return nil
			}
			backoff = min(backoff*2, o.BackoffMax)
		}
		// The batch is durable: commit even if shutdown began meanwhile.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = r.CommitMessages(cctx, batch...)
		cancel()
		if err != nil {
			// Redelivery after a rebalance is harmless: handlers are idempotent.
			log.Warn("committing offsets failed; the batch will be redelivered", "err", err)
		}
		o.Metrics.Batch.WithLabelValues(o.Name).Observe(time.Since(start).Seconds())
		o.Metrics.Processed.WithLabelValues(o.Name).Add(float64(len(batch)))
		o.Metrics.Lag.WithLabelValues(o.Name).Set(float64(r.Stats().Lag))
		free <- batch
	}
}

// gather fills batch: it blocks for the first message, then takes more for
// up to o.MaxWait. It reports false when ctx is done.
func gather(ctx context.Context, r *kafka.Reader, o ConsumerOptions, log *slog.Logger, batch []kafka.Message) ([]kafka.Message, bool) {
	for {
		first, err := fetch(ctx, r, o.MaxWait)
		if err == nil {
			batch = append(batch, first)
			break
		}
		if ctx.Err() != nil {
			return nil, false
		}
		if errors.Is(err, context.DeadlineExceeded) {
			o.Metrics.Lag.WithLabelValues(o.Name).Set(float64(r.Stats().Lag))
			signal(o.Idle, o.Name)
			continue
		}
		log.Warn("fetching messages failed; retrying", "err", err)
		sleep(ctx, o.BackoffMin)
	}
	deadline := time.Now().Add(o.MaxWait)
	for len(batch) < o.MaxBatch {
		wait := time.Until(deadline)
		if wait <= 0 {
			break
		}
		// Drain what is already buffered without waiting long.
		m, err := fetch(ctx, r, min(wait, 20*time.Millisecond))
		if err != nil {
			break
		}
		batch = append(batch, m)
	}
	return batch, ctx.Err() == nil
}

func fetch(ctx context.Context, r *kafka.Reader, wait time.Duration) (kafka.Message, error) {
	fctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	m, err := r.FetchMessage(fctx)
	if err != nil {
		return m, fmt.Errorf("fetching from kafka: %w", err)
	}
	return m, nil
}

func signal(ch chan<- string, name string) {
	if ch == nil {
		return
	}
	select {
	case ch <- name:
	default:
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// CaughtUp reports whether the group has committed every message currently
// in topics.
func (c *Config) CaughtUp(ctx context.Context, group string, topics []string) (bool, error) {
	end, err := c.EndOffsets(ctx, topics)
	if err != nil {
		return false, err
	}
	committed, err := c.CommittedOffsets(ctx, group, topics)
	if err != nil {
		return false, err
	}
	for t, ps := range end {
		for p, e := range ps {
			if e > 0 && committed[t][p] < e {
				return false, nil
			}
		}
	}
	return true, nil
}
