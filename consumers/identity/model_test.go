package identity

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// Person and change ids are part of what idlink publishes: these values were
// computed by the first implementation and must never change.
func TestIDsAreStable(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{PersonID("e1", tok("R0")), "p-d4c20edcfecaf0877fac"},
		{PersonID("", tok("M1")), "p-c337e06abca3868b17f9"},
		{PersonID(strings.Repeat("事", 64), tok("P1")), "p-78b8cc752a73b5841ec5"},
		{changeID("created", "e1", "p-1", nil), "c-a69464a8c0634c3ee36212d2"},
		{changeID("merged", "e2", "p-1", []string{"p-2", "p-3"}), "c-6e0afe2b16b81141e5e43d3e"},
		{changeID("reassigned", "7", "p-1", nil), "c-b218e613220fe5c45352036f"},
		{changeID("split", strings.Repeat("x", 64), "p-1", []string{strings.Repeat("p", 100), strings.Repeat("q", 100)}), "c-2b8b928b81c4c75747af25fe"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %s, want %s", tt.got, tt.want)
		}
	}
}

// An event that would give a person two numbers of several single-holder
// types names the type that sorts first, whatever the order of documents.
func TestConflictReasonIsDeterministic(t *testing.T) {
	for _, tt := range []struct {
		name   string
		events []tev
		want   string
	}{
		{"one type", []tev{
			{id: "e1", at: 1, docs: []string{"R0", "P1"}},
			{id: "e2", at: 2, docs: []string{"R2", "P2"}},
			{id: "e3", at: 3, docs: []string{"P1", "P2"}},
		}, "conflicting_residence_permit"},
		{"two types", []tev{
			{id: "e1", at: 1, docs: []string{"R0", "M1", "H1"}},
			{id: "e2", at: 2, docs: []string{"R2", "M2", "H2"}},
			{id: "e3", at: 3, docs: []string{"H1", "R2"}},
		}, "conflicting_hkid"},
		{"two types, new documents", []tev{
			{id: "e1", at: 1, docs: []string{"M1", "R0"}},
			{id: "e3", at: 3, docs: []string{"R0", "M2", "R2"}},
		}, "conflicting_mainland_travel_permit"},
		{"birth date", []tev{
			{id: "e1", at: 1, docs: []string{"R0", "P1"}},
			{id: "e2", at: 2, docs: []string{"P2", "M1"}, bd: "1991-01-01"},
			{id: "e3", at: 3, docs: []string{"P1", "M1"}},
		}, ReasonBirthDate},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			for round := 0; round < 20; round++ {
				evs := append([]tev(nil), tt.events...)
				r.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
				for i := range evs {
					docs := append([]string(nil), evs[i].docs...)
					r.Shuffle(len(docs), func(a, b int) { docs[a], docs[b] = docs[b], docs[a] })
					evs[i].docs = docs
				}
				_, out := replayAll(evs)
				if len(out.Conflicts) != 1 || out.Conflicts[0].Reason != tt.want {
					t.Fatalf("round %d: conflicts %+v, want one %s", round, out.Conflicts, tt.want)
				}
			}
		})
	}
}

// Small clusters search their documents and events in turn, bigger ones
// through maps; both must find the same.
func TestClusterIndex(t *testing.T) {
	for _, n := range []int{0, 1, indexFrom, indexFrom + 1, 3 * indexFrom} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			c := NewCluster("c")
			for i := 0; i < n; i++ {
				name := fmt.Sprintf("P%d", i)
				if got := c.AddDoc(Doc{Token: tok(name), Type: "passport"}); got != i {
					t.Fatalf("AddDoc(%s) = %d, want %d", name, got, i)
				}
				if !c.AddEvent(Event{ID: fmt.Sprintf("e%d", i), At: int64(i)}, []string{tok(name)}) {
					t.Fatalf("AddEvent(e%d) reported a replay", i)
				}
			}
			check := func(c *Cluster) {
				t.Helper()
				for i := 0; i < n; i++ {
					if got := c.DocIndex(tok(fmt.Sprintf("P%d", i))); got != i {
						t.Fatalf("DocIndex(P%d) = %d", i, got)
					}
					if got := c.EventIndex(fmt.Sprintf("e%d", i)); got != i || !c.HasEvent(fmt.Sprintf("e%d", i)) {
						t.Fatalf("EventIndex(e%d) = %d", i, got)
					}
					if c.AddEvent(Event{ID: fmt.Sprintf("e%d", i)}, nil) {
						t.Fatalf("AddEvent(e%d) again was not a replay", i)
					}
				}
				if c.DocIndex(tok("X")) != -1 || c.EventIndex("x") != -1 || c.HasEvent("x") {
					t.Fatal("found what is not there")
				}
			}
			check(c)
			b, err := c.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			d, err := UnmarshalCluster("c", b)
			if err != nil {
				t.Fatal(err)
			}
			check(d)
			if got := c.AddDoc(Doc{Token: tok("P0"), Type: "passport"}); n > 0 && got != 0 {
				t.Fatalf("AddDoc of a known document = %d", got)
			}
		})
	}
}
