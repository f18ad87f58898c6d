package analytics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/analytics/analyticstest"
	sink "github.com/idlink/idlink/consumers/analytics"
	"github.com/idlink/idlink/internal/stacktest"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/schemas"
)

// scenario is the hand-made dataset of sqlcheck/fixture.sql, as messages.
// Before the second batch P1 holds rpA and mtpA, the passports ppA1 and ppA2
// are persons P2 and P3, and P4 holds rpB and ttpB. The second batch merges
// P2 and P3 into P1, splits ttpB off P4 as P5, and replays e2 and a stale c2.
func scenario(enc *encoder) (first, second []kafka.Message) {
	activated := func(id string, occ time.Time, channel string, d []schemas.DocumentRef) *schemas.Event {
		return &schemas.Event{EventID: id, Type: "insurance.code_activated", Agency: "nhsa", OccurredAt: occ,
			Documents: d, Attrs: map[string]string{"channel": channel}, ProducedAt: occ.Add(time.Second)}
	}
	e1 := activated("e1", at(14, 9), "offline", docs("residence_permit", "rpA", "mainland_travel_permit", "mtpA"))
	e1.Region, e1.BirthDate = "440700", "1990-02-11"
	e2 := activated("e2", at(15, 1), "online", docs("passport", "ppA1")) // 2025-03-14 UTC, the 15th locally
	events := []*schemas.Event{
		e1, e2,
		activated("e3", at(15, 10), "online", docs("passport", "ppA2")),
		activated("e4", at(16, 10), "offline", docs("taiwan_travel_permit", "ttpB")),
		activated("e5", at(16, 11), "online", docs("passport", "ppC")),
		{EventID: "e6", Type: "insurance.enrolled", Agency: "nhsa", OccurredAt: at(1, 11), Documents: docs("residence_permit", "rpA"), Attrs: map[string]string{"scheme": "urban_rural"}},
		{EventID: "e7", Type: "insurance.enrolled", Agency: "nhsa", OccurredAt: at(2, 11), Documents: docs("residence_permit", "rpB", "taiwan_travel_permit", "ttpB"), Attrs: map[string]string{"scheme": "employee"}},
		{EventID: "e8", Type: "identity.verified", Agency: "platform", OccurredAt: at(3, 11), Documents: docs("taiwan_travel_permit", "ttpB"),
			Attrs: map[string]string{"relying_party": "ride_hailing", "outcome": "rejected", "reason": "document_type_not_supported"}},
		{EventID: "e9", Type: "identity.verified", Agency: "platform", OccurredAt: at(3, 12), Documents: docs("residence_permit", "rpB"),
			Attrs: map[string]string{"relying_party": "ride_hailing", "outcome": "passed"}},
		{EventID: "e10", Type: "identity.verified", Agency: "nia", OccurredAt: at(3, 13), Documents: docs("residence_permit", "rpB"),
			Attrs: map[string]string{"relying_party": "bank", "outcome": "passed"}},
		{EventID: "e11", Type: "link.retracted", Agency: "nhsa", OccurredAt: at(4, 13), Attrs: map[string]string{"retracts": "e7"}},
		e1, // a replay inside the batch
	}
	created := func(id string, rev int64, p schemas.PersonState) *schemas.IdentityChange {
		return &schemas.IdentityChange{ChangeID: id, Kind: schemas.ChangeCreated, EventID: "x", OccurredAt: at(1, 0), PersonID: p.PersonID, Revision: rev, Persons: []schemas.PersonState{p}}
	}
	c2 := created("c2", 2, person("P2", "passport", "ppA1"))
	for _, e := range events {
		first = append(first, enc.event(e))
	}
	first = append(first,
		enc.change(created("c1", 1, person("P1", "residence_permit", "rpA", "mainland_travel_permit", "mtpA"))),
		enc.change(c2),
		enc.change(created("c3", 3, person("P3", "passport", "ppA2"))),
		enc.change(created("c5", 5, person("P4", "residence_permit", "rpB", "taiwan_travel_permit", "ttpB"))),
	)
	second = []kafka.Message{
		enc.change(&schemas.IdentityChange{ChangeID: "c4", Kind: schemas.ChangeMerged, EventID: "e12", OccurredAt: at(17, 10), PersonID: "P1",
			OtherPersonIDs: []string{"P2", "P3"}, Revision: 4,
			Persons: []schemas.PersonState{person("P1", "residence_permit", "rpA", "mainland_travel_permit", "mtpA", "passport", "ppA1", "passport", "ppA2")}}),
		enc.change(&schemas.IdentityChange{ChangeID: "c6", Kind: schemas.ChangeSplit, EventID: "e11", OccurredAt: at(4, 13), PersonID: "P4",
			OtherPersonIDs: []string{"P5"}, Revision: 6,
			Persons: []schemas.PersonState{person("P4", "residence_permit", "rpB"), person("P5", "taiwan_travel_permit", "ttpB")}}),
		enc.event(e2),
		enc.change(c2), // stale: revision 2 < 4
	}
	return first, second
}

func TestReportsThroughSink(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	cfg := analyticstest.Config(t)
	s := newSink(t, cfg, nil)
	enc := &encoder{t: t, codec: newCodec(t), topics: cfg.Topics()}
	first, second := scenario(enc)

	if err := s.Handle(ctx, first); err != nil {
		t.Fatal(err)
	}
	before := []struct{ report, want string }{
		{"activations-by-doc-type", `[{"doc_type":"mainland_travel_permit","channel":"offline","events":1,"persons":1},` +
			`{"doc_type":"passport","channel":"online","events":3,"persons":3},` +
			`{"doc_type":"residence_permit","channel":"offline","events":1,"persons":1},` +
			`{"doc_type":"taiwan_travel_permit","channel":"offline","events":1,"persons":1}]`},
		{"enrollments-by-doc-type", `[{"doc_type":"residence_permit","events":2,"persons":2},{"doc_type":"taiwan_travel_permit","events":1,"persons":1}]`},
		{"linked-persons", `[{"doc_types":1,"persons":3},{"doc_types":2,"persons":2}]`},
	}
	for _, tt := range before {
		if got := reportJSON(t, ctx, s.Store(), tt.report); got != tt.want {
			t.Errorf("%s before the merge:\n got  %s\n want %s", tt.report, got, tt.want)
		}
	}

	if err := s.Handle(ctx, second); err != nil {
		t.Fatal(err)
	}
	// After the merge and split the data is sqlcheck/fixture.sql's, so every
	// report must match sqlcheck/expected.json (which current ClickHouse is
	// held to as well).
	raw, err := os.ReadFile("../../analytics/sqlcheck/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var expected map[string]json.RawMessage
	if err := json.Unmarshal(raw, &expected); err != nil {
		t.Fatal(err)
	}
	for _, name := range analytics.ReportNames() {
		var want bytes.Buffer
		if err := json.Compact(&want, expected[name]); err != nil {
			t.Fatal(err)
		}
		if got := reportJSON(t, ctx, s.Store(), name); got != want.String() {
			t.Errorf("%s after the merge:\n got  %s\n want %s", name, got, want.String())
		}
	}

	// An event naming no document still has its row.
	var n uint64
	if err := s.Store().Conn().QueryRow(ctx, "SELECT count() FROM event_documents WHERE event_id = 'e11' AND doc_token = '' AND retracts = 'e7'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Error("link.retracted without documents has no row in event_documents")
	}
}

func TestDeadLetters(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	cfg := analyticstest.Config(t)
	m := pipeline.NewMetrics()
	s := newSink(t, cfg, m)
	codec := newCodec(t)
	enc := &encoder{t: t, codec: codec, topics: cfg.Topics()}
	topics := cfg.Topics()
	good := enc.event(&schemas.Event{EventID: "ok", Type: "insurance.enrolled", Agency: "nhsa", OccurredAt: at(1, 1), Documents: docs("passport", "p1")})
	noID := enc.event(&schemas.Event{EventID: "", Type: "insurance.enrolled", Agency: "nhsa", OccurredAt: at(1, 1), Documents: docs("passport", "p1")})
	negative := enc.change(&schemas.IdentityChange{ChangeID: "c", Kind: schemas.ChangeCreated, Revision: -1})
	batch := []kafka.Message{
		good,
		{Topic: topics.Agency("mps"), Partition: 2, Offset: 41, Value: []byte(`{"event_id":"json, not avro"}`)},
		{Topic: topics.IdentityChanges(), Partition: 1, Offset: 7, Value: good.Value}, // an event on the changes topic
		noID,
		negative,
		{Topic: "somewhere.else", Offset: 3, Value: []byte("x")},
	}
	if err := s.Handle(ctx, batch); err != nil {
		t.Fatal(err)
	}
	wantCounts := map[string]float64{sink.ReasonUndecodable: 2, sink.ReasonInvalid: 2, sink.ReasonUnknownTopic: 1}
	for reason, want := range wantCounts {
		if got := counterValue(t, m.Rejected.WithLabelValues(sink.Name, reason)); got != want {
			t.Errorf("rejected{reason=%s} = %v, want %v", reason, got, want)
		}
	}
	if got := reportJSON(t, ctx, s.Store(), "enrollments-by-doc-type"); got != `[{"doc_type":"passport","events":1,"persons":1}]` {
		t.Errorf("the good event was not stored alone: %s", got)
	}

	// The dead letters are on the dead-letter topic, with stage and source.
	r, err := cfg.NewReader(pipeline.ReaderOptions{Group: cfg.Group("dlq-check"), Topics: []string{topics.DeadLetter()}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sources := map[string]string{}
	for len(sources) < 5 {
		msg, err := r.FetchMessage(ctx)
		if err != nil {
			t.Fatalf("reading dead letters (have %d): %v", len(sources), err)
		}
		d, err := codec.DecodeDeadLetter(msg.Value)
		if err != nil {
			t.Fatal(err)
		}
		if d.Stage != "sink" || d.Detail == "" || d.RejectedAt.IsZero() {
			t.Errorf("dead letter lacks stage/detail/time: %+v", d)
		}
		sources[d.Source] = d.Reason
	}
	for src, reason := range map[string]string{
		topics.Agency("mps") + "/2/41":    sink.ReasonUndecodable,
		topics.IdentityChanges() + "/1/7": sink.ReasonUndecodable,
		"somewhere.else/0/3":              sink.ReasonUnknownTopic,
		topics.Agency("nhsa") + "/0/2":    sink.ReasonInvalid,
		topics.IdentityChanges() + "/0/3": sink.ReasonInvalid,
	} {
		if sources[src] != reason {
			t.Errorf("dead letter from %s: reason %q, want %q (have %v)", src, sources[src], reason, sources)
		}
	}
}

// TestClickHouseDown cuts the sink off ClickHouse: Handle must fail (so
// RunConsumer retries and commits nothing), then succeed once it is back.
func TestClickHouseDown(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	cfg := analyticstest.Config(t)
	analyticstest.Store(t, cfg) // creates and later drops the database
	p := &stacktest.Proxy{T: t, Target: cfg.ClickHouseAddr}
	p.Start()
	t.Cleanup(p.Stop)
	pcfg := *cfg
	pcfg.ClickHouseAddr = p.Addr
	pcfg.Timeout = 2 * time.Second
	s, err := sink.New(ctx, &pcfg, newCodec(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	enc := &encoder{t: t, codec: newCodec(t), topics: cfg.Topics()}
	msg := func(id string) []kafka.Message {
		return []kafka.Message{enc.event(&schemas.Event{EventID: id, Type: "insurance.enrolled", Agency: "nhsa", OccurredAt: at(1, 1), Documents: docs("passport", id)})}
	}
	if err := s.Handle(ctx, msg("a")); err != nil {
		t.Fatal(err)
	}

	p.Stop()
	start := time.Now()
	err = s.Handle(ctx, msg("b"))
	if err == nil {
		t.Fatal("Handle succeeded with ClickHouse unreachable")
	}
	t.Logf("with ClickHouse down after %s: %v", time.Since(start).Round(time.Millisecond), err)
	if errors.Is(err, analytics.ErrClickHouseUnreachable) && !strings.Contains(err.Error(), "CLICKHOUSE_ADDR") {
		t.Errorf("error does not name CLICKHOUSE_ADDR: %v", err)
	}

	p.Start() // same address
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err = s.Handle(ctx, msg("b")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Handle still failing after ClickHouse came back: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := reportJSON(t, ctx, s.Store(), "enrollments-by-doc-type"); got != `[{"doc_type":"passport","events":2,"persons":2}]` {
		t.Fatalf("after recovery: %s", got)
	}
}

// TestReplay publishes events and identity changes to real Kafka topics,
// consumes them with RunConsumer, snapshots every report, consumes
// everything again from the start under a fresh group id and checks that no
// report changed.
func TestReplay(t *testing.T) {
	ctx := testCtx(t, 5*time.Minute)
	cfg := analyticstest.Config(t)
	s := newSink(t, cfg, nil)
	codec := newCodec(t)
	data := makeSynthetic(7, 300, 3000, true)
	enc := &encoder{t: t, codec: codec, topics: cfg.Topics()}
	var msgs []kafka.Message
	for _, e := range data.events {
		m := enc.event(e)
		msgs = append(msgs, kafka.Message{Topic: m.Topic, Key: []byte(e.Documents[0].Token), Value: m.Value})
	}
	for _, c := range data.changes {
		m := enc.change(c)
		msgs = append(msgs, kafka.Message{Topic: m.Topic, Key: []byte(c.PersonID), Value: m.Value})
	}
	msgs = append(msgs, kafka.Message{Topic: cfg.Topics().Agency("mot"), Value: []byte("garbage")})
	w, err := cfg.NewWriter(pipeline.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("publishing: %v", err)
	}
	w.Close()

	consume := func(group string) *pipeline.Metrics {
		m := pipeline.NewMetrics()
		o := s.Options()
		o.Group, o.Metrics, o.MaxWait = group, m, 200*time.Millisecond
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- cfg.RunConsumer(cctx, o, s) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("RunConsumer: %v", err)
			}
		}()
		for {
			ok, err := cfg.CaughtUp(ctx, group, o.Topics)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				return m
			}
			select {
			case <-ctx.Done():
				t.Fatalf("group %s did not catch up", group)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}

	consume(s.Options().Group)
	first := allReports(t, ctx, s.Store())
	if first["activations-by-doc-type"] == "[]" || first["linked-persons"] == "[]" {
		t.Fatalf("nothing was reported: %v", first)
	}
	m := consume(s.Options().Group + "-replay")
	if got := counterValue(t, m.Processed.WithLabelValues(sink.Name)); int(got) != len(msgs) {
		t.Fatalf("the replay processed %v messages, want all %d", got, len(msgs))
	}
	second := allReports(t, ctx, s.Store())
	for _, name := range analytics.ReportNames() {
		if first[name] != second[name] {
			t.Errorf("report %s changed by the replay:\n before %s\n after  %s", name, first[name], second[name])
		}
	}
	var rows uint64
	if err := s.Store().Conn().QueryRow(ctx, "SELECT count() FROM event_documents").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d messages consumed twice; event_documents holds %d rows before merges fold replays", len(msgs), rows)
}
