package identity

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/idlink/idlink/eventtypes"
)

// TestExplanationsAgreeWithLookup feeds random scenarios (merges,
// conflicts, retractions) in random arrival orders and batches, then checks
// every pair of documents: the explanation calls them one person exactly
// when lookup does, its chain is a chain of applied events from one to the
// other, and a pair kept apart names the held or withdrawn events between
// them (or none ever linked them). Each person's explanation lists its
// documents as lookup does, and every event naming one of them.
func TestExplanationsAgreeWithLookup(t *testing.T) {
	ctx := context.Background()
	kinds := map[string]int{}
	for seed := uint64(1); seed <= 60; seed++ {
		r := rand.New(rand.NewPCG(seed, 99))
		events := randomEvents(r, 10+r.IntN(40))
		arrival := slices.Clone(events)
		r.Shuffle(len(arrival), func(i, j int) { arrival[i], arrival[j] = arrival[j], arrival[i] })
		h := newHarness(t)
		for len(arrival) > 0 {
			n := 1 + r.IntN(min(len(arrival), 6))
			h.feed(arrival[:n]...)
			arrival = arrival[n:]
		}
		var docs []string
		for _, e := range events {
			for _, d := range e.docs {
				if !slices.Contains(docs, d) {
					docs = append(docs, d)
				}
			}
		}
		byID := map[string]tev{}
		for _, e := range events {
			byID[e.id] = e
		}
		for _, a := range docs {
			va := h.person(a)
			x, err := ExplainDocument(ctx, h.store, tok(a))
			if err != nil {
				t.Fatal(err)
			}
			if x == nil || x.PersonID != va.PersonID || fmt.Sprint(x.Documents) != fmt.Sprint(stripStatus(va.Documents)) {
				t.Fatalf("seed %d: explanation of %s is %+v, lookup %+v", seed, a, x, va)
			}
			for _, s := range x.Events {
				kinds[s.Did]++
				if !slices.ContainsFunc(s.Documents, func(d DocumentSummary) bool { return slices.Contains(summaryTokens(va.Documents), d.Token) }) {
					t.Fatalf("seed %d: event %s in %s's explanation names none of its documents", seed, s.EventID, a)
				}
			}
			for _, b := range docs {
				vb := h.person(b)
				p, err := ExplainPair(ctx, h.store, tok(a), tok(b))
				if err != nil {
					t.Fatal(err)
				}
				same := va.PersonID == vb.PersonID
				what := fmt.Sprintf("seed %d pair %s-%s", seed, a, b)
				if p == nil || p.SamePerson != same || p.PersonIDs != [2]string{va.PersonID, vb.PersonID} {
					t.Fatalf("%s: explanation %+v, lookup persons %s and %s", what, p, va.PersonID, vb.PersonID)
				}
				if same {
					checkChain(t, what, p.Chain, tok(a), tok(b), a == b)
					continue
				}
				switch p.Apart {
				case ApartNeverLinked:
					if len(p.Blocking) != 0 {
						t.Fatalf("%s: never linked, yet blocked by %+v", what, p.Blocking)
					}
				case ApartHeld, ApartWithdrawn:
					if len(p.Blocking) == 0 {
						t.Fatalf("%s: apart (%s) with no blocking event", what, p.Apart)
					}
					for _, s := range p.Blocking {
						if s.Did != DidHeld && s.Did != DidWithdrawn || p.Apart == ApartHeld && s.Did != DidHeld {
							t.Fatalf("%s: apart (%s) blocked by an event that %s", what, p.Apart, s.Did)
						}
						if s.Did == DidWithdrawn && (len(s.WithdrawnBy) == 0 || byID[s.WithdrawnBy[0]].retracts != s.EventID) {
							t.Fatalf("%s: %s withdrawn by %v", what, s.EventID, s.WithdrawnBy)
						}
					}
				default:
					t.Fatalf("%s: apart for no reason %q", what, p.Apart)
				}
			}
		}
	}
	for _, k := range []string{DidCreated, DidLinked, DidMerged, DidConfirmed, DidHeld, DidWithdrawn, DidRetract} {
		if kinds[k] == 0 {
			t.Errorf("no explanation showed an event that %s: the scenarios miss a shape", k)
		}
	}
}

// checkChain checks that steps are applied events leading from token a to
// token b, each naming a document of the one before.
func checkChain(t *testing.T, what string, steps []Step, a, b string, self bool) {
	t.Helper()
	if self {
		if len(steps) != 0 {
			t.Fatalf("%s: a document's chain to itself is %+v", what, steps)
		}
		return
	}
	if len(steps) == 0 {
		t.Fatalf("%s: one person, no chain", what)
	}
	at := []string{a}
	for _, s := range steps {
		switch s.Did {
		case DidCreated, DidLinked, DidMerged, DidConfirmed:
		default:
			t.Fatalf("%s: chain event %s %s", what, s.EventID, s.Did)
		}
		toks := summaryTokens(s.Documents)
		if !slices.ContainsFunc(at, func(x string) bool { return slices.Contains(toks, x) }) {
			t.Fatalf("%s: chain event %s names no document of the one before", what, s.EventID)
		}
		at = toks
	}
	if !slices.Contains(at, b) {
		t.Fatalf("%s: chain ends short of the second document", what)
	}
}

func summaryTokens(ds []DocumentSummary) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Token
	}
	return out
}

func stripStatus(ds []DocumentSummary) []DocumentSummary {
	out := slices.Clone(ds)
	for i := range out {
		out[i].Status = ""
	}
	return out
}

// TestExplainSteps checks what an explanation says of each event in the
// issue's pattern: a link withdrawn lets a held event apply.
func TestExplainSteps(t *testing.T) {
	h := newHarness(t)
	h.feed(
		tev{id: "e1", at: 1, docs: []string{"H1", "M1"}, typ: eventtypes.TravelPermitIssued},
		tev{id: "e2", at: 2, docs: []string{"H2", "M2"}},
		tev{id: "e3", at: 3, docs: []string{"M1", "P1"}},
		tev{id: "e4", at: 4, docs: []string{"P1", "M2"}}, // held while e3 stands: two hkids
		tev{id: "e5", at: 5, docs: []string{"H1"}, retracts: "e3"},
		tev{id: "e6", at: 6, docs: []string{"H1", "M1"}},
	)
	x, err := ExplainDocument(context.Background(), h.store, tok("P1"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range x.Events {
		got = append(got, s.EventID+" "+s.Did)
	}
	want := []string{"e2 created", "e3 withdrawn", "e4 merged"}
	if !slices.Equal(got, want) {
		t.Fatalf("P1's explanation: %v, want %v", got, want)
	}
	if x.Events[1].WithdrawnBy[0] != "e5" || x.PersonID != h.person("H2").PersonID {
		t.Fatalf("P1's explanation %+v", x)
	}
	p, err := ExplainPair(context.Background(), h.store, tok("H1"), tok("P1"))
	if err != nil {
		t.Fatal(err)
	}
	if p.SamePerson || p.Apart != ApartWithdrawn || len(p.Blocking) != 1 || p.Blocking[0].EventID != "e3" {
		t.Fatalf("H1-P1: %+v, want apart: withdrawn e3", p)
	}
	x1, _ := ExplainDocument(context.Background(), h.store, tok("H1"))
	if x1.Events[0].Type != eventtypes.TravelPermitIssued || x1.Events[0].Agency != eventtypes.NIA || x1.Events[0].Did != DidCreated {
		t.Fatalf("H1's first step %+v", x1.Events[0])
	}
}

// TestConflictRecordSides checks the record `idlink conflicts` shows: the
// person holding the held event's first document, the other side, and the
// type held twice.
func TestConflictRecordSides(t *testing.T) {
	h := newHarness(t)
	h.feed(tev{id: "e1", at: 1, docs: []string{"R0", "M1"}}, tev{id: "e2", at: 2, docs: []string{"R2", "M1"}}, tev{id: "e3", at: 3, docs: []string{"M1"}, bd: "1970-01-01"})
	list, err := ListConflicts(context.Background(), h.store)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("conflicts %+v, want e2 and e3", list)
	}
	r2, m1 := h.person("R2").PersonID, h.person("M1").PersonID
	if c := list[0]; c.EventID != "e2" || c.PersonID != r2 || c.OtherPersonID != m1 || c.DocType != "residence_permit" {
		t.Fatalf("e2's record %+v, want person %s, other %s, doc_type residence_permit", c, r2, m1)
	}
	if c := list[1]; c.EventID != "e3" || c.PersonID != m1 || c.OtherPersonID != "" || c.DocType != "" || c.Reason != ReasonBirthDate {
		t.Fatalf("e3's record %+v, want person %s alone, a birth date conflict", c, m1)
	}
}

// TestConflictsInTimeOrder checks that `idlink conflicts` lists held events
// by time, not by the text of their RFC 3339 times (a fraction makes
// "…09:00:00.5Z" sort before "…09:00:00Z" as text).
func TestConflictsInTimeOrder(t *testing.T) {
	h := newHarness(t)
	h.feed(tev{id: "e1", at: 1, docs: []string{"R0", "M1"}})
	evs := h.msgs(tev{id: "z-whole", at: 10, docs: []string{"R2", "M1"}}, tev{id: "a-half", at: 10, docs: []string{"R4", "M1"}})
	ev, _ := h.codec.DecodeEvent(evs[1].Value)
	ev.OccurredAt = ev.OccurredAt.Add(500 * time.Millisecond)
	b, err := h.codec.EncodeEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	evs[1].Value = b
	if err := h.res.Handle(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	list, err := ListConflicts(context.Background(), h.store)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].EventID != "z-whole" || list[1].EventID != "a-half" {
		t.Fatalf("conflicts %+v, want z-whole (at 10 s) before a-half (10.5 s)", list)
	}
}
