package analytics_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/analytics/analyticstest"
	sink "github.com/idlink/idlink/consumers/analytics"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/schemas"
)

func testCtx(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func newCodec(t testing.TB) *schemas.Codec {
	t.Helper()
	c, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newSink starts a sink on an isolated database, topic prefix and group
// prefix of the local stack; the database is dropped afterwards.
func newSink(t testing.TB, cfg *pipeline.Config, m *pipeline.Metrics) *sink.Sink {
	t.Helper()
	analyticstest.Store(t, cfg) // drops the database at the end
	s, err := sink.New(testCtx(t, time.Minute), cfg, newCodec(t), m)
	if err != nil {
		t.Fatalf("starting the sink: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// encoder turns events and changes into Kafka messages on their topics.
type encoder struct {
	t      testing.TB
	codec  *schemas.Codec
	topics pipeline.Topics
	offset int64
}

func (e *encoder) event(ev *schemas.Event) kafka.Message {
	e.t.Helper()
	b, err := e.codec.EncodeEvent(ev)
	if err != nil {
		e.t.Fatal(err)
	}
	e.offset++
	return kafka.Message{Topic: e.topics.Agency(ev.Agency), Value: b, Offset: e.offset}
}

func (e *encoder) change(c *schemas.IdentityChange) kafka.Message {
	e.t.Helper()
	b, err := e.codec.EncodeChange(c)
	if err != nil {
		e.t.Fatal(err)
	}
	e.offset++
	return kafka.Message{Topic: e.topics.IdentityChanges(), Value: b, Offset: e.offset}
}

var cst = time.FixedZone("", 8*3600)

func at(day, hour int) time.Time { return time.Date(2025, 3, day, hour, 0, 0, 0, cst) }

func docs(pairs ...string) []schemas.DocumentRef {
	var out []schemas.DocumentRef
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, schemas.DocumentRef{Type: pairs[i], Token: pairs[i+1]})
	}
	return out
}

func person(id string, pairs ...string) schemas.PersonState {
	p := schemas.PersonState{PersonID: id}
	for i := 0; i+1 < len(pairs); i += 2 {
		p.Documents = append(p.Documents, schemas.PersonDocument{Type: pairs[i], Token: pairs[i+1]})
	}
	return p
}

// reportJSON runs a report and returns its JSON text.
func reportJSON(t testing.TB, ctx context.Context, s *analytics.Store, name string) string {
	t.Helper()
	rows, err := s.Report(ctx, name)
	if err != nil {
		t.Fatalf("report %s: %v", name, err)
	}
	b, err := json.Marshal(rows)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func allReports(t testing.TB, ctx context.Context, s *analytics.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range analytics.ReportNames() {
		out[n] = reportJSON(t, ctx, s, n)
	}
	return out
}

// synthetic makes a reproducible stream: persons holding one to three
// documents, events of every reporting type naming one or two of a person's
// documents, a created change per person and merges of some pairs of persons
// (with increasing revisions).
type synthetic struct {
	events  []*schemas.Event
	changes []*schemas.IdentityChange
}

var docTypes = []string{"residence_permit", "mainland_travel_permit", "taiwan_travel_permit", "hkid", "macao_id", "passport", "mainland_id"}

func makeSynthetic(seed uint64, persons, events int, withChanges bool) *synthetic {
	r := rand.New(rand.NewPCG(seed, 1))
	type per struct {
		id   string
		docs []schemas.PersonDocument
	}
	ps := make([]per, persons)
	for i := range ps {
		ps[i].id = fmt.Sprintf("P%d", i)
		n := 1 + r.IntN(3)
		for j := 0; j < n; j++ {
			typ := docTypes[r.IntN(len(docTypes))]
			ps[i].docs = append(ps[i].docs, schemas.PersonDocument{Type: typ, Token: fmt.Sprintf("%064x", uint64(i)<<8|uint64(j)+uint64(seed)<<40)})
		}
	}
	out := &synthetic{}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, cst)
	for i := 0; i < events; i++ {
		p := ps[r.IntN(len(ps))]
		ev := &schemas.Event{
			EventID:    fmt.Sprintf("e-%d-%d", seed, i),
			OccurredAt: start.Add(time.Duration(r.IntN(90*24)) * time.Hour),
			Region:     "440700",
			ProducedAt: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC),
		}
		d := p.docs[r.IntN(len(p.docs))]
		ev.Documents = []schemas.DocumentRef{{Type: d.Type, Token: d.Token}}
		if len(p.docs) > 1 && r.IntN(4) == 0 {
			d2 := p.docs[(r.IntN(len(p.docs)-1)+1+indexOf(p.docs, d))%len(p.docs)]
			if d2 != d {
				ev.Documents = append(ev.Documents, schemas.DocumentRef{Type: d2.Type, Token: d2.Token})
			}
		}
		switch k := r.IntN(10); {
		case k < 5:
			ev.Type, ev.Agency = "insurance.code_activated", "nhsa"
			ev.Attrs = map[string]string{"channel": []string{"online", "offline"}[r.IntN(2)]}
		case k < 7:
			ev.Type, ev.Agency = "insurance.enrolled", "nhsa"
			ev.Attrs = map[string]string{"scheme": []string{"urban_rural", "employee"}[r.IntN(2)]}
		case k < 9:
			ev.Type, ev.Agency = "identity.verified", "platform"
			if r.IntN(3) == 0 {
				ev.Attrs = map[string]string{"relying_party": "ride_hailing", "outcome": "rejected", "reason": "document_type_not_supported"}
			} else {
				ev.Attrs = map[string]string{"relying_party": []string{"ride_hailing", "bank"}[r.IntN(2)], "outcome": "passed"}
			}
		default:
			ev.Type, ev.Agency = "residence_permit.issued", "mps"
		}
		out.events = append(out.events, ev)
	}
	if !withChanges {
		return out
	}
	rev := int64(0)
	for _, p := range ps {
		rev++
		out.changes = append(out.changes, &schemas.IdentityChange{
			ChangeID: "created-" + p.id, Kind: schemas.ChangeCreated, EventID: "x", OccurredAt: start,
			PersonID: p.id, Revision: rev, Persons: []schemas.PersonState{{PersonID: p.id, Documents: p.docs}},
		})
	}
	for i := 0; i+1 < len(ps); i += 7 { // merge P(i+1) into P(i)
		rev++
		merged := append(append([]schemas.PersonDocument(nil), ps[i].docs...), ps[i+1].docs...)
		out.changes = append(out.changes, &schemas.IdentityChange{
			ChangeID: "merged-" + ps[i+1].id, Kind: schemas.ChangeMerged, EventID: "x", OccurredAt: start,
			PersonID: ps[i].id, OtherPersonIDs: []string{ps[i+1].id}, Revision: rev,
			Persons: []schemas.PersonState{{PersonID: ps[i].id, Documents: merged}},
		})
	}
	return out
}

func indexOf(ds []schemas.PersonDocument, d schemas.PersonDocument) int {
	for i, x := range ds {
		if x == d {
			return i
		}
	}
	return 0
}

// counterValue reads a counter's current value.
func counterValue(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
