package pipeline

import (
	"context"
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

// ConsumerOptions configures RunConsumer.
type ConsumerOptions struct {
	Name     string   // metrics label and log name, e.g. "resolver"
	Group    string   // consumer group id
	Topics   []string // topics to consume
	MaxBatch int      // most messages per batch (default 10000)
	// MaxWait is how long a batch may gather after its first message
	// arrived (default 1s); a 20ms lull closes it sooner.
	MaxWait time.Duration
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

	// A feeder goroutine fetches messages while the handler works, stamping
	// each with its arrival; a batch closes MaxWait after its first message
	// arrived (at once if that was long ago, during the last batch), when it
	// is full, or after a lull.
	fctx, stopFeed := context.WithCancel(ctx)
	arrivals := make(chan arrival, o.MaxBatch)
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		feed(fctx, r, arrivals, o.BackoffMin, log)
	}()
	defer func() {
		stopFeed()
		<-fed // before r.Close
	}()

	batch := make([]kafka.Message, 0, o.MaxBatch)
	wait := time.NewTimer(o.MaxWait)
	defer wait.Stop()
	rearm := func(d time.Duration) {
		wait.Stop()
		select { // drain a fire we did not consume
		case <-wait.C:
		default:
		}
		wait.Reset(d)
	}
	for {
		batch = batch[:0]
		rearm(o.MaxWait)
		var first arrival
		select {
		case first = <-arrivals:
		case <-wait.C:
			o.Metrics.Lag.WithLabelValues(o.Name).Set(float64(r.Stats().Lag))
			signal(o.Idle, o.Name)
			continue
		case <-ctx.Done():
			return nil
		}
		batch = append(batch, first.msg)
		deadline, last := first.at.Add(o.MaxWait), first.at
		// Take what has arrived; while the batch is open, look again every
		// 2ms rather than wake for each message (the feeder fills the
		// channel meanwhile, and a hand-off per message costs more than
		// the message's own handling).
		for len(batch) < o.MaxBatch {
			select {
			case a := <-arrivals:
				batch, last = append(batch, a.msg), a.at
				continue
			default:
			}
			now := time.Now()
			if !now.Before(deadline) || now.Sub(last) >= lull {
				break
			}
			rearm(min(deadline.Sub(now), poll))
			select {
			case <-wait.C:
			case <-ctx.Done():
				return nil
			}
		}
		if ctx.Err() != nil {
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
	}
}

// A batch closes early after a lull of this long without a message; an open
// batch looks for new messages every poll.
const (
	lull = 20 * time.Millisecond
	poll = 2 * time.Millisecond
)

// arrival is a fetched message and when the feeder got it.
type arrival struct {
	msg kafka.Message
	at  time.Time
}

// feed fetches messages into out until ctx is done.
func feed(ctx context.Context, r *kafka.Reader, out chan<- arrival, backoff time.Duration, log *slog.Logger) {
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn("fetching messages failed; retrying", "err", err)
			sleep(ctx, backoff)
			continue
		}
		select {
		case out <- arrival{msg: m, at: time.Now()}:
		case <-ctx.Done():
			return
		}
	}
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
// in topics. An error the broker calls temporary (a group coordinator not
// ready or moving, a leader being elected) means "not yet", not an error:
// the caller asks again.
func (c *Config) CaughtUp(ctx context.Context, group string, topics []string) (bool, error) {
	end, err := c.EndOffsets(ctx, topics)
	if temporary(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	committed, err := c.CommittedOffsets(ctx, group, topics)
	if temporary(err) {
		return false, nil
	}
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
