package verify

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/schemas"
)

// ErrAuditUnavailable wraps every failure to have an audit record
// acknowledged by Kafka in time.
var ErrAuditUnavailable = errors.New("the audit is unavailable")

// Auditor publishes audit records on the audit topic with RequiredAcks all.
// It commits in groups: a record is sent at once when fewer than
// auditInFlight produce requests are outstanding; otherwise it waits for
// one of them to be acknowledged and goes with every other record that
// arrived meanwhile in the next request. So a record waits for no timer,
// and under load the records of concurrent calls share produce requests.
type Auditor struct {
	client      *kafka.Client
	tr          *kafka.Transport
	codec       *schemas.Codec
	topic       string
	compression kafka.Compression

	mu       sync.Mutex
	queue    []*auditCall // waiting for a produce request
	inFlight int          // goroutines sending produce requests
	closed   bool
	sent     sync.WaitGroup

	partMu  sync.Mutex
	parts   int       // partitions of the topic; 0 until read
	partsAt time.Time // when parts was read
	next    atomic.Uint32
}

// auditCall is one record waiting for its acknowledgement.
type auditCall struct {
	value []byte
	at    time.Time
	done  chan error // receives the outcome once
	gone  atomic.Bool
}

const (
	// auditInFlight is how many produce requests the auditor has
	// outstanding at most, each to another partition.
	auditInFlight = 1
	// auditMaxBatch is the most records in one produce request.
	auditMaxBatch = 1000
	// auditPublishTimeout bounds one produce request with its retries;
	// the records of calls still waiting then fail with it.
	auditPublishTimeout = 1500 * time.Millisecond
	// auditPartitionsTTL is how long the topic's partition count is
	// trusted.
	auditPartitionsTTL = 10 * time.Second
	// auditBackoffMin and auditBackoffMax bound the pause between tries
	// of a produce request: a partition whose leader is moving, or a topic
	// just created, answers Not Leader For Partition for a moment.
	auditBackoffMin = 10 * time.Millisecond
	auditBackoffMax = 100 * time.Millisecond
)

// NewAuditor returns an auditor writing to cfg's audit topic with cfg's
// Kafka settings and credential. It does not connect: the first Record does.
func NewAuditor(cfg *pipeline.Config, codec *schemas.Codec) (*Auditor, error) {
	tr, err := cfg.Transport()
	if err != nil {
		return nil, err
	}
	return &Auditor{
		client:      &kafka.Client{Addr: kafka.TCP(cfg.KafkaBrokers...), Transport: tr},
		tr:          tr,
		codec:       codec,
		topic:       cfg.Topics().AuditLookups(),
		compression: kafka.Lz4,
	}, nil
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
	c := &auditCall{value: b, at: time.Now(), done: make(chan error, 1)}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return fmt.Errorf("%w: the auditor is closed", ErrAuditUnavailable)
	}
	a.queue = append(a.queue, c)
	var batch []*auditCall
	if a.inFlight < auditInFlight {
		a.inFlight++
		a.sent.Add(1)
		batch = a.take()
	}
	a.mu.Unlock()
	if batch != nil {
		go a.send(batch)
	}
	select {
	case err = <-c.done:
	case <-ctx.Done():
		c.gone.Store(true)
		err = context.Cause(ctx)
	}
	if err != nil {
		return fmt.Errorf("%w: publishing to %s: %w", ErrAuditUnavailable, a.topic, err)
	}
	return nil
}

// take removes up to auditMaxBatch waiting records from the queue, leaving
// out those whose calls stopped waiting; a.mu is held.
func (a *Auditor) take() []*auditCall {
	batch := make([]*auditCall, 0, min(len(a.queue), auditMaxBatch))
	n := 0
	for _, c := range a.queue {
		if len(batch) == auditMaxBatch {
			break
		}
		n++
		if !c.gone.Load() {
			batch = append(batch, c)
		}
	}
	rest := copy(a.queue, a.queue[n:])
	clear(a.queue[rest:])
	a.queue = a.queue[:rest]
	return batch
}

// send publishes batch and then whatever is waiting, until nothing is.
func (a *Auditor) send(batch []*auditCall) {
	defer a.sent.Done()
	for {
		if len(batch) > 0 {
			err := a.publish(batch)
			for _, c := range batch {
				c.done <- err
			}
		}
		a.mu.Lock()
		if len(a.queue) == 0 {
			a.inFlight--
			a.mu.Unlock()
			return
		}
		batch = a.take()
		a.mu.Unlock()
	}
}

// publish writes batch to one partition of the topic, trying again on
// errors Kafka calls temporary and on network errors, until
// auditPublishTimeout; it returns nil once Kafka acknowledged the batch.
func (a *Auditor) publish(batch []*auditCall) error {
	ctx, cancel := context.WithTimeout(context.Background(), auditPublishTimeout)
	defer cancel()
	records := make([]kafka.Record, len(batch))
	backoff := auditBackoffMin
	for {
		err := a.produce(ctx, batch, records)
		if err == nil {
			return nil
		}
		var ke kafka.Error
		if errors.As(err, &ke) && !ke.Temporary() {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, auditBackoffMax)
	}
}

// produce makes one produce request of batch, on the next partition.
func (a *Auditor) produce(ctx context.Context, batch []*auditCall, records []kafka.Record) error {
	parts, err := a.partitions(ctx)
	if err != nil {
		return err
	}
	for i, c := range batch {
		records[i] = kafka.Record{Time: c.at, Value: kafka.NewBytes(c.value)}
	}
	res, err := a.client.Produce(ctx, &kafka.ProduceRequest{
		Topic:        a.topic,
		Partition:    int(a.next.Add(1) % uint32(parts)),
		RequiredAcks: kafka.RequireAll,
		Compression:  a.compression,
		Records:      kafka.NewRecordReader(records...),
	})
	if err != nil {
		return err
	}
	if res.Error != nil {
		a.forgetPartitions()
		return res.Error
	}
	return nil
}

// partitions returns the topic's partition count, read at most
// auditPartitionsTTL ago.
func (a *Auditor) partitions(ctx context.Context) (int, error) {
	a.partMu.Lock()
	defer a.partMu.Unlock()
	if a.parts > 0 && time.Since(a.partsAt) < auditPartitionsTTL {
		return a.parts, nil
	}
	md, err := a.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{a.topic}})
	if err != nil {
		return 0, err
	}
	for _, t := range md.Topics {
		if t.Name != a.topic {
			continue
		}
		if t.Error != nil {
			return 0, t.Error
		}
		if len(t.Partitions) == 0 {
			return 0, kafka.UnknownTopicOrPartition
		}
		a.parts, a.partsAt = len(t.Partitions), time.Now()
		return a.parts, nil
	}
	return 0, kafka.UnknownTopicOrPartition
}

// forgetPartitions makes the next produce read the partition count again.
func (a *Auditor) forgetPartitions() {
	a.partMu.Lock()
	a.parts = 0
	a.partMu.Unlock()
}

// Close waits for the records already taken to be acknowledged or to fail,
// refuses new ones and closes the auditor's connections.
func (a *Auditor) Close() error {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.sent.Wait()
	a.tr.CloseIdleConnections()
	return nil
}
