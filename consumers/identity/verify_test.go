package identity

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/idlink/idlink/eventtypes"
)

// TestDocumentStatus checks a residence permit's status after every arrival
// order of each scenario's events: it is the status the last applied
// status event sets, in (occurred_at, event_id) order.
func TestDocumentStatus(t *testing.T) {
	issued, revoked := eventtypes.ResidencePermitIssued, eventtypes.ResidencePermitRevoked
	tests := []struct {
		name   string
		events []tev
		want   string // R0's status
	}{
		{"issued only", []tev{{id: "e1", at: 1, docs: []string{"R0", "M1"}, typ: issued}}, "active"},
		{"no status event", []tev{{id: "e1", at: 1, docs: []string{"R0", "M1"}}}, "active"},
		{"revoked after issue", []tev{
			{id: "e1", at: 1, docs: []string{"R0", "M1"}, typ: issued},
			{id: "e2", at: 2, docs: []string{"R0"}, typ: revoked},
		}, "revoked"},
		{"issued again after revocation", []tev{
			{id: "e1", at: 1, docs: []string{"R0"}, typ: revoked},
			{id: "e2", at: 2, docs: []string{"R0", "M1"}, typ: issued},
		}, "active"},
		{"a tie on occurred_at goes by event_id", []tev{
			{id: "e2", at: 5, docs: []string{"R0"}, typ: issued},
			{id: "e1", at: 5, docs: []string{"R0"}, typ: revoked},
		}, "active"},
		{"an unrelated later event changes nothing", []tev{
			{id: "e1", at: 1, docs: []string{"R0"}, typ: revoked},
			{id: "e2", at: 2, docs: []string{"R0", "P1"}},
		}, "revoked"},
		{"a held revocation sets nothing", []tev{
			{id: "e1", at: 1, docs: []string{"R0", "M1"}, typ: issued},
			{id: "e2", at: 2, docs: []string{"R0"}, bd: "1970-01-01", typ: revoked},
		}, "active"},
		{"a withdrawn revocation sets nothing", []tev{
			{id: "e1", at: 1, docs: []string{"R0", "M1"}, typ: issued},
			{id: "e2", at: 2, docs: []string{"R0"}, typ: revoked},
			{id: "e3", at: 3, docs: []string{"P1"}, retracts: "e2"},
		}, "active"},
		{"a retraction sorting first still withdraws", []tev{
			{id: "e0", at: 0, docs: []string{"P1"}, retracts: "e2"},
			{id: "e2", at: 2, docs: []string{"R0"}, typ: revoked},
		}, "active"},
	}
	r := rand.New(rand.NewPCG(7, 7))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range 6 {
				evs := slices.Clone(tt.events)
				r.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
				h := newHarness(t)
				for _, e := range evs {
					h.feed(e)
				}
				st, err := DocumentStates(context.Background(), h.store, []string{tok("R0"), tok("X9"), tok("R0")})
				if err != nil {
					t.Fatal(err)
				}
				if st[0] == nil || st[0].Status != tt.want {
					t.Fatalf("arrival %v: R0's state %+v, want status %s", ids(evs), st[0], tt.want)
				}
				if st[1] != nil {
					t.Fatalf("unknown document has a state %+v", st[1])
				}
				if st[2] != st[0] {
					t.Fatalf("a repeated token got another state")
				}
				v := h.person("R0")
				for _, d := range v.Documents {
					if d.Token == tok("R0") && d.Status != tt.want {
						t.Fatalf("lookup shows R0 %s, want %s", d.Status, tt.want)
					}
					if d.Type != "residence_permit" && d.Status != "" {
						t.Fatalf("lookup gives a %s a status %q", d.Type, d.Status)
					}
				}
			}
		})
	}
}

func ids(evs []tev) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.id
	}
	return out
}

// TestDocumentStates checks what the verification API learns of a person:
// its id, its document types and birth dates, after a merge.
func TestDocumentStates(t *testing.T) {
	h := newHarness(t)
	h.feed(tev{id: "e1", at: 1, docs: []string{"R0", "M1"}}, tev{id: "e2", at: 2, docs: []string{"P1", "H1"}}, tev{id: "e3", at: 3, docs: []string{"M1", "P1"}})
	st, err := DocumentStates(context.Background(), h.store, []string{tok("H1"), tok("R0")})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"hkid", "mainland_travel_permit", "passport", "residence_permit"}
	for i, s := range st {
		if s == nil || !slices.Equal(s.Types, want) || !slices.Equal(s.BirthDates, []string{"1990-01-01"}) || s.Status != "active" {
			t.Fatalf("state %d: %+v, want types %v and birth date 1990-01-01", i, s, want)
		}
	}
	if st[0].PersonID != st[1].PersonID || st[0].PersonID != h.person("R0").PersonID {
		t.Fatalf("merged documents name persons %s and %s", st[0].PersonID, st[1].PersonID)
	}
}
