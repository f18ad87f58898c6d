package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/analytics"
	sink "github.com/idlink/idlink/consumers/analytics"
	"github.com/idlink/idlink/pipeline"
)

// rawBatch is how many messages the raw pipe inserts at once: as many as the
// analytics sink, so that both pay alike for the parts they make.
const rawBatch = sink.BatchSize

// rawPipe copies the agency topics' messages unchanged into a ClickHouse
// table: kafka-go readers, one per partition, and two inserters sending
// rawBatch rows per INSERT. No decoding, no identity work: the ceiling for
// the e2e rate on this machine.
func (b *bench) rawPipe(ctx context.Context) error {
	cfg := b.namespace("raw", b.data)
	defer b.release(ctx, cfg)
	store, err := analytics.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	conn := store.Conn()
	if err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS raw_events (
    topic String, partition Int32, offset Int64, key String, value String
) ENGINE = MergeTree ORDER BY (topic, partition, offset)`); err != nil {
		return fmt.Errorf("creating the raw table: %w", err)
	}
	topics := cfg.Topics().AllAgencies()
	ends, total, err := b.endOffsets(ctx, topics)
	if err != nil {
		return err
	}
	if total != int64(b.accepted) {
		b.progress("WARNING: the agency topics hold %d messages, %d events were accepted", total, b.accepted)
	}

	start := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	msgs := make(chan kafka.Message, 4*rawBatch)
	readErr := make(chan error, 1)
	go func() {
		readErr <- b.readPartitions(ctx, ends, msgs)
		close(msgs)
	}()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() {
			batch := make([]kafka.Message, 0, rawBatch)
			for m := range msgs {
				if batch = append(batch, m); len(batch) == rawBatch {
					if errs[i] = insertRaw(ctx, store, batch); errs[i] != nil {
						cancel()
						return
					}
					batch = batch[:0]
				}
			}
			errs[i] = insertRaw(ctx, store, batch)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(append(errs, <-readErr)...); err != nil {
		return err
	}
	var rows uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM raw_events").Scan(&rows); err != nil {
		return fmt.Errorf("counting raw rows: %w", err)
	}
	if rows != uint64(total) {
		return fmt.Errorf("the raw table holds %d rows, the topics %d messages", rows, total)
	}
	b.res.raw = perSecond(total, elapsed)
	b.figure("raw_pipe_seconds", "%.2f", elapsed.Seconds())
	b.figure("raw_pipe_events_per_s", "%.0f", b.res.raw)
	return nil
}

// readPartitions reads every partition of ends from its first offset up to
// its end offset into out, with one reader per partition. It stops early,
// without error, when ctx ends.
func (b *bench) readPartitions(ctx context.Context, ends map[string]map[int]int64, out chan<- kafka.Message) error {
	dialer, err := b.base.Dialer()
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for topic, ps := range ends {
		for part, end := range ps {
			if end <= 0 {
				continue
			}
			wg.Go(func() {
				r := kafka.NewReader(kafka.ReaderConfig{
					Brokers: b.base.KafkaBrokers, Topic: topic, Partition: part, Dialer: dialer,
					MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 100 * time.Millisecond, QueueCapacity: 10000,
				})
				defer r.Close()
				for {
					m, err := r.ReadMessage(ctx)
					if err != nil {
						if ctx.Err() == nil {
							mu.Lock()
							errs = append(errs, fmt.Errorf("reading %s/%d: %w", topic, part, err))
							mu.Unlock()
						}
						return
					}
					select {
					case out <- m:
					case <-ctx.Done():
						return
					}
					if m.Offset+1 >= end {
						return
					}
				}
			})
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// insertRaw inserts messages unchanged into raw_events.
func insertRaw(ctx context.Context, s *analytics.Store, msgs []kafka.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	topic, key, value := make([]string, len(msgs)), make([]string, len(msgs)), make([]string, len(msgs))
	part, offset := make([]int32, len(msgs)), make([]int64, len(msgs))
	for i, m := range msgs {
		topic[i], part[i], offset[i], key[i], value[i] = m.Topic, int32(m.Partition), m.Offset, string(m.Key), string(m.Value)
	}
	batch, err := s.Conn().PrepareBatch(ctx, "INSERT INTO raw_events (topic, partition, offset, key, value)")
	if err != nil {
		return fmt.Errorf("preparing a raw insert: %w", err)
	}
	defer batch.Close()
	for i, col := range []any{topic, part, offset, key, value} {
		if err := batch.Column(i).Append(col); err != nil {
			return fmt.Errorf("raw insert, column %d: %w", i, err)
		}
	}
	if err := batch.Send(); err != nil {
		return fmt.Errorf("sending a raw insert of %d rows: %w", len(msgs), err)
	}
	return nil
}

// sinkInsert hands -sink-n agency events, read from Kafka beforehand, to the
// analytics sink's Handle in batches of sink.BatchSize (the consumer's)
// and times it: decoding plus the ClickHouse INSERTs, without Kafka.
func (b *bench) sinkInsert(ctx context.Context) error {
	cfg := b.namespace("sink", b.data)
	defer b.release(ctx, cfg)
	ends, _, err := b.endOffsets(ctx, cfg.Topics().AllAgencies())
	if err != nil {
		return err
	}
	msgs, err := b.readN(ctx, ends, b.opts.sinkN)
	if err != nil {
		return err
	}
	s, err := sink.New(ctx, cfg, b.codec, pipeline.NewMetrics())
	if err != nil {
		return err
	}
	defer s.Close()
	start := time.Now()
	for i := 0; i < len(msgs); i += rawBatch {
		if err := s.Handle(ctx, msgs[i:min(i+rawBatch, len(msgs))]); err != nil {
			return err
		}
	}
	elapsed := time.Since(start)
	n, err := countEvents(ctx, s.Store())
	if err != nil {
		return err
	}
	if n != uint64(len(msgs)) {
		return fmt.Errorf("the sink stored %d of %d events", n, len(msgs))
	}
	rate := perSecond(int64(len(msgs)), elapsed)
	b.figure("sink_insert_events_per_s", "%.0f", rate)
	b.extraTargets = append(b.extraTargets, targetGE("sink_insert>=100000", rate, 100000))
	return nil
}

// readN reads up to n messages of the partitions in ends.
func (b *bench) readN(ctx context.Context, ends map[string]map[int]int64, n int) ([]kafka.Message, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan kafka.Message, 10000)
	readErr := make(chan error, 1)
	go func() {
		readErr <- b.readPartitions(ctx, ends, ch)
		close(ch)
	}()
	out := make([]kafka.Message, 0, n)
	for m := range ch {
		if len(out) < n {
			out = append(out, m)
		}
		if len(out) == n {
			cancel()
		}
	}
	if err := <-readErr; err != nil {
		return nil, err
	}
	return out, nil
}
