package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/producers"
	"github.com/idlink/idlink/schemas"
)

// feeder publishes dataset lines through the producer library in chunks at a
// steady pace, so events keep flowing while faults happen. A chunk that fails
// (Kafka restarting) is published again whole: events are idempotent by
// event_id downstream, and the producer's dead letters are told apart by
// their source (chunk name and line), so a re-published chunk changes no
// result.
type feeder struct {
	cfg   *pipeline.Config
	codec *schemas.Codec
	log   *logger
	chunk int // lines per chunk

	prod    *producers.Producer
	lines   atomic.Int64 // lines published (chunks that succeeded)
	retries atomic.Int64 // chunk attempts that failed
}

// feed publishes lines, chunk by chunk, so that chunk i starts at
// i/len(chunks) of over after the call; chunks run late when Kafka is down
// and catch up afterwards. Chunk names are name-00000, name-00001, ….
func (f *feeder) feed(ctx context.Context, lines [][]byte, over time.Duration, name string) error {
	n := (len(lines) + f.chunk - 1) / f.chunk
	start := time.Now()
	for i := range n {
		at := start.Add(time.Duration(int64(over) * int64(i) / int64(max(n, 1))))
		if !sleepCtx(ctx, time.Until(at)) {
			return ctx.Err()
		}
		lo, hi := i*f.chunk, min((i+1)*f.chunk, len(lines))
		if err := f.publish(ctx, lines[lo:hi], fmt.Sprintf("%s-%05d", name, i)); err != nil {
			return err
		}
	}
	return nil
}

// publish publishes one chunk, retrying until it succeeds or ctx ends.
func (f *feeder) publish(ctx context.Context, lines [][]byte, source string) error {
	var buf bytes.Buffer
	for _, l := range lines {
		buf.Write(l)
		buf.WriteByte('\n')
	}
	data := buf.Bytes()
	firstFailure := time.Time{}
	for attempt := 1; ; attempt++ {
		err := f.ensureProducer(ctx)
		if err == nil {
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			_, err = f.prod.ProduceFile(cctx, bytes.NewReader(data), source)
			cancel()
			if err == nil {
				f.lines.Add(int64(len(lines)))
				if attempt > 1 {
					f.log.printf("produce: chunk %s published on attempt %d, %.1fs after its first failure", source, attempt, time.Since(firstFailure).Seconds())
				}
				return nil
			}
			// Start afresh: a new writer after a failure.
			_ = f.prod.Close()
			f.prod = nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		f.retries.Add(1)
		if attempt == 1 {
			firstFailure = time.Now()
			f.log.printf("produce: chunk %s failed (%v); publishing it again until it succeeds", source, oneLine(err))
		}
		if time.Since(firstFailure) > 10*time.Minute {
			return fmt.Errorf("publishing chunk %s: still failing after 10 minutes: %w", source, err)
		}
		if !sleepCtx(ctx, time.Second) {
			return ctx.Err()
		}
	}
}

func (f *feeder) ensureProducer(ctx context.Context) error {
	if f.prod != nil {
		return nil
	}
	p, err := producers.New(ctx, f.cfg, f.codec, producers.Options{})
	if err != nil {
		return fmt.Errorf("creating the producer: %w", err)
	}
	f.prod = p
	return nil
}

// close closes the producer's Kafka writer.
func (f *feeder) close() error {
	if f.prod == nil {
		return nil
	}
	err := f.prod.Close()
	f.prod = nil
	return err
}

// oneLine shortens an error to its first line, at most 200 bytes.
func oneLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
