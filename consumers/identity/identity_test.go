package identity

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/eventtypes"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/schemas"
)

// Test documents are named by a type letter and a suffix: R residence
// permit, M mainland travel permit, P passport, H hkid.
func tok(name string) string {
	h := sha256.Sum256([]byte(name))
	return hex.EncodeToString(h[:])
}

func docType(name string) string {
	switch name[0] {
	case 'R':
		return "residence_permit"
	case 'M':
		return "mainland_travel_permit"
	case 'H':
		return "hkid"
	}
	return "passport"
}

// Residence permits carry the birth date of their suffix's parity.
func docBirth(name string) string {
	if name[0] != 'R' {
		return ""
	}
	if (name[len(name)-1]-'0')%2 == 0 {
		return "1990-01-01"
	}
	return "1991-01-01"
}

type tev struct {
	id       string
	at       int
	docs     []string
	bd       string
	retracts string
	zone     int    // occurred_at's UTC offset in hours: the same instant in any offset is the same time
	typ      string // the event type; "" is identity.verified
}

func (e tev) event() *schemas.Event {
	ev := &schemas.Event{EventID: e.id, Type: eventtypes.IdentityVerified, Agency: eventtypes.NIA, OccurredAt: time.Unix(int64(e.at), 0).In(time.FixedZone("", e.zone*3600)), BirthDate: e.bd}
	if e.typ != "" {
		ev.Type = e.typ
	}
	if e.retracts != "" {
		ev.Type, ev.Attrs = eventtypes.LinkRetracted, map[string]string{"retracts": e.retracts}
	}
	for _, d := range e.docs {
		ev.Documents = append(ev.Documents, schemas.DocumentRef{Type: docType(d), Token: tok(d), BirthDate: docBirth(d)})
	}
	return ev
}

type harness struct {
	t     *testing.T
	codec *schemas.Codec
	mem   *memStore
	pub   *memPub
	res   *Resolver
	store Store
}

func newHarness(t *testing.T) *harness {
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, codec: codec, mem: newMemStore(), pub: &memPub{}}
	h.store = h.mem.handle()
	h.res = New(h.store, codec, h.pub, Options{Topics: (&pipeline.Config{}).Topics(), KeepFrom: 1})
	return h
}

func (h *harness) msgs(evs ...tev) []kafka.Message {
	out := make([]kafka.Message, len(evs))
	for i, e := range evs {
		b, err := h.codec.EncodeEvent(e.event())
		if err != nil {
			h.t.Fatal(err)
		}
		out[i] = kafka.Message{Topic: "events.nia", Value: b, Offset: int64(i)}
	}
	return out
}

func (h *harness) feed(evs ...tev) {
	h.t.Helper()
	if err := h.res.Handle(context.Background(), h.msgs(evs...)); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) person(doc string) *PersonView {
	h.t.Helper()
	v, err := LookupDocument(context.Background(), h.store, tok(doc))
	if err != nil {
		h.t.Fatal(err)
	}
	if v == nil {
		h.t.Fatalf("document %s unknown", doc)
	}
	return v
}

func (h *harness) changes() []*schemas.IdentityChange {
	var out []*schemas.IdentityChange
	for _, m := range h.pub.msgs {
		if m.Topic != "identity.changes" {
			continue
		}
		c, err := h.codec.DecodeChange(m.Value)
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func (h *harness) deadLetters() []*schemas.DeadLetter {
	var out []*schemas.DeadLetter
	for _, m := range h.pub.msgs {
		if m.Topic != "events.deadletter" {
			continue
		}
		d, err := h.codec.DecodeDeadLetter(m.Value)
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func TestScenarios(t *testing.T) {
	tests := []struct {
		name      string
		events    []tev
		same      [][]string // groups of documents that must share a person
		apart     [][2]string
		conflicts map[string]string // event id -> reason
		survivor  [2]string         // the person of doc [1] is the one first created for doc [0]
		docsOf    map[string]int
	}{
		{
			name:     "merge keeps the first created id",
			events:   []tev{{id: "e1", at: 1, docs: []string{"R0"}}, {id: "e2", at: 2, docs: []string{"M1"}}, {id: "e3", at: 3, docs: []string{"R0", "M1"}}},
			same:     [][]string{{"R0", "M1"}},
			survivor: [2]string{"R0", "M1"},
			docsOf:   map[string]int{"R0": 2},
		},
		{
			name:      "second residence permit is a conflict",
			events:    []tev{{id: "e1", at: 1, docs: []string{"R0", "M1"}}, {id: "e2", at: 2, docs: []string{"R2", "M1"}}},
			same:      [][]string{{"R0", "M1"}},
			apart:     [][2]string{{"R2", "M1"}},
			conflicts: map[string]string{"e2": "conflicting_residence_permit"},
		},
		{
			name:   "passports may be several",
			events: []tev{{id: "e1", at: 1, docs: []string{"R0", "P1"}}, {id: "e2", at: 2, docs: []string{"R0", "P2"}}},
			same:   [][]string{{"R0", "P1", "P2"}},
			docsOf: map[string]int{"P2": 3},
		},
		{
			name:      "two birth dates is a conflict",
			events:    []tev{{id: "e1", at: 1, docs: []string{"P1"}, bd: "1980-05-05"}, {id: "e2", at: 2, docs: []string{"P1", "M1"}, bd: "1981-05-05"}},
			apart:     [][2]string{{"P1", "M1"}},
			conflicts: map[string]string{"e2": "conflicting_birth_date"},
		},
		{
			name:      "birth date from a residence permit number conflicts too",
			events:    []tev{{id: "e1", at: 1, docs: []string{"R0", "P1"}}, {id: "e2", at: 2, docs: []string{"P1"}, bd: "1985-01-01"}},
			same:      [][]string{{"R0", "P1"}},
			conflicts: map[string]string{"e2": "conflicting_birth_date"},
		},
		{
			name: "retraction splits; the largest part keeps the id",
			events: []tev{
				{id: "e1", at: 1, docs: []string{"R0", "M1", "P1"}},
				{id: "e2", at: 2, docs: []string{"M1", "P2"}},
				{id: "e3", at: 3, docs: []string{"P2", "P3"}},
				{id: "e4", at: 4, docs: []string{"P1"}, retracts: "e2"},
			},
			same:     [][]string{{"R0", "M1", "P1"}, {"P2", "P3"}},
			apart:    [][2]string{{"R0", "P2"}},
			survivor: [2]string{"R0", "P1"},
		},
		{
			name: "retracting an event decides what it held back again",
			events: []tev{
				{id: "e1", at: 1, docs: []string{"R0", "M1"}},
				{id: "e2", at: 2, docs: []string{"R2", "M1"}}, // held while e1 stands
				{id: "e3", at: 3, docs: []string{}, retracts: "e1"},
				{id: "e4", at: 4, docs: []string{"R2", "M1"}},
			},
			same:  [][]string{{"R2", "M1"}},
			apart: [][2]string{{"R0", "M1"}},
		},
		{
			// CONTRACT §2 with invented documents: P holds H1 and M1, Q holds
			// H2 and M2. e1 links M1 with P1; e2 would link P1 with M2 (P
			// would hold two hkids), so it is held; r1 withdraws e1, so P1
			// stood alone at e2's time and e2 applies: P1 joins Q. e3, which
			// applied while e2 was held, would now give Q two residence
			// permits: it is held instead (a cascade).
			name: "a retraction re-decides every event after what it withdraws",
			events: []tev{
				{id: "p", at: 1, docs: []string{"H1", "M1"}},
				{id: "q", at: 1, docs: []string{"H2", "M2", "R0"}},
				{id: "e1", at: 2, docs: []string{"M1", "P1"}},
				{id: "e2", at: 3, docs: []string{"P1", "M2"}},
				{id: "e3", at: 4, docs: []string{"P1", "R2"}},
				{id: "r1", at: 5, retracts: "e1"},
			},
			same:      [][]string{{"H1", "M1"}, {"H2", "M2", "R0", "P1"}},
			apart:     [][2]string{{"M1", "P1"}, {"R2", "P1"}},
			conflicts: map[string]string{"e3": "conflicting_residence_permit"},
			survivor:  [2]string{"H2", "P1"},
		},
		{
			name: "a retraction that sorts before the event it names withdraws it too",
			events: []tev{
				{id: "p", at: 1, docs: []string{"H1", "M1"}},
				{id: "q", at: 1, docs: []string{"H2", "M2"}},
				{id: "r1", at: 2, retracts: "e1"},
				{id: "e1", at: 3, docs: []string{"M1", "P1"}},
				{id: "e2", at: 4, docs: []string{"P1", "M2"}},
				{id: "r2", at: 6, retracts: "e1"}, // repeated
			},
			same:  [][]string{{"H1", "M1"}, {"H2", "M2", "P1"}},
			apart: [][2]string{{"M1", "P1"}},
		},
		{
			name: "withdrawing a held event takes it off the conflicts",
			events: []tev{
				{id: "e1", at: 1, docs: []string{"R0", "M1"}},
				{id: "e2", at: 2, docs: []string{"R2", "M1"}},
				{id: "r1", at: 3, retracts: "e2"},
			},
			same:  [][]string{{"R0", "M1"}},
			apart: [][2]string{{"R2", "M1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every arrival order gives the same persons.
			var first map[string]string
			for round := 0; round < 6; round++ {
				h := newHarness(t)
				evs := append([]tev(nil), tt.events...)
				if round > 0 {
					r := rand.New(rand.NewPCG(uint64(round), 7))
					r.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
				}
				for _, e := range evs {
					h.feed(e)
				}
				h.feed(evs...) // a full replay changes nothing
				got := map[string]string{}
				for _, e := range tt.events {
					for _, d := range e.docs {
						got[d] = h.person(d).PersonID
					}
				}
				if first == nil {
					first = got
				} else if fmt.Sprint(first) != fmt.Sprint(got) {
					t.Fatalf("order %d gave other persons:\n%v\n%v", round, first, got)
				}
				for _, g := range tt.same {
					for _, d := range g[1:] {
						if got[d] != got[g[0]] {
							t.Errorf("%s and %s should be one person", g[0], d)
						}
					}
				}
				for _, p := range tt.apart {
					if got[p[0]] == got[p[1]] {
						t.Errorf("%s and %s should be two persons", p[0], p[1])
					}
				}
				if tt.survivor[0] != "" {
					creator, minTok := "", ""
					for _, e := range tt.events {
						if len(e.docs) > 0 && e.docs[0] == tt.survivor[0] {
							creator = e.id
							for _, d := range e.docs {
								if minTok == "" || tok(d) < minTok {
									minTok = tok(d)
								}
							}
							break
						}
					}
					if want := PersonID(creator, minTok); got[tt.survivor[1]] != want {
						t.Errorf("survivor %s, want %s (first created)", got[tt.survivor[1]], want)
					}
				}
				for d, n := range tt.docsOf {
					if v := h.person(d); len(v.Documents) != n {
						t.Errorf("%s: %d documents, want %d", d, len(v.Documents), n)
					}
				}
				cs, err := ListConflicts(context.Background(), h.store)
				if err != nil {
					t.Fatal(err)
				}
				gotC := map[string]string{}
				for _, c := range cs {
					gotC[c.EventID] = c.Reason
				}
				if len(tt.conflicts) == 0 {
					tt.conflicts = map[string]string{}
				}
				if fmt.Sprint(gotC) != fmt.Sprint(tt.conflicts) {
					t.Errorf("conflicts %v, want %v", gotC, tt.conflicts)
				}
			}
		})
	}
}

func TestMergedAwayIDForwards(t *testing.T) {
	h := newHarness(t)
	h.feed(tev{id: "e1", at: 1, docs: []string{"R0"}}, tev{id: "e2", at: 2, docs: []string{"M1"}})
	gone := h.person("M1").PersonID
	h.feed(tev{id: "e3", at: 3, docs: []string{"R0", "M1"}})
	v, err := LookupPerson(context.Background(), h.store, gone)
	if err != nil || v == nil {
		t.Fatalf("lookup by merged-away id: %v %v", v, err)
	}
	if v.PersonID != h.person("R0").PersonID || v.Events != 3 {
		t.Fatalf("forwarded to %+v", v)
	}
	var kinds []string
	for _, c := range h.changes() {
		kinds = append(kinds, c.Kind)
	}
	if fmt.Sprint(kinds) != "[created created merged]" {
		t.Fatalf("changes %v", kinds)
	}
	merged := h.changes()[2]
	if merged.PersonID != v.PersonID || len(merged.OtherPersonIDs) != 1 || merged.OtherPersonIDs[0] != gone || len(merged.Persons) != 1 || len(merged.Persons[0].Documents) != 2 {
		t.Fatalf("merged change %+v", merged)
	}
}

func TestReplayPublishesNothingNew(t *testing.T) {
	h := newHarness(t)
	evs := []tev{{id: "e1", at: 1, docs: []string{"R0", "M1"}}, {id: "e2", at: 2, docs: []string{"R2", "M1"}}}
	h.feed(evs...)
	n := len(h.pub.msgs)
	h.feed(evs...)
	h.feed(evs[1])
	if len(h.pub.msgs) != n {
		t.Fatalf("replay published %d more messages", len(h.pub.msgs)-n)
	}
}

func TestDeadLetters(t *testing.T) {
	h := newHarness(t)
	bad := h.msgs(tev{id: "x1", at: 1, docs: []string{"R0"}})
	ev := tev{id: "x2", at: 1, docs: []string{"R0"}}.event()
	ev.Documents[0].Token = "not-a-token"
	b, _ := h.codec.EncodeEvent(ev)
	msgs := []kafka.Message{
		{Topic: "events.nia", Value: []byte("garbage")},
		{Topic: "events.nia", Value: b},
		bad[0],
	}
	if err := h.res.Handle(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, d := range h.deadLetters() {
		reasons = append(reasons, d.Reason)
	}
	sort.Strings(reasons)
	if fmt.Sprint(reasons) != "[malformed_token undecodable]" {
		t.Fatalf("dead letters %v", reasons)
	}
	if h.person("R0") == nil {
		t.Fatal("the good event was lost")
	}
}

// reference resolves events as CONTRACT.md §2 reads, naively and apart from
// the resolver: every event named by a retraction anywhere in the set links
// nothing, as if it had never linked anything, and the others are decided in
// (occurred_at, event_id) order by a fold that recomputes connected
// components from scratch before every event. It returns a canonical
// partition (document -> smallest name in its person) and the events held.
func reference(events []tev) (map[string]string, map[string]bool) {
	evs := append([]tev(nil), events...)
	sort.Slice(evs, func(i, j int) bool {
		if evs[i].at != evs[j].at {
			return evs[i].at < evs[j].at
		}
		return evs[i].id < evs[j].id
	})
	withdrawn := map[string]bool{}
	for _, e := range evs {
		if e.retracts != "" {
			withdrawn[e.retracts] = true
		}
	}
	accepted, seen := map[string]bool{}, map[string]bool{}
	components := func() map[string]string {
		adj := map[string][]string{}
		for _, e := range evs {
			if accepted[e.id] {
				for _, d := range e.docs[1:] {
					adj[e.docs[0]] = append(adj[e.docs[0]], d)
					adj[d] = append(adj[d], e.docs[0])
				}
			}
		}
		comp := map[string]string{}
		var names []string
		for d := range seen {
			names = append(names, d)
		}
		sort.Strings(names)
		for _, d := range names {
			if comp[d] != "" {
				continue
			}
			stack := []string{d}
			comp[d] = d
			for len(stack) > 0 {
				x := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				for _, y := range adj[x] {
					if comp[y] == "" {
						comp[y] = d
						stack = append(stack, y)
					}
				}
			}
		}
		return comp
	}
	conflicts := map[string]bool{}
	for _, e := range evs {
		comp := components()
		for _, d := range e.docs {
			seen[d] = true
		}
		if e.retracts != "" || withdrawn[e.id] {
			continue
		}
		group := map[string]bool{}
		for _, d := range e.docs {
			group[d] = true
			if c, ok := comp[d]; ok {
				for x, cx := range comp {
					if cx == c {
						group[x] = true
					}
				}
			}
		}
		holders := map[string]string{}
		births := map[string]bool{}
		bad := false
		for d := range group {
			if t := docType(d); t != "passport" {
				if h, ok := holders[t]; ok && h != d {
					bad = true
				}
				holders[t] = d
			}
			if bd := docBirth(d); bd != "" {
				births[bd] = true
			}
		}
		for _, x := range evs {
			if accepted[x.id] && x.bd != "" && group[x.docs[0]] {
				births[x.bd] = true
			}
		}
		if e.bd != "" {
			births[e.bd] = true
		}
		if bad || len(births) > 1 {
			conflicts[e.id] = true
			continue
		}
		accepted[e.id] = true
	}
	return components(), conflicts
}

// randomEvents makes n events over a few documents, with the shapes the
// contract's retraction rule is about: ties on occurred_at, conflicts,
// retractions of events that sort before them (so that what they held back
// is decided again, and that may hold back what came after), retractions
// that sort before the event they name or arrive before it, and retractions
// repeated.
func randomEvents(r *rand.Rand, n int) []tev {
	names := []string{"R0", "R1", "R2", "M1", "M2", "M3", "H1", "H2", "P1", "P2", "P3", "P4", "P5"}
	births := []string{"", "", "", "1990-01-01", "1991-01-01"}
	var evs []tev
	for i := 0; i < n; i++ {
		e := tev{id: fmt.Sprintf("e%03d", i), at: r.IntN(n / 2), zone: r.IntN(3)*8 - 8}
		if i > 2 && r.IntN(6) == 0 {
			target := r.IntN(min(i+3, n)) // now and then an event not made yet
			e.retracts = fmt.Sprintf("e%03d", target)
			if target < i && r.IntN(4) > 0 { // mostly after what it names
				e.at = evs[target].at + r.IntN(n/4+1)
			}
			if r.IntN(2) == 0 {
				e.docs = []string{names[r.IntN(len(names))]}
			}
		} else {
			k := 1 + r.IntN(3)
			picked := map[string]bool{}
			for len(e.docs) < k {
				d := names[r.IntN(len(names))]
				if !picked[d] {
					picked[d] = true
					e.docs = append(e.docs, d)
				}
			}
			e.bd = births[r.IntN(len(births))]
		}
		evs = append(evs, e)
	}
	return evs
}

// checkState compares what h's store holds for the events received so far
// with the contract's reference (partition and conflicts) and with one
// replay of them all (person ids too).
func checkState(t *testing.T, h *harness, received []tev, what string) {
	t.Helper()
	wantPart, wantConf := reference(received)
	_, full := replayAll(received)
	all, _ := replayAll(received)
	ids := map[string]string{}
	var docs []string
	for d := range wantPart {
		ids[d] = h.person(d).PersonID
		docs = append(docs, d)
		if want := full.PersonOf[all.DocIndex(tok(d))]; ids[d] != want {
			t.Fatalf("%s: %s is in %s, a replay of every event says %s\nevents %v", what, d, ids[d], want, received)
		}
	}
	sort.Strings(docs)
	canon := map[string]string{} // person id -> smallest doc name
	for _, d := range docs {
		if _, ok := canon[ids[d]]; !ok {
			canon[ids[d]] = d
		}
	}
	for _, d := range docs {
		if canon[ids[d]] != wantPart[d] {
			t.Fatalf("%s: %s grouped with %s, reference says %s\nevents %v", what, d, canon[ids[d]], wantPart[d], received)
		}
	}
	cs, err := ListConflicts(context.Background(), h.store)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, c := range cs {
		got[c.EventID] = true
		var sides []string // both sides: the persons holding its documents now
		for _, d := range c.Documents {
			v, err := LookupDocument(context.Background(), h.store, d.Token)
			if err != nil || v == nil {
				t.Fatalf("%s: conflict %s names an unknown document (%v)", what, c.EventID, err)
			}
			if !slices.Contains(sides, v.PersonID) {
				sides = append(sides, v.PersonID)
			}
		}
		sort.Strings(sides)
		if fmt.Sprint(sides) != fmt.Sprint(c.PersonIDs) {
			t.Fatalf("%s: conflict %s names persons %v, its documents are held by %v", what, c.EventID, c.PersonIDs, sides)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(wantConf) {
		t.Fatalf("%s: conflicts %v, reference %v\nevents %v", what, got, wantConf, received)
	}
}

// TestOrderIndependence feeds random event sets in random orders, in random
// batches, with duplicates, through one or two resolvers sharing a store, and
// after every batch checks the state against the reference and against one
// replay of every event received so far; at the end, the person ids must be
// the same for every arrival order.
func TestOrderIndependence(t *testing.T) {
	for seed := uint64(1); seed <= 80; seed++ {
		r := rand.New(rand.NewPCG(seed, 42))
		events := randomEvents(r, 10+r.IntN(40))
		var firstIDs map[string]string
		for order := 0; order < 4; order++ {
			h := newHarness(t)
			second := New(h.mem.handle(), h.codec, h.pub, Options{Topics: (&pipeline.Config{}).Topics()})
			arrival := append([]tev(nil), events...)
			r.Shuffle(len(arrival), func(i, j int) { arrival[i], arrival[j] = arrival[j], arrival[i] })
			for i := 0; i < len(events)/4; i++ { // duplicates
				arrival = append(arrival, events[r.IntN(len(events))])
			}
			var received []tev
			for batch := 0; len(arrival) > 0; batch++ {
				n := 1 + r.IntN(min(len(arrival), 7))
				res := h.res
				if r.IntN(2) == 0 {
					res = second
				}
				if err := res.Handle(context.Background(), h.msgs(arrival[:n]...)); err != nil {
					t.Fatal(err)
				}
				received = append(received, arrival[:n]...)
				arrival = arrival[n:]
				checkState(t, h, received, fmt.Sprintf("seed %d order %d batch %d", seed, order, batch))
			}
			ids := map[string]string{}
			for _, e := range events {
				for _, d := range e.docs {
					ids[d] = h.person(d).PersonID
				}
			}
			if firstIDs == nil {
				firstIDs = ids
			} else if fmt.Sprint(firstIDs) != fmt.Sprint(ids) {
				t.Fatalf("seed %d: person ids depend on arrival order", seed)
			}
			if len(h.deadLetters()) != 0 {
				t.Fatalf("seed %d: unexpected dead letters", seed)
			}
		}
	}
}

func TestBlobRoundTrip(t *testing.T) {
	c := NewCluster("c1")
	c.Rev = 9
	for _, n := range []string{"R0", "M1", "P1"} {
		c.AddDoc(Doc{Token: tok(n), Type: docType(n), BirthDate: docBirth(n)})
	}
	c.AddEvent(Event{ID: "e1", At: -5, BirthDate: "1990-01-01", Status: StatusActive, Type: eventtypes.ResidencePermitIssued, Agency: eventtypes.MPS}, []string{tok("R0"), tok("M1")})
	c.AddEvent(Event{ID: "e2", At: 1 << 50, Retract: true, Retracts: "e1", Type: eventtypes.LinkRetracted, Agency: eventtypes.MOHRSS}, []string{tok("P1")})
	c.AddEvent(Event{ID: "e3", At: 7, Status: StatusRevoked}, []string{tok("R0")})
	b, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	d, err := UnmarshalCluster("c1", b)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(d.Docs, d.Events, d.Rev) != fmt.Sprint(c.Docs, c.Events, c.Rev) {
		t.Fatalf("round trip:\n%v\n%v", c, d)
	}
	for i := 0; i < len(b); i++ {
		if _, err := UnmarshalCluster("c1", b[:i]); err == nil {
			t.Fatalf("truncated blob (%d bytes) decoded", i)
		}
	}
}

func FuzzUnmarshalCluster(f *testing.F) {
	c := NewCluster("c")
	c.AddDoc(Doc{Token: tok("R0"), Type: "residence_permit", BirthDate: "1990-01-01"})
	c.AddEvent(Event{ID: "e1", At: 5}, []string{tok("R0")})
	b, _ := c.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := UnmarshalCluster("c", b)
		if err != nil {
			return
		}
		Replay(c) // must not panic on any decodable cluster
	})
}

// A retraction that arrives before the event it names waits for it, in any
// process and any later batch.
func TestRetractionBeforeItsTarget(t *testing.T) {
	h := newHarness(t)
	h.feed(tev{id: "r1", at: 9, retracts: "e2"})
	h.feed(tev{id: "e1", at: 1, docs: []string{"R0", "M1"}})
	if len(h.deadLetters()) != 0 {
		t.Fatal("a retraction of a not-yet-seen event was dead-lettered")
	}
	second := New(h.mem.handle(), h.codec, h.pub, Options{Topics: (&pipeline.Config{}).Topics()})
	if err := second.Handle(context.Background(), h.msgs(tev{id: "e2", at: 2, docs: []string{"M1", "P1"}})); err != nil {
		t.Fatal(err)
	}
	if a, b := h.person("M1"), h.person("P1"); a.PersonID == b.PersonID {
		t.Fatal("the retracted link holds")
	}
	if a, b := h.person("R0"), h.person("M1"); a.PersonID != b.PersonID {
		t.Fatal("an unretracted link was lost")
	}
}

// replayAll is the reference for multi-batch runs: every event in one
// cluster, replayed once.
func replayAll(events []tev) (*Cluster, *Outcome) {
	all := NewCluster("all")
	for _, e := range events {
		ev := e.event()
		toks := make([]string, len(ev.Documents))
		for i, d := range ev.Documents {
			all.AddDoc(Doc{Token: d.Token, Type: d.Type, BirthDate: d.BirthDate})
			toks[i] = d.Token
		}
		all.AddEvent(Event{ID: ev.EventID, At: ev.OccurredAt.UnixMicro(), BirthDate: ev.BirthDate, Retract: e.retracts != "", Retracts: e.retracts}, toks)
	}
	return all, Replay(all)
}

func TestLockNames(t *testing.T) {
	for _, id := range []string{"", "e-1", "ev-123456", strings.Repeat("x", 200)} {
		if got, want := parkedLockName(id), LockName(parkedClusterID(id)); got != want {
			t.Errorf("parkedLockName(%q) = %q, want %q", id, got, want)
		}
	}
	for _, cid := range []string{"000abc", "ff", "a1b2c3d4e5f60718", "XYZ1"} {
		if got, want := LockName(cid), cid[:2]; got != want {
			t.Errorf("LockName(%q) = %q, want %q", cid, got, want)
		}
	}
}

// TestStagedPersonIDs feeds a first stage of events, then a second whose
// events all sort after the first's, and checks CONTRACT §2's rules for
// person ids between the two states: a person that only grew keeps its id;
// persons that merged keep the id of the one first created; a person that a
// retraction split keeps its id in the part holding most of its documents.
// The second stage's retraction sorts first in it, so that the state the
// split is judged from (the one just before the retraction) is the first
// stage's.
func TestStagedPersonIDs(t *testing.T) {
	checked := map[string]int{}
	for seed := uint64(1); seed <= 500; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		first := randomEvents(r, 10+r.IntN(30))
		retracting := seed%2 == 0 // stage 1 with or without retractions
		if !retracting {
			first = slices.DeleteFunc(first, func(e tev) bool { return e.retracts != "" })
		}
		var second []tev
		end := 0
		for _, e := range first {
			end = max(end, e.at+1)
		}
		for i := 0; i < 6+r.IntN(6); i++ {
			e := randomEvents(r, 10)[r.IntN(10)]
			e.id, e.at = fmt.Sprintf("s%02d", i+1), end+1+r.IntN(5)
			if e.retracts != "" {
				e.retracts = ""
				if len(e.docs) == 0 {
					e.docs = []string{"P1"}
				}
			}
			second = append(second, e)
		}
		oneRetraction := seed%3 != 0
		if oneRetraction { // withdraw one event of the first stage
			target := first[r.IntN(len(first))]
			for try := 0; try < 5 && len(target.docs) < 2; try++ { // mostly one that linked
				target = first[r.IntN(len(first))]
			}
			second = append(second, tev{id: "s00", at: end, retracts: target.id})
		}
		h := newHarness(t)
		feedShuffled := func(evs []tev) {
			evs = slices.Clone(evs)
			r.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
			for len(evs) > 0 {
				n := 1 + r.IntN(min(len(evs), 5))
				h.feed(evs[:n]...)
				evs = evs[n:]
			}
		}
		state := func(evs []tev) (map[string]string, map[string][]string) {
			of, docs := map[string]string{}, map[string][]string{}
			for _, e := range evs {
				for _, d := range e.docs {
					if _, ok := of[d]; !ok {
						id := h.person(d).PersonID
						of[d], docs[id] = id, append(docs[id], d)
					}
				}
			}
			return of, docs
		}
		feedShuffled(first)
		of1, docs1 := state(first)
		feedShuffled(second)
		all := append(slices.Clone(first), second...)
		checkState(t, h, all, fmt.Sprintf("seed %d", seed))
		of2, docs2 := state(all)
		// created: when each first-stage person began, as the earliest event
		// naming one of its documents (true while no retraction split one).
		createdAt := func(id string) [2]string {
			best := [2]string{"~", "~"}
			for _, e := range first {
				for _, d := range e.docs {
					if of1[d] == id {
						k := [2]string{fmt.Sprintf("%08d", e.at), e.id}
						if k[0] < best[0] || k[0] == best[0] && k[1] < best[1] {
							best = k
						}
					}
				}
			}
			return best
		}
		for id2, ds := range docs2 {
			var olds []string // first-stage persons with documents here
			for _, d := range ds {
				if p, ok := of1[d]; ok && !slices.Contains(olds, p) {
					olds = append(olds, p)
				}
			}
			whole := true // every one of them lies wholly here
			for _, p := range olds {
				for _, d := range docs1[p] {
					whole = whole && of2[d] == id2
				}
			}
			switch {
			case len(olds) == 1 && whole:
				checked["grown"]++
				if id2 != olds[0] {
					t.Fatalf("seed %d: %v grew from %s but is %s now\nevents %v", seed, ds, olds[0], id2, all)
				}
			case len(olds) > 1 && whole:
				checked["merged"]++
				if !slices.Contains(olds, id2) {
					t.Fatalf("seed %d: %v merged from %v but is %s", seed, ds, olds, id2)
				}
				if !retracting && !oneRetraction {
					slices.SortFunc(olds, func(a, b string) int { // ties (one event made both): by id
						return strings.Compare(fmt.Sprint(createdAt(a), a), fmt.Sprint(createdAt(b), b))
					})
					if id2 != olds[0] {
						t.Fatalf("seed %d: %v merged from %v keeps %s, not the first created\nevents %v", seed, ds, olds, id2, all)
					}
				}
			}
		}
		if !oneRetraction {
			continue
		}
		for id1, ds := range docs1 {
			count := map[string]int{}
			pure := true // each part holds documents of this person only
			for _, d := range ds {
				count[of2[d]]++
			}
			if len(count) < 2 {
				continue
			}
			for part := range count {
				for _, d := range docs2[part] {
					if p, ok := of1[d]; ok && p != id1 {
						pure = false
					}
				}
			}
			best, unique := "", true
			for part, n := range count {
				switch {
				case best == "" || n > count[best]:
					best, unique = part, true
				case n == count[best]:
					unique = false
				}
			}
			if pure && unique {
				checked["split"]++
				if best != id1 {
					t.Fatalf("seed %d: %s split, its largest part %v is %s\nevents %v", seed, id1, docs2[best], best, all)
				}
			}
		}
	}
	t.Logf("cases checked: %v", checked)
	for _, k := range []string{"grown", "merged", "split"} {
		if checked[k] == 0 {
			t.Errorf("no %s case was generated", k)
		}
	}
}
