package schemas

import (
	"bytes"
	"errors"
	"reflect"
	"runtime"
	"testing"
	"time"
)

func newCodec(t testing.TB) *Codec {
	t.Helper()
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sampleEvent() *Event {
	return &Event{
		EventID:    "e-1",
		Type:       "insurance.code_activated",
		Agency:     "nhsa",
		OccurredAt: time.Date(2025, 3, 14, 9, 30, 0, 0, time.FixedZone("", 8*3600)),
		Region:     "440700",
		BirthDate:  "1990-02-11",
		Documents:  []DocumentRef{{Type: "residence_permit", Token: "abc", BirthDate: "1990-02-11"}, {Type: "passport", Token: "def"}},
		Attrs:      map[string]string{"channel": "offline"},
		ProducedAt: time.UnixMicro(1700000000000000).UTC(),
	}
}

func TestRoundTrip(t *testing.T) {
	c := newCodec(t)
	tests := []struct {
		name string
		run  func() (any, any, error)
	}{
		{"event", func() (any, any, error) {
			in := sampleEvent()
			b, err := c.EncodeEvent(in)
			if err != nil {
				return nil, nil, err
			}
			out, err := c.DecodeEvent(b)
			return in, out, err
		}},
		{"change", func() (any, any, error) {
			in := &IdentityChange{ChangeID: "c", Kind: ChangeMerged, EventID: "e", OccurredAt: time.UnixMicro(5).UTC(), PersonID: "P1",
				OtherPersonIDs: []string{"P2"}, Revision: 7, Persons: []PersonState{{PersonID: "P1", Documents: []PersonDocument{{Type: "hkid", Token: "t"}}}}}
			b, err := c.EncodeChange(in)
			if err != nil {
				return nil, nil, err
			}
			out, err := c.DecodeChange(b)
			return in, out, err
		}},
		{"dead letter", func() (any, any, error) {
			in := &DeadLetter{EventID: "e", Reason: "bad_json", Detail: "x", Stage: "producer", Source: "f:1", RejectedAt: time.UnixMicro(9).UTC(), Payload: []byte("{}")}
			b, err := c.EncodeDeadLetter(in)
			if err != nil {
				return nil, nil, err
			}
			out, err := c.DecodeDeadLetter(b)
			return in, out, err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, out, err := tt.run()
			if err != nil {
				t.Fatal(err)
			}
			if ie, ok := in.(*Event); ok {
				oe := out.(*Event)
				if !ie.OccurredAt.Equal(oe.OccurredAt) {
					t.Fatalf("occurred_at %v != %v", oe.OccurredAt, ie.OccurredAt)
				}
				if _, off := oe.OccurredAt.Zone(); off != 8*3600 {
					t.Fatalf("offset lost: %d", off)
				}
				oe.OccurredAt = ie.OccurredAt
			}
			if !reflect.DeepEqual(in, out) {
				t.Fatalf("round trip changed the value:\n in  %+v\n out %+v", in, out)
			}
		})
	}
}

// An event written by a producer that only knew agency_event v1 must still be
// read after v2 added produced_at_us with a default.
func TestOlderWriterSchemaStillRead(t *testing.T) {
	c := newCodec(t)
	if c.WriterVersion(SubjectAgencyEvent) < 2 {
		t.Fatal("expected agency_event v2 to be the writer schema")
	}
	var v1 *version
	for _, v := range c.byFinger {
		if v.subject == SubjectAgencyEvent && v.number == 1 {
			v1 = v
		}
	}
	if v1 == nil {
		t.Fatal("agency_event v1 not embedded")
	}
	e := sampleEvent()
	old, err := v1.codec.SingleFromNative(nil, map[string]any{
		"event_id": e.EventID, "type": e.Type, "agency": e.Agency,
		"occurred_at_us": e.OccurredAt.UnixMicro(), "tz_offset_s": int32(8 * 3600),
		"region": e.Region, "birth_date": e.BirthDate,
		"documents": []any{map[string]any{"type": "passport", "token": "def", "birth_date": ""}},
		"attrs":     map[string]any{"channel": "offline"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cur, err := c.EncodeEvent(e)
	if err != nil {
		t.Fatal(err)
	}
	if string(old[2:10]) == string(cur[2:10]) {
		t.Fatal("v1 and v2 messages carry the same fingerprint")
	}
	got, err := c.DecodeEvent(old)
	if err != nil {
		t.Fatalf("v1 message not readable: %v", err)
	}
	if got.EventID != e.EventID || got.Attrs["channel"] != "offline" || len(got.Documents) != 1 || !got.ProducedAt.IsZero() {
		t.Fatalf("v1 message decoded wrongly: %+v", got)
	}
}

func TestDecodeRejects(t *testing.T) {
	c := newCodec(t)
	dl, err := c.EncodeDeadLetter(&DeadLetter{Reason: "r", Stage: "producer"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"not single object", []byte(`{"event_id":"x"}`)},
		{"unknown fingerprint", []byte{0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 0}},
		{"other subject", dl},
		{"truncated", dl[:len(dl)-1]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.DecodeEvent(tt.in); err == nil {
				t.Fatal("expected an error")
			}
		})
	}
	if _, err := c.DecodeEvent([]byte{0xC3, 0x01, 1, 2, 3, 4, 5, 6, 7, 8}); !errors.Is(err, ErrUnknownSchema) {
		t.Fatalf("want ErrUnknownSchema, got %v", err)
	}
}

func FuzzDecodeEvent(f *testing.F) {
	c := newCodec(f)
	good, err := c.EncodeEvent(sampleEvent())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:12])
	f.Add([]byte{0xC3, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := c.DecodeEvent(b)
		if err != nil {
			return
		}
		// Whatever decodes must encode again.
		if _, err := c.EncodeEvent(e); err != nil {
			t.Fatalf("decoded event does not re-encode: %v", err)
		}
	})
}

func BenchmarkEncodeEvent(b *testing.B) {
	c := newCodec(b)
	e := sampleEvent()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.EncodeEvent(e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEvent(b *testing.B) {
	c := newCodec(b)
	buf, _ := c.EncodeEvent(sampleEvent())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.DecodeEvent(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// A message declaring a huge array must fail fast, not allocate gigabytes.
func TestHugeArrayCountIsRejected(t *testing.T) {
	c := newCodec(t)
	good, err := c.EncodeEvent(&Event{EventID: "e", Type: "t", Agency: "a", OccurredAt: time.Unix(1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	// The message ends with documents (empty: count 0), attrs (empty: 0)
	// and produced_at_us (0); declare 2^30 documents instead.
	n := len(good)
	if !bytes.Equal(good[n-3:], []byte{0, 0, 0}) {
		t.Fatalf("layout changed: % x", good[n-3:])
	}
	bad := append(append(append([]byte{}, good[:n-3]...), 0x80, 0x80, 0x80, 0x80, 0x08), good[n-2:]...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := c.DecodeEvent(bad); err == nil {
		t.Fatal("decoded a message claiming 2^30 documents")
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Fatalf("decoding allocated %d MiB", grew>>20)
	}
}
