package verify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/schemas"
)

// ErrAuditUnavailable wraps every failure to have an audit record
// acknowledged by Kafka in time.
var ErrAuditUnavailable = errors.New("the audit is unavailable")

// Auditor publishes audit records on the audit topic through one kafka-go
// Writer, which gathers the records of concurrent calls into shared
// produce requests (RequiredAcks all).
type Auditor struct {
	w     *kafka.Writer
	codec *schemas.Codec
	topic string
}

// auditBatchTimeout is how long the writer waits for more records before it
// sends a partial batch: the least latency an audited call can have, and
// the window in which concurrent calls share a produce request.
const auditBatchTimeout = time.Millisecond

// auditChunk is how many consecutive records go to one partition, so that
// concurrent calls' records fill one batch rather than one per partition.
const auditChunk = 64

// NewAuditor returns an auditor writing to cfg's audit topic with cfg's
// Kafka settings and credential. It does not connect: the first Record does.
func NewAuditor(cfg *pipeline.Config, codec *schemas.Codec) (*Auditor, error) {
	w, err := cfg.NewWriter(pipeline.WriterOptions{BatchSize: 1000, BatchTimeout: auditBatchTimeout})
	if err != nil {
		return nil, err
	}
	w.Balancer = &kafka.RoundRobin{ChunkSize: auditChunk}
	// Quick tries, as many as fit in the time a call may wait (Record's
	// context ends them): a partition whose leader is moving, or a topic
	// just created, answers Not Leader For Partition for a moment.
	w.MaxAttempts = 20
	w.WriteBackoffMin = 10 * time.Millisecond
	w.WriteBackoffMax = 100 * time.Millisecond
	return &Auditor{w: w, codec: codec, topic: cfg.Topics().AuditLookups()}, nil
}

// Record publishes rec and returns once Kafka has acknowledged it, or an
// error wrapping ErrAuditUnavailable when that did not happen by ctx's
// deadline. A record whose call gave up waiting may still be written: the
// audit may hold a call answered 503, never miss one answered otherwise.
func (a *Auditor) Record(ctx context.Context, rec *schemas.AuditLookup) error {
	b, err := a.codec.EncodeAudit(rec)
	if err != nil {
		return err
	}
	if err := a.w.WriteMessages(ctx, kafka.Message{Topic: a.topic, Value: b}); err != nil {
		return fmt.Errorf("%w: publishing to %s: %w", ErrAuditUnavailable, a.topic, err)
	}
	return nil
}

// Close flushes and closes the writer.
func (a *Auditor) Close() error { return a.w.Close() }
