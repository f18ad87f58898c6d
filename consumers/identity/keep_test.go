package identity

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/idlink/idlink/pipeline"
)

// hubEvents is a bad feed around ordinary traffic: persons k hold M<k> and
// P<k>; chain event k names M<k> and M<k+1> (held: two travel permits), so
// every person joins one cluster; then, mostly in time order, events
// confirming a person, giving a person a new document, linking two persons
// (held, or a merge when one of them has no travel permit yet), events that
// arrive late (sorting before ones already seen), and, if retract,
// retractions of chain events and of links.
func hubEvents(r *rand.Rand, persons, chain, more int, retract bool) []tev {
	var evs []tev
	for k := 0; k < persons; k++ {
		evs = append(evs, tev{id: fmt.Sprintf("s%03d", k), at: k, docs: []string{fmt.Sprintf("M%d", k), fmt.Sprintf("P%d", k)}})
	}
	for k := 0; k < chain; k++ {
		evs = append(evs, tev{id: fmt.Sprintf("c%03d", k), at: persons + k, docs: []string{fmt.Sprintf("M%d", k), fmt.Sprintf("M%d", k+1)}})
	}
	at := persons + chain
	for i := 0; i < more; i++ {
		at += 1 + r.IntN(3)
		k, j := r.IntN(persons), r.IntN(persons)
		e := tev{id: fmt.Sprintf("o%03d", i), at: at}
		kinds := 20
		if !retract {
			kinds = 17
		}
		switch n := r.IntN(kinds); {
		case n < 8:
			e.docs = []string{fmt.Sprintf("M%d", k), fmt.Sprintf("P%d", k)}
		case n < 12:
			e.docs = []string{fmt.Sprintf("P%d", k), fmt.Sprintf("H%d", i)}
		case n < 14:
			e.docs = []string{fmt.Sprintf("P%d", k), fmt.Sprintf("P%d", j)}
		case n < 15:
			e.docs = []string{fmt.Sprintf("P%d", k), fmt.Sprintf("R%d", i)}
			e.bd = docBirth(fmt.Sprintf("R%d", i+1))
		case n < 16 && r.IntN(2) == 0:
			e.at = at - r.IntN(40) // late, held (two travel permits) or confirming
			e.docs = []string{fmt.Sprintf("M%d", k%10), fmt.Sprintf("%c%d", "MP"[r.IntN(2)], j%10)}
		case n < 17:
			e.at = at - r.IntN(40) // late
			e.docs = []string{fmt.Sprintf("%c%d", "PM"[r.IntN(2)], k%10), fmt.Sprintf("H%d", i-r.IntN(3))}
		case n < 18:
			e.retracts = fmt.Sprintf("c%03d", r.IntN(chain))
		default:
			e.retracts = evs[len(evs)-1-r.IntN(min(10, len(evs)))].id
		}
		evs = append(evs, e)
	}
	return evs
}

// TestKeptMatchesReplayed feeds a large cluster's events in batches, mostly
// in time order, to two resolvers that keep every cluster (KeepFrom 1:
// blobs grow by pieces, replays are extended) sharing one store, and the
// same batches to one resolver that keeps none (KeepFrom -1) on a store of
// its own. After every batch the published changes and the stored state
// must be the same.
func TestKeptMatchesReplayed(t *testing.T) {
	topics := (&pipeline.Config{}).Topics()
	for seed := uint64(1); seed <= 4; seed++ {
		r := rand.New(rand.NewPCG(seed, 15))
		retract := seed%2 == 0
		events := hubEvents(r, 60, 59, 400, retract)
		kept, replayed := newHarness(t), newHarness(t)
		a := New(kept.mem.handle(), kept.codec, kept.pub, Options{Topics: topics, KeepFrom: 1})
		b := New(kept.mem.handle(), kept.codec, kept.pub, Options{Topics: topics, KeepFrom: 1})
		ref := New(replayed.mem.handle(), replayed.codec, replayed.pub, Options{Topics: topics, KeepFrom: -1})
		var received []tev
		batches := 0
		for batch := 0; len(events) > 0; batch++ {
			batches++
			n := 1 + r.IntN(min(len(events), 20))
			res := a
			if r.IntN(4) == 0 {
				res = b // another process: its kept clusters are behind, or gone
			}
			msgs := kept.msgs(events[:n]...)
			published, want := len(kept.pub.msgs), len(replayed.pub.msgs)
			if err := res.Handle(context.Background(), msgs); err != nil {
				t.Fatal(err)
			}
			if err := ref.Handle(context.Background(), msgs); err != nil {
				t.Fatal(err)
			}
			received = append(received, events[:n]...)
			events = events[n:]
			what := fmt.Sprintf("seed %d batch %d", seed, batch)
			got, exp := changeLines(t, kept, published), changeLines(t, replayed, want)
			if !slices.Equal(got, exp) {
				t.Fatalf("%s: published\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(exp, "\n"))
			}
			if batch%4 != 0 && len(events) > 0 {
				continue // the state is compared every fourth batch, and at the end
			}
			if got, exp := stateLines(t, kept, received), stateLines(t, replayed, received); !slices.Equal(got, exp) {
				t.Fatalf("%s: state\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(exp, "\n"))
			}
		}
		if n := a.extended.Load() + b.extended.Load(); n < int64(batches/3) && !retract || n == 0 {
			t.Errorf("seed %d: %d of %d batches resolved by extending a kept replay, want a third at least", seed, n, batches)
		}
		blob := kept.mem.kv["c:"+kept.mem.kv["d:"+tok("M0")]]
		c, err := UnmarshalCluster("c", []byte(blob))
		if err != nil {
			t.Fatal(err)
		}
		if whole, _ := c.MarshalBinary(); len(whole) >= len(blob) {
			t.Errorf("seed %d: the large cluster's blob (%d bytes) has no pieces appended", seed, len(blob))
		}
	}
}

// changeLines are the identity changes h published from message n on,
// sorted.
func changeLines(t *testing.T, h *harness, n int) []string {
	var out []string
	for _, m := range h.pub.msgs[n:] {
		if m.Topic != "identity.changes" {
			continue
		}
		ch, err := h.codec.DecodeChange(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %+v", m.Key, *ch))
	}
	slices.Sort(out)
	return out
}

// stateLines are every received document's person view, and every held
// conflict, as h's store gives them.
func stateLines(t *testing.T, h *harness, received []tev) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range received {
		for _, d := range e.docs {
			if seen[d] {
				continue
			}
			seen[d] = true
			v, err := LookupDocument(context.Background(), h.store, tok(d))
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s %+v", d, v))
		}
	}
	cs, err := ListConflicts(context.Background(), h.store)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		out = append(out, fmt.Sprintf("conflict %+v", c))
	}
	slices.Sort(out)
	return out
}

// TestKeeperBudget checks that the keeper forgets clusters beyond its
// budget and never keeps one larger than it.
func TestKeeperBudget(t *testing.T) {
	k := newKeeper(1, 10)
	mk := func(id string, events int) *kept {
		c := NewCluster(id)
		for i := 0; i < events; i++ {
			c.Events = append(c.Events, Event{ID: fmt.Sprint(i)})
		}
		return newKept(c, []byte{blobVersion, 1}, nil)
	}
	k.put([]*kept{mk("a", 4), mk("b", 4)})
	if k.size != 8 || len(k.m) != 2 {
		t.Fatalf("kept %d clusters of size %d, want 2 of 8", len(k.m), k.size)
	}
	k.put([]*kept{mk("c", 4)})
	if k.size > 10 || len(k.m) != 2 {
		t.Fatalf("over budget: kept %d clusters of size %d", len(k.m), k.size)
	}
	k.put([]*kept{mk("d", 11)})
	if k.size > 10 {
		t.Fatalf("kept a cluster larger than the budget: size %d", k.size)
	}
	if got := k.known([]string{"a", "b", "c", "d"}); len(got) != len(k.m) {
		t.Fatalf("known %v, kept %d", got, len(k.m))
	}
	if k.take("x") != nil {
		t.Fatal("took a cluster never kept")
	}
}
