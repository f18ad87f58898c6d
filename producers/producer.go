package producers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
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

// chunkLines is how many lines travel together through the workers.
const chunkLines = 1024

// line is one input line and, once a worker has seen it, its outcome.
type lineJob struct {
	n   int
	raw []byte
	// outcome
	id  string // accepted event id ("" if rejected)
	msg kafka.Message
	rej *Rejection
}

type chunk struct {
	lines []lineJob
	done  chan struct{}
}

// ProduceFile reads JSON Lines from r and publishes every valid event to its
// agency's topic and every invalid one to the dead-letter topic. source names
// the input in dead-letter records. A repeated event_id is published once.
// Only a Kafka failure stops it early.
//
// Lines are parsed, validated, pseudonymised and encoded by one worker per
// CPU; results are taken in file order, so one document's events keep their
// order on its partition.
func (p *Producer) ProduceFile(ctx context.Context, r io.Reader, source string) (*Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan *chunk, 2*runtime.GOMAXPROCS(0))
	order := make(chan *chunk, 4*runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i := 0; i < runtime.GOMAXPROCS(0); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ps := NewPseudonymizer(p.cfg.PseudonymKey)
			for c := range jobs {
				for k := range c.lines {
					p.prepare(&c.lines[k], ps, source)
				}
				close(c.done)
			}
		}()
	}
	readErr := make(chan error, 1)
	go func() {
		defer close(order)
		defer close(jobs)
		readErr <- readChunks(ctx, r, source, func(c *chunk) bool {
			select {
			case jobs <- c:
			case <-ctx.Done():
				return false
			}
			select {
			case order <- c:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()

	batches := make(chan []kafka.Message, 2)
	writeErr := make(chan error, 1)
	go func() {
		var werr error
		for b := range batches {
			if werr == nil {
				if werr = p.write(ctx, b); werr != nil {
					cancel()
				}
			}
		}
		writeErr <- werr
	}()

	res := &Result{Reasons: map[string]int{}}
	seen := map[string]bool{}
	batch := make([]kafka.Message, 0, p.opts.BatchSize)
	for c := range order {
		<-c.done
		for k := range c.lines {
			l := &c.lines[k]
			switch {
			case l.rej != nil:
				res.Rejected++
				res.Reasons[l.rej.Reason]++
				if p.opts.OnReject != nil {
					p.opts.OnReject(LineError{Line: l.n, Rejection: *l.rej})
				}
				batch = append(batch, l.msg)
			case seen[l.id]:
				res.Duplicates++
			default:
				seen[l.id] = true
				res.Accepted++
				batch = append(batch, l.msg)
			}
			if len(batch) >= p.opts.BatchSize {
				batches <- batch
				batch = make([]kafka.Message, 0, p.opts.BatchSize)
			}
		}
	}
	if len(batch) > 0 {
		batches <- batch
	}
	close(batches)
	wg.Wait()
	werr := <-writeErr
	rerr := <-readErr
	if werr != nil {
		return res, werr
	}
	return res, rerr
}

// prepare turns one line into a Kafka message: the event on its agency's
// topic, or a dead letter.
func (p *Producer) prepare(l *lineJob, ps *Pseudonymizer, source string) {
	var in *Input
	var ev *schemas.Event
	if l.raw == nil {
		l.rej = &Rejection{Reason: ReasonLineTooLong, Detail: fmt.Sprintf("line is longer than %d bytes", MaxLineBytes)}
	} else if in, l.rej = Parse(l.raw); l.rej == nil {
		ev, l.rej = Validate(in, ps)
	}
	if l.rej == nil {
		ev.ProducedAt = p.opts.Now()
		b, err := p.codec.EncodeEvent(ev)
		if err != nil {
			l.rej = &Rejection{EventID: ev.EventID, Reason: "unencodable", Detail: err.Error()}
		} else {
			l.id = ev.EventID
			l.msg = kafka.Message{Topic: p.topics.Agency(ev.Agency), Key: messageKey(ev), Value: b}
			return
		}
	}
	b, err := p.codec.EncodeDeadLetter(&schemas.DeadLetter{
		EventID:    l.rej.EventID,
		Reason:     l.rej.Reason,
		Detail:     l.rej.Detail,
		Stage:      "producer",
		Source:     fmt.Sprintf("%s:%d", source, l.n),
		RejectedAt: p.opts.Now(),
		Payload:    Redact(l.raw, in, ps),
	})
	if err != nil { // cannot happen with the embedded schema; keep the record minimal
		b, _ = p.codec.EncodeDeadLetter(&schemas.DeadLetter{Reason: l.rej.Reason, Stage: "producer", Source: source})
	}
	l.msg = kafka.Message{Topic: p.topics.DeadLetter(), Key: []byte(l.rej.EventID), Value: b}
}

// readChunks splits r into chunks of lines (blank lines skipped; over-long
// lines kept with a nil raw) and hands each to emit, which returns false to
// stop.
func readChunks(ctx context.Context, r io.Reader, source string, emit func(*chunk) bool) error {
	br := bufio.NewReaderSize(r, 256<<10)
	c := &chunk{done: make(chan struct{})}
	for n := 1; ; n++ {
		line, tooLong, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading %s line %d: %w", source, n, err)
		}
		if tooLong {
			c.lines = append(c.lines, lineJob{n: n})
		} else if len(trimSpace(line)) > 0 {
			c.lines = append(c.lines, lineJob{n: n, raw: append([]byte(nil), line...)})
		}
		if errors.Is(err, io.EOF) || len(c.lines) == chunkLines {
			if len(c.lines) > 0 && !emit(c) {
				return ctx.Err()
			}
			c = &chunk{done: make(chan struct{})}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
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
