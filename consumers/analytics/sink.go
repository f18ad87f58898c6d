// Package analytics is the analytics sink: a consumer that reads agency
// events, identity changes and the verification API's audit records from
// Kafka and writes them to ClickHouse in batches (one INSERT per table per
// batch), so the reports of the analytics package can count them and
// `idlink audit` can list them.
//
// Delivery is at least once (offsets are committed after ClickHouse has the
// batch) and exactly once in effect: the reports count distinct event ids and
// take each document's person with the largest revision, so a replayed
// message changes no report. Messages that cannot be decoded go to the
// dead-letter topic and are counted; they never stop the sink.
package analytics

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/schemas"
)

// Name is the consumer's name: its metrics label and, via cfg.Group, its
// consumer group id.
const Name = "analytics"

// BatchSize is the most messages the sink handles, and so inserts, at once
// (a batch also closes a second after its first message). Every INSERT makes
// a part in each table it feeds, ten with the views, so bigger batches mean
// fewer parts per event to write and merge. On this project's
// 2-core test machine, whose ext4 slows down as ClickHouse creates and
// deletes part files, Handle inserted 66-68k events/s in batches of 10,000,
// 145-178k in batches of 25,000 and 179-195k in batches of 50,000
// (BenchmarkSinkInsert). ClickHouse's own guidance is likewise fewer,
// bigger INSERTs, about one per second.
const BatchSize = 50000

// Dead-letter reasons of the sink.
const (
	ReasonUndecodable  = "undecodable"   // not an Avro message of the topic's subject
	ReasonInvalid      = "invalid"       // decoded, but lacks what the tables need
	ReasonUnknownTopic = "unknown_topic" // read from a topic the sink does not consume
)

// Sink is the analytics sink's pipeline.Handler.
type Sink struct {
	cfg     *pipeline.Config
	store   *analytics.Store
	codec   *schemas.Codec
	metrics *pipeline.Metrics
	dead    *kafka.Writer
	changes string
	audit   string
	agency  map[string]bool
}

// New opens and migrates ClickHouse, makes sure the topics exist and returns
// the sink. It fails within cfg.Timeout if ClickHouse or Kafka is
// unreachable, with a message naming the fix. codec and m may be nil (a new
// codec, new metrics).
func New(ctx context.Context, cfg *pipeline.Config, codec *schemas.Codec, m *pipeline.Metrics) (*Sink, error) {
	if m == nil {
		m = pipeline.NewMetrics()
	}
	if codec == nil {
		var err error
		if codec, err = schemas.NewCodec(); err != nil {
			return nil, fmt.Errorf("starting the analytics sink: %w", err)
		}
	}
	topics := cfg.Topics()
	if err := cfg.EnsureTopics(ctx, topics.All()...); err != nil {
		return nil, fmt.Errorf("starting the analytics sink: %w", err)
	}
	store, err := analytics.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("starting the analytics sink: %w", err)
	}
	if _, err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, fmt.Errorf("starting the analytics sink: %w", err)
	}
	w, err := cfg.NewWriter(pipeline.WriterOptions{})
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("starting the analytics sink: %w", err)
	}
	s := &Sink{
		cfg: cfg, store: store, codec: codec, metrics: m, dead: w,
		changes: topics.IdentityChanges(),
		audit:   topics.AuditLookups(),
		agency:  map[string]bool{},
	}
	for _, t := range topics.AllAgencies() {
		s.agency[t] = true
	}
	return s, nil
}

// Store is the sink's ClickHouse store (for reports on what it wrote).
func (s *Sink) Store() *analytics.Store { return s.store }

// Options are the RunConsumer options of the sink: group cfg.Group("analytics")
// over every agency topic, the identity-changes topic and the audit topic.
// Callers may set Logger and Idle before passing them on.
func (s *Sink) Options() pipeline.ConsumerOptions {
	topics := s.cfg.Topics()
	return pipeline.ConsumerOptions{
		Name:     Name,
		Group:    s.cfg.Group(Name),
		Topics:   append(topics.AllAgencies(), topics.IdentityChanges(), topics.AuditLookups()),
		MaxBatch: BatchSize,
		MaxWait:  time.Second,
		Metrics:  s.metrics,
	}
}

// Close closes the dead-letter writer and the ClickHouse connections.
func (s *Sink) Close() error {
	return errors.Join(s.dead.Close(), s.store.Close())
}

// Handle decodes a batch and writes it to ClickHouse: one INSERT into
// event_documents for the agency events, one each into doc_person and
// identity_changes for the identity changes, one into audit_lookups for the
// audit records. Messages that cannot be stored
// go to the dead-letter topic. It returns an error (the batch is retried,
// nothing committed) when ClickHouse or the dead-letter topic fails.
func (s *Sink) Handle(ctx context.Context, msgs []kafka.Message) error {
	results := s.decodeAll(msgs)
	events := make([]*schemas.Event, 0, len(msgs))
	var changes []*schemas.IdentityChange
	var audits []*schemas.AuditLookup
	var rejected []rejection
	for _, d := range results {
		switch {
		case d.rejected != nil:
			rejected = append(rejected, *d.rejected)
		case d.event != nil:
			events = append(events, d.event)
		case d.change != nil:
			changes = append(changes, d.change)
		case d.audit != nil:
			audits = append(audits, d.audit)
		}
	}
	now := time.Now()
	// The two INSERTs go to different tables and ClickHouse runs each on
	// one thread, so they are sent at the same time: a batch of both kinds
	// takes as long as the slower of them, not the sum.
	var eventsErr, changesErr, auditErr error
	var wg sync.WaitGroup
	wg.Go(func() { eventsErr = s.store.InsertEvents(ctx, events, now) })
	if len(audits) > 0 {
		wg.Go(func() { auditErr = insertAudit(ctx, s.store, audits, now) })
	}
	changesErr = s.store.InsertChanges(ctx, changes, now)
	wg.Wait()
	if eventsErr != nil {
		return fmt.Errorf("analytics sink: writing %d events: %w", len(events), eventsErr)
	}
	if changesErr != nil {
		return fmt.Errorf("analytics sink: writing %d identity changes: %w", len(changes), changesErr)
	}
	if auditErr != nil {
		return fmt.Errorf("analytics sink: writing %d audit records: %w", len(audits), auditErr)
	}
	if err := s.deadLetter(ctx, rejected, now); err != nil {
		return err
	}
	for _, r := range rejected {
		s.metrics.Rejected.WithLabelValues(Name, r.reason).Inc()
	}
	return nil
}

// decoded is one message after decoding: exactly one field is set.
type decoded struct {
	event    *schemas.Event
	change   *schemas.IdentityChange
	audit    *schemas.AuditLookup
	rejected *rejection
}

// decodeAll decodes msgs on up to GOMAXPROCS goroutines (Avro decoding is
// about a third of the sink's CPU), keeping their order.
func (s *Sink) decodeAll(msgs []kafka.Message) []decoded {
	out := make([]decoded, len(msgs))
	workers := min(runtime.GOMAXPROCS(0), (len(msgs)+999)/1000)
	if workers <= 1 {
		for i := range msgs {
			out[i] = s.decode(msgs[i])
		}
		return out
	}
	var wg sync.WaitGroup
	chunk := (len(msgs) + workers - 1) / workers
	for lo := 0; lo < len(msgs); lo += chunk {
		hi := min(lo+chunk, len(msgs))
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				out[i] = s.decode(msgs[i])
			}
		})
	}
	wg.Wait()
	return out
}

func (s *Sink) decode(m kafka.Message) decoded {
	reject := func(reason, detail, event string) decoded {
		return decoded{rejected: &rejection{m, reason, detail, event}}
	}
	switch {
	case m.Topic == s.changes:
		c, err := s.codec.DecodeChange(m.Value)
		if err != nil {
			return reject(ReasonUndecodable, err.Error(), "")
		}
		if why := analytics.ValidChange(c); why != "" {
			return reject(ReasonInvalid, why, c.EventID)
		}
		return decoded{change: c}
	case m.Topic == s.audit:
		a, err := s.codec.DecodeAudit(m.Value)
		if err != nil {
			return reject(ReasonUndecodable, err.Error(), "")
		}
		if why := validAudit(a); why != "" {
			return reject(ReasonInvalid, why, "")
		}
		return decoded{audit: a}
	case s.agency[m.Topic]:
		e, err := s.codec.DecodeEvent(m.Value)
		if err != nil {
			return reject(ReasonUndecodable, err.Error(), "")
		}
		if why := analytics.ValidEvent(e); why != "" {
			return reject(ReasonInvalid, why, e.EventID)
		}
		return decoded{event: e}
	}
	return reject(ReasonUnknownTopic, "the analytics sink does not read topic "+m.Topic, "")
}

type rejection struct {
	msg    kafka.Message
	reason string
	detail string
	event  string
}

func (s *Sink) deadLetter(ctx context.Context, rejected []rejection, now time.Time) error {
	if len(rejected) == 0 {
		return nil
	}
	out := make([]kafka.Message, 0, len(rejected))
	for _, r := range rejected {
		payload := r.msg.Value
		if payload == nil {
			payload = []byte{}
		}
		b, err := s.codec.EncodeDeadLetter(&schemas.DeadLetter{
			EventID:    r.event,
			Reason:     r.reason,
			Detail:     r.detail,
			Stage:      "sink",
			Source:     fmt.Sprintf("%s/%d/%d", r.msg.Topic, r.msg.Partition, r.msg.Offset),
			RejectedAt: now,
			Payload:    payload,
		})
		if err != nil {
			return fmt.Errorf("analytics sink: encoding a dead letter for %s/%d/%d: %w", r.msg.Topic, r.msg.Partition, r.msg.Offset, err)
		}
		out = append(out, kafka.Message{Topic: s.cfg.Topics().DeadLetter(), Key: r.msg.Key, Value: b})
	}
	if err := s.dead.WriteMessages(ctx, out...); err != nil {
		return fmt.Errorf("analytics sink: publishing %d dead letters to %s at KAFKA_BROKERS=%v: %w", len(out), s.cfg.Topics().DeadLetter(), s.cfg.KafkaBrokers, err)
	}
	return nil
}
