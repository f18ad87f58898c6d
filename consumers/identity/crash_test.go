package identity

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/idlink/idlink/pipeline"
)

// crashStore applies only part of a commit and fails, like a process killed
// while its pipeline was on the wire. RedisStore.Commit writes cluster blobs
// before any pointer (in one ordered pipeline, or in an earlier round trip
// on a Cluster), so every prefix it can leave starts with the blobs.
type crashStore struct {
	*memHandle
	keep func(w *Writes) *Writes
}

func (c *crashStore) Commit(ctx context.Context, w *Writes) error {
	_ = c.memHandle.Commit(ctx, c.keep(w))
	return errors.New("killed")
}

// TestCrashMidCommit kills the resolver half way through writing a batch in
// several ways, redelivers the batch to a fresh resolver, goes on with more
// events, and checks every person against one replay of all events.
func TestCrashMidCommit(t *testing.T) {
	partial := map[string]func(w *Writes) *Writes{
		"clusters only": func(w *Writes) *Writes {
			return &Writes{Clusters: w.Clusters}
		},
		"clusters and events": func(w *Writes) *Writes {
			return &Writes{Clusters: w.Clusters, Events: w.Events}
		},
		"half the documents": func(w *Writes) *Writes {
			out := &Writes{Clusters: w.Clusters, Events: w.Events, Docs: map[string]string{}}
			i := 0
			for k, v := range w.Docs {
				if i++; i%2 == 0 {
					out.Docs[k] = v
				}
			}
			return out
		},
		"all but the deletes": func(w *Writes) *Writes {
			return &Writes{Clusters: w.Clusters, Docs: w.Docs, Events: w.Events, Persons: w.Persons}
		},
	}
	for name, keep := range partial {
		t.Run(name, func(t *testing.T) {
			for seed := uint64(1); seed <= 20; seed++ {
				r := rand.New(rand.NewPCG(seed, 3))
				events := randomEvents(r, 40)
				h := newHarness(t)
				crashAt := r.IntN(len(events))
				topics := (&pipeline.Config{}).Topics()
				for i := 0; i < len(events); {
					n := min(len(events)-i, 1+r.IntN(5))
					batch := h.msgs(events[i : i+n]...)
					if i <= crashAt && crashAt < i+n {
						crashed := New(&crashStore{memHandle: h.mem.handle(), keep: keep}, h.codec, h.pub, Options{Topics: topics, KeepFrom: 1})
						if err := crashed.Handle(context.Background(), batch); err == nil {
							t.Fatal("the crashing store did not fail")
						}
						h.mem.locks = map[string]*memOwner{} // a killed process's locks expire
					}
					if err := h.res.Handle(context.Background(), batch); err != nil {
						t.Fatal(err)
					}
					i += n
				}
				all, want := replayAll(events)
				for i, d := range all.Docs {
					v, err := LookupDocument(context.Background(), h.store, d.Token)
					if err != nil || v == nil {
						t.Fatalf("seed %d: document %d lost after a crash (%v)", seed, i, err)
					}
					if v.PersonID != want.PersonOf[i] {
						t.Fatalf("seed %d: document %d is with %s, want %s", seed, i, v.PersonID, want.PersonOf[i])
					}
				}
			}
		})
	}
}

// The crash the chaos run found: a cluster's blob and its event pointer are
// in, one document's pointer is not. The redelivery must repair the pointer,
// or a later event naming that document alone founds a cluster under the
// same id and overwrites the first.
func TestCrashLeavesOnePointerUnwritten(t *testing.T) {
	a, b := "R0", "M1"
	if tok(a) > tok(b) {
		a, b = b, a // a has the smaller token: the cluster is named after it
	}
	h := newHarness(t)
	keepB := func(w *Writes) *Writes {
		return &Writes{Clusters: w.Clusters, Events: w.Events, Docs: map[string]string{tok(b): w.Docs[tok(b)]}}
	}
	batch := h.msgs(tev{id: "e1", at: 1, docs: []string{a, b}})
	crashed := New(&crashStore{memHandle: h.mem.handle(), keep: keepB}, h.codec, h.pub, Options{Topics: (&pipeline.Config{}).Topics(), KeepFrom: 1})
	if err := crashed.Handle(context.Background(), batch); err == nil {
		t.Fatal("the crashing store did not fail")
	}
	h.mem.locks = map[string]*memOwner{}
	h.feed(tev{id: "e1", at: 1, docs: []string{a, b}}) // redelivery
	h.feed(tev{id: "e2", at: 2, docs: []string{a}})
	if pa, pb := h.person(a), h.person(b); pa.PersonID != pb.PersonID || len(pa.Documents) != 2 || pa.Events != 2 {
		t.Fatalf("after the crash: %+v and %+v", pa, pb)
	}
}

// A retraction whose target has not arrived parks the target's id in its
// cluster. If a crash loses that parked pointer, the redelivered retraction
// must write it again, or the target, when it comes, founds a cluster of its
// own and its links are never withdrawn.
func TestCrashLosesParkedPointer(t *testing.T) {
	h := newHarness(t)
	dropX := func(w *Writes) *Writes {
		out := &Writes{Clusters: w.Clusters, Events: map[string]string{}}
		for k, v := range w.Events {
			if k != "x" {
				out.Events[k] = v
			}
		}
		return out
	}
	batch := h.msgs(tev{id: "r", at: 2, retracts: "x"})
	crashed := New(&crashStore{memHandle: h.mem.handle(), keep: dropX}, h.codec, h.pub, Options{Topics: (&pipeline.Config{}).Topics(), KeepFrom: 1})
	if err := crashed.Handle(context.Background(), batch); err == nil {
		t.Fatal("the crashing store did not fail")
	}
	h.mem.locks = map[string]*memOwner{}
	h.feed(tev{id: "r", at: 2, retracts: "x"}) // redelivery
	h.feed(tev{id: "x", at: 1, docs: []string{"R0", "M1"}})
	if pa, pb := h.person("R0"), h.person("M1"); pa.PersonID == pb.PersonID {
		t.Fatalf("the retracted link was made: %+v and %+v", pa, pb)
	}
}

// recordStore keeps every Writes a resolver commits.
type recordStore struct {
	*memHandle
	writes []*Writes
}

func (s *recordStore) Commit(ctx context.Context, w *Writes) error {
	s.writes = append(s.writes, w)
	return s.memHandle.Commit(ctx, w)
}

// A batch that grows a cluster writes pointers for its new documents and
// events only; the ones written before still hold.
func TestGrowingWritesOnlyNewPointers(t *testing.T) {
	h := newHarness(t)
	rec := &recordStore{memHandle: h.mem.handle()}
	h.res = New(rec, h.codec, h.pub, Options{Topics: (&pipeline.Config{}).Topics(), KeepFrom: 1})
	h.feed(tev{id: "e1", at: 1, docs: []string{"R0", "M1"}})
	h.feed(tev{id: "e2", at: 2, docs: []string{"R0", "P2"}})
	w := rec.writes[len(rec.writes)-1]
	if len(w.Docs) != 1 || w.Docs[tok("P2")] == "" {
		t.Errorf("document pointers written: %v, want only P2's", w.Docs)
	}
	if len(w.Events) != 1 || w.Events["e2"] == "" {
		t.Errorf("event pointers written: %v, want only e2's", w.Events)
	}
	if pa, pb := h.person("M1"), h.person("P2"); pa.PersonID != pb.PersonID || len(pa.Documents) != 3 {
		t.Fatalf("after growing: %+v and %+v", pa, pb)
	}
}

// TestRedeliveryRevisesAbove: a batch published and then lost before its
// commit comes back with another event; the states it publishes then carry
// a higher revision than the lost attempt's, so a consumer keeping the
// latest revision per document keeps the newer state.
func TestRedeliveryRevisesAbove(t *testing.T) {
	h := newHarness(t)
	crashing := New(&crashStore{memHandle: h.mem.handle(), keep: func(*Writes) *Writes { return &Writes{} }}, h.codec, h.pub, Options{Topics: h.res.o.Topics, KeepFrom: 1})
	if err := crashing.Handle(context.Background(), h.msgs(tev{id: "e1", at: 1, docs: []string{"R0", "M1"}})); err == nil {
		t.Fatal("the crashing store committed")
	}
	first := h.changes()
	h.mem.locks = map[string]*memOwner{} // a killed process's locks expire
	h.feed(tev{id: "e1", at: 1, docs: []string{"R0", "M1"}}, tev{id: "e2", at: 2, docs: []string{"M1", "P1"}})
	all := h.changes()
	var lost, again int64
	for _, c := range first {
		lost = max(lost, c.Revision)
	}
	for _, c := range all[len(first):] {
		again = max(again, c.Revision)
	}
	if len(first) == 0 || again <= lost {
		t.Fatalf("the lost attempt published revision %d, the redelivery %d: want it higher", lost, again)
	}
}
