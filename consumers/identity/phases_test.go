package identity

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func items(evs ...tev) []item {
	out := make([]item, len(evs))
	for i, e := range evs {
		out[i] = item{ev: e.event()}
	}
	return out
}

func unitIDs(units []*unit) string {
	var s []string
	for _, u := range units {
		var ids []string
		for _, it := range u.items {
			ids = append(ids, it.ev.EventID)
		}
		s = append(s, fmt.Sprint(ids))
	}
	return fmt.Sprint(s)
}

// TestGroupUnits checks which items of a batch the plan phase resolves
// together.
func TestGroupUnits(t *testing.T) {
	tests := []struct {
		name          string
		evs           []tev
		docCID, evCID map[string]string
		want          string
	}{
		{"unrelated new documents", []tev{{id: "a", docs: []string{"P1"}}, {id: "b", docs: []string{"P2"}}}, nil, nil, "[[a] [b]]"},
		{"a shared new token", []tev{{id: "a", docs: []string{"P1"}}, {id: "b", docs: []string{"P2"}}, {id: "c", docs: []string{"P1", "P3"}}}, nil, nil, "[[a c] [b]]"},
		{"a shared cluster", []tev{{id: "a", docs: []string{"P1"}}, {id: "b", docs: []string{"P2"}}},
			map[string]string{tok("P1"): "c1", tok("P2"): "c1"}, nil, "[[a b]]"},
		{"a retraction and its target in the batch", []tev{{id: "a", docs: []string{"P1"}}, {id: "r", docs: []string{"P2"}, retracts: "a"}}, nil, nil, "[[a r]]"},
		{"a retraction and its target's cluster", []tev{{id: "b", docs: []string{"P1"}}, {id: "r", docs: []string{"P2"}, retracts: "a"}},
			map[string]string{tok("P1"): "c1"}, map[string]string{"a": "c1"}, "[[b r]]"},
		{"two retractions parking one id", []tev{{id: "r1", retracts: "x"}, {id: "r2", retracts: "x"}, {id: "r3", retracts: "y"}}, nil, nil, "[[r1 r2] [r3]]"},
		{"an event already stored", []tev{{id: "a", docs: []string{"P9"}}, {id: "b", docs: []string{"P8"}}},
			nil, map[string]string{"a": "c1", "b": "c1"}, "[[a b]]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			its := items(tt.evs...)
			idx := map[string]int{}
			for i, it := range its {
				idx[it.ev.EventID] = i
			}
			if got := unitIDs(groupUnits(its, idx, tt.docCID, tt.evCID)); got != tt.want {
				t.Fatalf("units %s, want %s", got, tt.want)
			}
		})
	}
}

// TestPlanLocks checks that a unit locks its clusters, the fresh ids of
// its new documents and the parking cluster of every event id it names,
// and that the batch takes each lock once.
func TestPlanLocks(t *testing.T) {
	its := items(tev{id: "a", docs: []string{"P1", "P2"}}, tev{id: "r", retracts: "x"})
	p := &batchPlan{items: its, idx: map[string]int{"a": 0, "r": 1}, docCID: map[string]string{tok("P1"): "0123abcd"}, evCID: map[string]string{}}
	p.units = groupUnits(its, p.idx, p.docCID, p.evCID)
	p.planLocks()
	u := p.units[0]
	want := sortedSet([]string{LockName("0123abcd"), LockName(newClusterID(tok("P2"))), parkedLockName("a")})
	if !slices.Equal(u.locks, want) || !slices.Equal(u.clusters, []string{"0123abcd"}) || !slices.Equal(u.fresh, []string{newClusterID(tok("P2"))}) {
		t.Fatalf("unit a: locks %v clusters %v fresh %v; want locks %v", u.locks, u.clusters, u.fresh, want)
	}
	r := p.units[1]
	if !slices.Equal(r.fresh, []string{parkedClusterID("x")}) || !slices.Contains(r.locks, parkedLockName("x")) || !slices.Equal(r.events, []string{"r", "x"}) {
		t.Fatalf("retraction unit: locks %v fresh %v events %v", r.locks, r.fresh, r.events)
	}
	seen := map[string]bool{}
	for _, l := range p.locks {
		if seen[l] {
			t.Fatalf("lock %s taken twice: %v", l, p.locks)
		}
		seen[l] = true
	}
}

// TestAdmit checks the lock phase's verdict: a unit goes ahead only with
// every lock and with pointers unmoved since plan.
func TestAdmit(t *testing.T) {
	its := items(tev{id: "a", docs: []string{"P1"}}, tev{id: "b", docs: []string{"P2"}}, tev{id: "c", docs: []string{"P3"}})
	p := &batchPlan{items: its, idx: map[string]int{"a": 0, "b": 1, "c": 2}, docCID: map[string]string{}, evCID: map[string]string{}}
	p.units = groupUnits(its, p.idx, p.docCID, p.evCID)
	p.planLocks()
	got := map[string]bool{}
	for _, l := range p.locks {
		got[l] = true
	}
	got[p.units[1].locks[0]] = false                                                          // b's lock is another process's
	docNow := map[string]string{tok("P3"): "moved"}                                           // c's document found a cluster since plan
	if len(p.units[0].locks) != 2 || slices.Contains(p.units[0].locks, p.units[1].locks[0]) { // (test data: a and b share no lock)
		t.Fatal("test data: units a and b share a lock; pick other documents")
	}
	ready, deferred, held := p.admit(got, docNow, map[string]string{})
	if len(ready) != 1 || ready[0] != p.units[0] || len(deferred) != 2 {
		t.Fatalf("ready %s, deferred %d items; want [a] and 2", unitIDs(ready), len(deferred))
	}
	unlock, release := splitLocks(p.locks, got, held)
	for _, l := range p.units[0].locks {
		if !slices.Contains(unlock, l) {
			t.Fatalf("a's lock %s is not kept until the commit: %v", l, unlock)
		}
	}
	for _, l := range release {
		if held[l] || !got[l] {
			t.Fatalf("releasing %s now, which is held or not ours", l)
		}
	}
	if len(unlock)+len(release) != len(taken(p.locks, got)) {
		t.Fatalf("locks taken %v split into %v and %v", taken(p.locks, got), unlock, release)
	}
}

// TestGrowAndStale checks grow (in place, or absorbing into the smallest
// cluster id) and the detection of pointers a crash left unwritten.
func TestGrowAndStale(t *testing.T) {
	old := NewCluster("c2")
	old.AddDoc(Doc{Token: tok("P1"), Type: "passport"})
	old.AddEvent(Event{ID: "a", At: 1}, []string{tok("P1")})
	other := NewCluster("c1")
	other.AddDoc(Doc{Token: tok("P2"), Type: "passport"})
	other.AddEvent(Event{ID: "b", At: 1}, []string{tok("P2")})

	u := &unit{items: items(tev{id: "c", at: 2, docs: []string{"P1"}}), clusters: []string{"c2"}, tokens: []string{tok("P1")}, events: []string{"c"}}
	g := grow(u, []*Cluster{old})
	if g.base != old || g.renamed || g.added != 1 || g.nOld != 1 {
		t.Fatalf("one cluster grows in place: %+v", g)
	}
	if g.stale(u, map[string]string{tok("P1"): "c2"}, map[string]string{}) {
		t.Fatal("stale with every pointer in place")
	}
	if !g.stale(u, map[string]string{}, map[string]string{}) {
		t.Fatal("an old document without its pointer is not stale")
	}

	old2 := NewCluster("c2")
	old2.AddDoc(Doc{Token: tok("P1"), Type: "passport"})
	old2.AddEvent(Event{ID: "a", At: 1}, []string{tok("P1")})
	u2 := &unit{items: items(tev{id: "d", at: 2, docs: []string{"P1", "P2"}}), clusters: []string{"c1", "c2"}}
	g2 := grow(u2, []*Cluster{old2, other})
	if g2.base.ID != "c1" || !g2.renamed || len(g2.base.Events) != 3 || len(g2.base.Docs) != 2 {
		t.Fatalf("two clusters absorb into c1: %+v, %d events", g2.base.ID, len(g2.base.Events))
	}
	var w = newWrites()
	if err := g2.recordCluster(w, false, 0); err != nil {
		t.Fatal(err)
	}
	if w.Clusters["c1"] == nil || !slices.Equal(w.DelClusters, []string{"c2"}) || w.Docs[tok("P1")] != "c1" || w.Events["a"] != "c1" {
		t.Fatalf("a renamed cluster rewrites every pointer: %+v", w)
	}
}

// TestGroupFewIsGroupByBucket checks that the sort used for small inputs
// groups exactly as the counting sort does.
func TestGroupFewIsGroupByBucket(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	for n := 0; n < 3*smallGroup; n++ {
		bs := make([]int, n)
		for i := range bs {
			bs[i] = r.IntN(min(buckets, 1+r.IntN(40)))
		}
		few := groupFew(n, func(i int) int { return bs[i] })
		var count byBucket
		if n > 0 {
			count = groupByBucket(n, func(i int) int { return bs[i] })
		}
		if n >= smallGroup && (fmt.Sprint(few) != fmt.Sprint(count)) {
			t.Fatalf("n=%d: sort %v, count %v", n, few, count)
		}
		for _, run := range few.runs {
			for _, i := range few.order[run.lo:run.hi] {
				if bs[i] != run.b {
					t.Fatalf("n=%d: item %d of bucket %d in run of %d", n, i, bs[i], run.b)
				}
			}
		}
	}
}
