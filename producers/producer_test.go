package producers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
		var r *kafka.Reader
		var end int64
		for {
			// Right after a topic is made, its leader may not be known yet
			// everywhere: a retriable error, tried again until ctx ends.
			r = kafka.NewReader(kafka.ReaderConfig{Brokers: cfg.KafkaBrokers, Topic: topic, Partition: p, Dialer: d, MaxWait: 100 * time.Millisecond})
			if end, err = r.ReadLag(ctx); err == nil {
				break
			}
			r.Close()
			var ke kafka.Error
			if !errors.As(err, &ke) || !ke.Temporary() || ctx.Err() != nil {
				t.Fatalf("lag of %s/%d: %v", topic, p, err)
			}
			time.Sleep(100 * time.Millisecond)
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
	wantReasons := map[string]int{"bad_check_digit": 1, "unknown_type": 1, "bad_json": 2, "line_too_long": 1} // the blank line is bad_json
	if res.Lines != 9 || res.Accepted != 3 || res.Rejected != 5 || res.Repeats != 1 || fmt.Sprint(res.Reasons) != fmt.Sprint(wantReasons) {
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
	for _, m := range readAll(t, cfg, topics.DeadLetter(), 5) {
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
	if fmt.Sprint(reasons) != "[bad_check_digit@6 bad_json@4 bad_json@8 line_too_long@9 unknown_type@7]" {
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
	f.Add([]byte(`{"event_id":"e-\ud83d\ude00","EVENT_ID":"x","x":[1,{"a":null}],"attrs":{"k":"\u00e9"}}`))
	ps := NewPseudonymizer([]byte("k"))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, rj := Parse(b)
		if rj != nil {
			if rj.Reason == ReasonBadUTF8 && utf8.Valid(b) && !bytes.Contains(b, []byte(`\u`)) {
				t.Fatalf("bad_utf8 for valid UTF-8 without escapes: %v", rj)
			}
			checkRedacted(t, Redact(b, ps))
			return
		}
		// Whatever Parse accepts is JSON, and its fields are what a
		// lossless decoder with exact keys (encoding/json into a map)
		// reads.
		var ref map[string]any
		if err := json.Unmarshal(b, &ref); err != nil || !utf8.Valid(b) {
			t.Fatalf("Parse accepted what encoding/json rejects (%v) or invalid UTF-8", err)
		}
		for key, got := range map[string]string{"event_id": in.EventID, "type": in.Type, "agency": in.Agency, "occurred_at": in.OccurredAt, "region": in.Region} {
			if want, ok := ref[key].(string); ok && want != got {
				t.Fatalf("%s: Parse read %q, encoding/json %q", key, got, want)
			}
		}
		if !utf8.ValidString(in.EventID) {
			t.Fatalf("event_id %q is not UTF-8", in.EventID)
		}
		ev, rj := Validate(in, ps)
		checkRedacted(t, Redact(b, ps))
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

// FuzzEventIDs puts two fuzzed event_id fields (the bytes between the
// quotes) into otherwise identical valid lines: two lines whose event_id
// bytes differ never get one event_id, unless both fields are JSON escapes
// of the same string; invalid UTF-8 and escapes of lone surrogates are
// bad_utf8, never decoded to a replacement character.
func FuzzEventIDs(f *testing.F) {
	f.Add([]byte("e-\xff"), []byte("e-\xfe"))
	f.Add([]byte("e-\xff"), []byte("e-\ufffd"))
	f.Add([]byte(`e-\ud800`), []byte(`e-\ufffd`))
	f.Add([]byte(`e-\ud800`), []byte(`e-\udc00`))
	f.Add([]byte(`e-\u0041`), []byte(`e-A`))
	f.Add([]byte(`e-\ud83d\ude00`), []byte("e-\U0001F600"))
	f.Add([]byte("E-1"), []byte("e-1"))
	ps := NewPseudonymizer([]byte("k"))
	id := func(raw []byte) (string, *Rejection) {
		l := bytes.Replace(line("identity.verified", "nia", doc("passport", "E1234567"), ""), []byte(`"e-1"`), append(append([]byte{'"'}, raw...), '"'), 1)
		in, rej := Parse(l)
		if rej != nil {
			return "", rej
		}
		if _, rej := Validate(in, ps); rej != nil {
			return "", rej
		}
		return in.EventID, nil
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ida, rja := id(a)
		idb, rjb := id(b)
		for _, c := range []struct {
			raw []byte
			rej *Rejection
		}{{a, rja}, {b, rjb}} {
			if (!utf8.Valid(c.raw) || loneSurrogateEscape(c.raw)) && (c.rej == nil || c.rej.Reason != ReasonBadUTF8 && c.rej.Reason != ReasonBadJSON) {
				t.Fatalf("event_id field %q: %v, want bad_utf8 (or bad_json if it breaks the JSON)", c.raw, c.rej)
			}
		}
		if rja != nil || rjb != nil || ida != idb || bytes.Equal(a, b) {
			return
		}
		// One event_id from different bytes: both must be escapes of one
		// string, as encoding/json reads it too.
		var ra, rb string
		errA := json.Unmarshal(append(append([]byte{'"'}, a...), '"'), &ra)
		errB := json.Unmarshal(append(append([]byte{'"'}, b...), '"'), &rb)
		if errA != nil || errB != nil || ra != rb || ra != ida || (!bytes.Contains(a, []byte(`\`)) && !bytes.Contains(b, []byte(`\`))) {
			t.Fatalf("event_id fields %q and %q collapse to %q", a, b, ida)
		}
	})
}

// loneSurrogateEscape reports whether the JSON string body s has a \u escape
// of a high surrogate not followed by one of a low surrogate, or of a low
// surrogate not preceded by one of a high surrogate.
func loneSurrogateEscape(s []byte) bool {
	high := false
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 >= len(s) {
			if high {
				return true
			}
			continue
		}
		if s[i+1] != 'u' || i+6 > len(s) {
			if high {
				return true
			}
			i++
			continue
		}
		v, err := strconv.ParseUint(string(s[i+2:i+6]), 16, 16)
		if err != nil {
			return high
		}
		switch {
		case v >= 0xd800 && v < 0xdc00:
			if high {
				return true
			}
			high = true
		case v >= 0xdc00 && v < 0xe000:
			if !high {
				return true
			}
			high = false
		default:
			if high {
				return true
			}
		}
		i += 5
	}
	return high
}
