package producers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/internal/stacktest"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/schemas"
)

// readAll reads every message of topic from the start until count arrive or
// the timeout passes.
func readAll(t *testing.T, cfg *pipeline.Config, topic string, count int) []kafka.Message {
	t.Helper()
	d, err := cfg.Dialer()
	if err != nil {
		t.Fatal(err)
	}
	var out []kafka.Message
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for p := 0; p < cfg.Partitions; p++ {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: cfg.KafkaBrokers, Topic: topic, Partition: p, Dialer: d, MaxWait: 100 * time.Millisecond})
		end, err := r.ReadLag(ctx)
		if err != nil {
			t.Fatalf("lag of %s/%d: %v", topic, p, err)
		}
		for i := int64(0); i < end; i++ {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("reading %s/%d: %v", topic, p, err)
			}
			out = append(out, m)
		}
		r.Close()
	}
	if len(out) != count {
		t.Fatalf("%s holds %d messages, want %d", topic, len(out), count)
	}
	return out
}

func TestProduceFileAgainstKafka(t *testing.T) {
	cfg := stacktest.Config(t)
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	good := rp("810000", "1990-02-11", "123")
	var in bytes.Buffer
	lines := []string{
		string(line("residence_permit.issued", "mps", doc("residence_permit", good)+","+doc("mainland_travel_permit", "H1234567801"), "")),
		`{"event_id":"e-2","type":"insurance.code_activated","agency":"nhsa","occurred_at":"2025-03-15T10:00:00+08:00","documents":[{"type":"residence_permit","number":"` + good + `"}],"attrs":{"channel":"offline"}}`,
		`{"event_id":"e-2","type":"insurance.code_activated","agency":"nhsa","occurred_at":"2025-03-15T10:00:00+08:00","documents":[{"type":"residence_permit","number":"` + good + `"}],"attrs":{"channel":"offline"}}`,
		``,
		`{"event_id":"e-3","type":"identity.verified","agency":"platform","occurred_at":"2025-03-16T10:00:00+08:00","documents":[{"type":"passport","number":"E12345678"}],"attrs":{"relying_party":"bank","outcome":"passed"}}`,
		string(line("residence_permit.issued", "mps", doc("residence_permit", good[:17]+"0"), "")),
		`{"event_id":"bad-2","type":"nope","agency":"mps","occurred_at":"2025-03-16T10:00:00+08:00","documents":[{"type":"passport","number":"E12345678"}]}`,
		`{"event_id":"bad-3",`,
		`{"event_id":"bad-4","type":"travel_permit.issued","agency":"nia","occurred_at":"2025-03-16T10:00:00+08:00","documents":[{"type":"passport","number":"` + strings.Repeat("A", MaxLineBytes) + `"}]}`,
	}
	for _, l := range lines {
		in.WriteString(l + "\n")
	}
	p, err := New(context.Background(), cfg, codec, Options{BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.ProduceFile(context.Background(), &in, "mixed.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	wantReasons := map[string]int{"bad_check_digit": 1, "unknown_type": 1, "bad_json": 1, "line_too_long": 1}
	if res.Accepted != 3 || res.Rejected != 4 || res.Duplicates != 1 || fmt.Sprint(res.Reasons) != fmt.Sprint(wantReasons) {
		t.Fatalf("result %+v", res)
	}
	topics := cfg.Topics()
	var ids []string
	for _, agency := range []string{"mps", "nhsa", "platform"} {
		for _, m := range readAll(t, cfg, topics.Agency(agency), 1) {
			ev, err := codec.DecodeEvent(m.Value)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Agency != agency {
				t.Fatalf("event of %s on %s's topic", ev.Agency, agency)
			}
			if !bytes.Equal(m.Key, []byte(ev.Documents[0].Token)) {
				t.Fatal("message not keyed by its first document's token")
			}
			if bytes.Contains(m.Value, []byte(good)) || bytes.Contains(m.Value, []byte("12345678")) {
				t.Fatal("raw document number reached Kafka")
			}
			ids = append(ids, ev.EventID)
		}
	}
	sort.Strings(ids)
	if fmt.Sprint(ids) != "[e-1 e-2 e-3]" {
		t.Fatalf("accepted events %v", ids)
	}
	var reasons []string
	for _, m := range readAll(t, cfg, topics.DeadLetter(), 4) {
		d, err := codec.DecodeDeadLetter(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(m.Value, []byte(good[:17])) {
			t.Fatal("raw document number reached the dead-letter topic")
		}
		if d.Stage != "producer" || !strings.HasPrefix(d.Source, "mixed.jsonl:") {
			t.Fatalf("dead letter %+v", d)
		}
		reasons = append(reasons, d.Reason+"@"+strings.TrimPrefix(d.Source, "mixed.jsonl:"))
	}
	sort.Strings(reasons)
	if fmt.Sprint(reasons) != "[bad_check_digit@6 bad_json@8 line_too_long@9 unknown_type@7]" {
		t.Fatalf("dead letters %v", reasons)
	}
}

// TestProduceLongestLine produces a valid event whose line is exactly
// MaxLineBytes long (an attribute outside the contract pads it): it must
// reach its topic in one message the writer and the broker accept.
func TestProduceLongestLine(t *testing.T) {
	cfg := stacktest.Config(t)
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	head := `{"event_id":"big-1","type":"identity.verified","agency":"platform","occurred_at":"2025-03-16T10:00:00+08:00",` +
		`"documents":[{"type":"passport","number":"E12345678"}],"attrs":{"relying_party":"bank","outcome":"passed","note":"`
	tail := `"}}`
	line := head + strings.Repeat("n", MaxLineBytes-len(head)-len(tail)) + tail
	p, err := New(context.Background(), cfg, codec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.ProduceFile(context.Background(), strings.NewReader(line+"\n"), "big.jsonl")
	if err != nil {
		t.Fatalf("producing a line of %d bytes: %v", len(line), err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 1 || res.Rejected != 0 {
		t.Fatalf("result %+v", res)
	}
	m := readAll(t, cfg, cfg.Topics().Agency("platform"), 1)[0]
	ev, err := codec.DecodeEvent(m.Value)
	if err != nil {
		t.Fatal(err)
	}
	if ev.EventID != "big-1" || len(ev.Attrs["note"]) != MaxLineBytes-len(head)-len(tail) {
		t.Fatalf("got event %q with a note of %d bytes", ev.EventID, len(ev.Attrs["note"]))
	}
}

func TestKafkaUnreachable(t *testing.T) {
	empty := t.TempDir() + "/idlink.env"
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := pipeline.LoadConfig(func(k string) (string, bool) {
		switch k {
		case "KAFKA_BROKERS":
			return "127.0.0.1:1", true
		case "IDLINK_PSEUDONYM_KEY":
			return "0123456789abcdef0123456789abcdef", true
		case "IDLINK_ENV_FILE":
			return empty, true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	codec, _ := schemas.NewCodec()
	start := time.Now()
	_, err = New(context.Background(), cfg, codec, Options{})
	if !errors.Is(err, pipeline.ErrKafkaUnreachable) || !strings.Contains(err.Error(), "KAFKA_BROKERS") {
		t.Fatalf("want an unreachable error naming KAFKA_BROKERS, got %v", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Fatalf("took %s to give up", d)
	}
}

func FuzzParseValidate(f *testing.F) {
	f.Add(line("insurance.code_activated", "nhsa", doc("residence_permit", "820000199002110013"), `,"attrs":{"channel":"offline"}`))
	f.Add([]byte(`{"event_id":"r1","type":"link.retracted","agency":"mps","occurred_at":"2025-03-14T09:30:00Z","documents":[],"attrs":{"retracts":"e-1"}}`))
	f.Add([]byte(`{"event_id":"e",`))
	f.Add([]byte(`{"documents":[{"type":"hkid","number":"A123456(3)"}]}`))
	ps := NewPseudonymizer([]byte("k"))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, rj := Parse(b)
		if rj != nil {
			_ = Redact(b, nil, ps)
			return
		}
		ev, rj := Validate(in, ps)
		_ = Redact(b, in, ps)
		if rj != nil {
			if rj.Reason == "" {
				t.Fatal("rejection without a reason")
			}
			return
		}
		if len(ev.Documents) > 8 || ev.EventID == "" {
			t.Fatalf("accepted an invalid event: %+v", ev)
		}
	})
}
