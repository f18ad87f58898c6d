package producers

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/schemas"
)

// Result counts what one ProduceFile call did. Every line is counted once
// (a blank line is rejected as bad_json): Lines = Accepted + Repeats + Rejected.
type Result struct {
	Lines    int            `json:"lines"`    // lines read
	Accepted int            `json:"accepted"` // distinct event_ids published
	Repeats  int            `json:"repeats"`  // valid lines whose event_id was accepted earlier in the input; not published again
	Rejected int            `json:"rejected"` // lines sent to the dead-letter topic
	Reasons  map[string]int `json:"reasons"`  // rejections by reason
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
	// Now returns the current time (default time.Now): the events'
	// produced_at, and "today" for birth dates.
	Now func() time.Time
}

// Producer validates, pseudonymises and publishes agency events.
type Producer struct {
	cfg   *pipeline.Config
	codec *schemas.Codec
	// writers by agency: each agency with a Kafka credential of its own
	// (cfg.AgencyCredential) publishes through a writer of its own; "" is the
	// writer with the generic credential, for the other agencies and for
	// dead letters of lines that name no such agency.
	writers map[string]*kafka.Writer
	topics  pipeline.Topics
	opts    Options
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
	p := &Producer{cfg: cfg, codec: codec, writers: map[string]*kafka.Writer{}, topics: topics, opts: opts}
	wo := pipeline.WriterOptions{BatchSize: opts.BatchSize}
	w, err := cfg.NewWriter(wo)
	if err != nil {
		return nil, err
	}
	p.writers[""] = w
	for _, agency := range pipeline.Agencies() {
		if _, ok := cfg.AgencyCredential(agency); !ok {
			continue
		}
		aw, err := cfg.NewAgencyWriter(agency, wo)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.writers[agency] = aw
	}
	return p, nil
}

// Close flushes and closes the Kafka writers.
func (p *Producer) Close() error {
	var first error
	for _, w := range p.writers {
		if err := w.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// writerFor names the writer for an agency's messages: its own if it has one.
func (p *Producer) writerFor(agency string) string {
	if _, ok := p.writers[agency]; ok {
		return agency
	}
	return ""
}

// batch holds messages by writer (see writerFor).
type batch struct {
	msgs map[string][]kafka.Message
	n    int
}

func (b *batch) add(writer string, m kafka.Message) {
	if b.msgs == nil {
		b.msgs = map[string][]kafka.Message{}
	}
	b.msgs[writer] = append(b.msgs[writer], m)
	b.n++
}

// chunkLines is how many lines travel together through the workers.
const chunkLines = 1024

// line is one input line and, once a worker has seen it, its outcome.
type lineJob struct {
	n   int
	raw []byte
	// outcome
	id     string // accepted event id ("" if rejected)
	msg    kafka.Message
	writer string // which of Producer.writers publishes msg
	rej    *Rejection
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

	batches := make(chan batch, 2)
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
	var pending batch
	for c := range order {
		<-c.done
		for k := range c.lines {
			l := &c.lines[k]
			res.Lines++
			switch {
			case l.rej != nil:
				res.Rejected++
				res.Reasons[l.rej.Reason]++
				if p.opts.OnReject != nil {
					p.opts.OnReject(LineError{Line: l.n, Rejection: *l.rej})
				}
				pending.add(l.writer, l.msg)
			case seen[l.id]:
				res.Repeats++
			default:
				seen[l.id] = true
				res.Accepted++
				pending.add(l.writer, l.msg)
			}
			if pending.n >= p.opts.BatchSize {
				batches <- pending
				pending = batch{}
			}
		}
	}
	if pending.n > 0 {
		batches <- pending
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
		now := p.opts.Now()
		if ev, l.rej = ValidateAt(in, ps, now); l.rej == nil {
			ev.ProducedAt = now
		}
	}
	if l.rej == nil {
		b, err := p.codec.EncodeEvent(ev)
		if err != nil {
			l.rej = &Rejection{EventID: ev.EventID, Reason: "unencodable", Detail: err.Error()}
		} else {
			l.id = ev.EventID
			l.msg = kafka.Message{Topic: p.topics.Agency(ev.Agency), Key: messageKey(ev), Value: b}
			l.writer = p.writerFor(ev.Agency)
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
		Payload:    Redact(l.raw, ps),
	})
	if err != nil { // cannot happen with the embedded schema; keep the record minimal
		b, _ = p.codec.EncodeDeadLetter(&schemas.DeadLetter{Reason: l.rej.Reason, Stage: "producer", Source: source})
	}
	l.msg = kafka.Message{Topic: p.topics.DeadLetter(), Key: []byte(l.rej.EventID), Value: b}
	// A dead letter goes out with the credential of the agency its line
	// names, if that agency has one.
	if in != nil {
		l.writer = p.writerFor(in.Agency)
	}
}

// readChunks splits r into chunks of lines (blank ones too, which are
// rejected like any line that is not a JSON object; over-long lines kept
// with a nil raw) and hands each to emit, which returns false to
// stop. A UTF-8 byte-order mark at the start of r is skipped.
func readChunks(ctx context.Context, r io.Reader, source string, emit func(*chunk) bool) error {
	br := bufio.NewReaderSize(r, 256<<10)
	if bom, _ := br.Peek(len(utf8BOM)); string(bom) == utf8BOM {
		_, _ = br.Discard(len(utf8BOM))
	}
	c := &chunk{done: make(chan struct{})}
	for n := 1; ; n++ {
		line, tooLong, err := readLine(br)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading %s line %d: %w", source, n, err)
		}
		if tooLong {
			c.lines = append(c.lines, lineJob{n: n})
		} else if len(line) > 0 || err == nil { // the end of input after a newline is no line
			c.lines = append(c.lines, lineJob{n: n, raw: append(make([]byte, 0, len(line)), line...)})
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

// write publishes a batch, each writer's share in parallel.
func (p *Producer) write(ctx context.Context, b batch) error {
	errc := make(chan error, len(b.msgs))
	for w, msgs := range b.msgs {
		go func() { errc <- p.writeWith(ctx, w, msgs) }()
	}
	var first error
	for range b.msgs {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (p *Producer) writeWith(ctx context.Context, w string, msgs []kafka.Message) error {
	if err := p.writers[w].WriteMessages(ctx, msgs...); err != nil {
		as, hint := "", ""
		if cr, ok := p.cfg.AgencyCredential(w); ok && w != "" {
			as = fmt.Sprintf(" as KAFKA_SASL_USERNAME_%s=%s", strings.ToUpper(w), cr.Username)
			if errors.Is(err, kafka.UnknownTopicOrPartition) || errors.Is(err, kafka.TopicAuthorizationFailed) {
				// An agency's user sees only the topics it may write.
				hint = fmt.Sprintf(" (that user must be allowed to write %s and %s, which must exist)", p.topics.Agency(w), p.topics.DeadLetter())
			}
		} else if p.cfg.KafkaUsername != "" {
			as = " as KAFKA_SASL_USERNAME=" + p.cfg.KafkaUsername
		}
		return fmt.Errorf("publishing %d messages to Kafka at KAFKA_BROKERS=%v%s: %w%s", len(msgs), p.cfg.KafkaBrokers, as, err, hint)
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

// utf8BOM is the UTF-8 encoding of U+FEFF, the byte-order mark.
const utf8BOM = "\xef\xbb\xbf"
