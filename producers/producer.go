package producers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/schemas"
)

// Result counts what one ProduceFile call did.
type Result struct {
	Accepted   int            `json:"accepted"`   // distinct event_ids published
	Rejected   int            `json:"rejected"`   // lines sent to the dead-letter topic
	Reasons    map[string]int `json:"reasons"`    // rejections by reason
	Duplicates int            `json:"duplicates"` // repeated event_ids, published once
}

// LineError reports one rejected line of an input file.
type LineError struct {
	Line int
	Rejection
}

// Options tunes a Producer.
type Options struct {
	// BatchSize is how many messages are handed to Kafka at once (default 5000).
	BatchSize int
	// OnReject, if set, is called for every rejected line (e.g. to print it).
	OnReject func(LineError)
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

// Producer validates, pseudonymises and publishes agency events.
type Producer struct {
	cfg    *pipeline.Config
	codec  *schemas.Codec
	writer *kafka.Writer
	topics pipeline.Topics
	opts   Options
}

// New returns a Producer for cfg. It checks the pseudonym key and creates the
// topics if they are missing, failing within cfg.Timeout if Kafka is
// unreachable (the error wraps pipeline.ErrKafkaUnreachable).
func New(ctx context.Context, cfg *pipeline.Config, codec *schemas.Codec, opts Options) (*Producer, error) {
	if err := cfg.RequireKey(); err != nil {
		return nil, err
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 5000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	topics := cfg.Topics()
	if err := cfg.EnsureTopics(ctx, topics.All()...); err != nil {
		return nil, err
	}
	w, err := cfg.NewWriter(pipeline.WriterOptions{BatchSize: opts.BatchSize})
	if err != nil {
		return nil, err
	}
	return &Producer{cfg: cfg, codec: codec, writer: w, topics: topics, opts: opts}, nil
}

// Close flushes and closes the Kafka writer.
func (p *Producer) Close() error { return p.writer.Close() }

// ProduceFile reads JSON Lines from r and publishes every valid event to its
// agency's topic and every invalid one to the dead-letter topic. source names
// the input in dead-letter records. A repeated event_id is published once.
// Only a Kafka failure stops it early.
func (p *Producer) ProduceFile(ctx context.Context, r io.Reader, source string) (*Result, error) {
	res := &Result{Reasons: map[string]int{}}
	ps := NewPseudonymizer(p.cfg.PseudonymKey)
	seen := map[string]bool{}
	batches := make(chan []kafka.Message, 2)
	errc := make(chan error, 1)
	go func() {
		var werr error
		for b := range batches {
			if werr == nil {
				werr = p.write(ctx, b)
			}
		}
		errc <- werr
	}()
	batch := make([]kafka.Message, 0, p.opts.BatchSize)
	flush := func() {
		if len(batch) > 0 {
			batches <- batch
			batch = make([]kafka.Message, 0, p.opts.BatchSize)
		}
	}
	reject := func(line int, raw []byte, in *Input, rj *Rejection) error {
		res.Rejected++
		res.Reasons[rj.Reason]++
		if p.opts.OnReject != nil {
			p.opts.OnReject(LineError{Line: line, Rejection: *rj})
		}
		b, err := p.codec.EncodeDeadLetter(&schemas.DeadLetter{
			EventID:    rj.EventID,
			Reason:     rj.Reason,
			Detail:     rj.Detail,
			Stage:      "producer",
			Source:     fmt.Sprintf("%s:%d", source, line),
			RejectedAt: p.opts.Now(),
			Payload:    Redact(raw, in, ps),
		})
		if err != nil {
			return err
		}
		batch = append(batch, kafka.Message{Topic: p.topics.DeadLetter(), Key: []byte(rj.EventID), Value: b})
		return nil
	}

	br := bufio.NewReaderSize(r, 256<<10)
	var rerr error
	for n := 1; ; n++ {
		line, tooLong, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			rerr = fmt.Errorf("reading %s line %d: %w", source, n, err)
			break
		}
		if len(line) == 0 && !tooLong && errors.Is(err, io.EOF) {
			break
		}
		if trimmed := trimSpace(line); len(trimmed) == 0 && !tooLong {
			if errors.Is(err, io.EOF) {
				break
			}
			continue // blank lines are not events
		}
		var in *Input
		var rj *Rejection
		var ev *schemas.Event
		if tooLong {
			rj = &Rejection{Reason: ReasonLineTooLong, Detail: fmt.Sprintf("line is longer than %d bytes", MaxLineBytes)}
			line = line[:0]
		} else if in, rj = Parse(line); rj == nil {
			ev, rj = Validate(in, ps)
		}
		if rj != nil {
			if e := reject(n, line, in, rj); e != nil {
				rerr = e
				break
			}
		} else if seen[ev.EventID] {
			res.Duplicates++
		} else {
			seen[ev.EventID] = true
			ev.ProducedAt = p.opts.Now()
			b, e := p.codec.EncodeEvent(ev)
			if e != nil {
				rerr = e
				break
			}
			batch = append(batch, kafka.Message{Topic: p.topics.Agency(ev.Agency), Key: messageKey(ev), Value: b})
			res.Accepted++
		}
		if len(batch) >= p.opts.BatchSize {
			flush()
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if n%1024 == 0 && ctx.Err() != nil {
			rerr = ctx.Err()
			break
		}
	}
	flush()
	close(batches)
	if werr := <-errc; werr != nil {
		return res, werr
	}
	return res, rerr
}

func (p *Producer) write(ctx context.Context, msgs []kafka.Message) error {
	if err := p.writer.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("publishing %d messages to Kafka at KAFKA_BROKERS=%v: %w", len(msgs), p.cfg.KafkaBrokers, err)
	}
	return nil
}

// messageKey keys an event by its first document's token, so every event of
// one document lands on one partition in order; events without documents are
// keyed by event_id.
func messageKey(ev *schemas.Event) []byte {
	if len(ev.Documents) > 0 {
		return []byte(ev.Documents[0].Token)
	}
	return []byte(ev.EventID)
}

// readLine reads one line without its newline. Lines longer than MaxLineBytes
// are consumed and reported with tooLong set and a nil line.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, isPrefix, err := br.ReadLine()
		if err != nil {
			return buf, tooLong, err
		}
		if !tooLong {
			if len(buf)+len(chunk) > MaxLineBytes {
				tooLong, buf = true, nil
			} else if buf == nil && !isPrefix {
				return chunk, false, nil // common case: no copy needed
			} else {
				buf = append(buf, chunk...)
			}
		}
		if !isPrefix {
			return buf, tooLong, nil
		}
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
