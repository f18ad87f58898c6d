package identity

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"
)

// What an event did, as an explanation tells it.
const (
	DidCreated   = "created"    // made a person of documents nobody held
	DidLinked    = "linked"     // added its documents (or a birth date) to the one person holding the others
	DidMerged    = "merged"     // merged the persons holding its documents into the one first created
	DidConfirmed = "confirmed"  // named documents of one person and changed nothing
	DidHeld      = "held"       // held back as a conflict: linked nothing
	DidWithdrawn = "withdrawn"  // withdrawn by a retraction: links nothing
	DidRetract   = "retraction" // a link.retracted
)

// Why the two documents of a pair are not one person.
const (
	ApartNeverLinked = "never_linked" // no event links them, even held back or withdrawn
	ApartHeld        = "held"         // only events held back would link them
	ApartWithdrawn   = "withdrawn"    // only events withdrawn by retractions (and maybe held ones) would
)

// Step is one event of an explanation and what it did.
type Step struct {
	EventID    string            `json:"event_id"`
	Type       string            `json:"type"`   // "" for events stored before types were
	Agency     string            `json:"agency"` // likewise
	OccurredAt string            `json:"occurred_at"`
	Did        string            `json:"did"` // one of the Did* values
	Documents  []DocumentSummary `json:"documents"`
	// Merged are the persons a merge folded in, with the ids they had and
	// the documents they held at that point of the replay.
	Merged []MergedPerson `json:"merged,omitempty"`
	// Reason and PersonIDs: a held event's conflict and the persons holding
	// its documents now (both sides).
	Reason    string   `json:"reason,omitempty"`
	PersonIDs []string `json:"person_ids,omitempty"`
	// WithdrawnBy are the retractions naming a withdrawn event.
	WithdrawnBy []string `json:"withdrawn_by,omitempty"`
	// Retracts is the event a retraction names.
	Retracts string `json:"retracts,omitempty"`
}

// MergedPerson is a person folded into another by a merge.
type MergedPerson struct {
	PersonID  string            `json:"person_id"`
	Documents []DocumentSummary `json:"documents"`
}

// Explanation is why a person is who it is: its documents and every event
// naming one of them, in (occurred_at, event_id) order.
type Explanation struct {
	PersonID  string            `json:"person_id"`
	Documents []DocumentSummary `json:"documents"`
	Events    []Step            `json:"events"`
}

// PairExplanation says whether two documents are one person and why.
type PairExplanation struct {
	SamePerson bool      `json:"same_person"`
	PersonIDs  [2]string `json:"person_ids"` // the person holding each document
	// Chain (same person): the shortest chain of applied events from the
	// first document to the second, each naming a document of the next.
	Chain []Step `json:"chain,omitempty"`
	// Apart (not the same person) is one of the Apart* values, and Blocking
	// the held back or withdrawn events on the shortest chain that would
	// link them.
	Apart    string `json:"apart,omitempty"`
	Blocking []Step `json:"blocking,omitempty"`
}

type step struct {
	did, reason string
	merged      []mergedPerson
}

type mergedPerson struct {
	id   string
	docs []int
}

func (r *replayer) did(i int, did, reason string) {
	if r.steps != nil {
		r.steps[i].did, r.steps[i].reason = did, reason
	}
}

// explained is a cluster's replay (the state) and what each event did in
// it. Both come from the replay that decides the state: the state is the
// replay with every withdrawn event linking nothing from the start, so
// that replay, run again with steps kept, tells what each event did.
type explained struct {
	c       *Cluster
	state   *replayer
	steps   []step
	by      map[string][]string // withdrawn event id -> retractions naming it, in order
	evsOf   [][]int32           // per document, the events naming it in replay order
	applied func(int32) bool
}

func explain(c *Cluster) *explained {
	st := play(c, -1, nil)
	f := newReplayer(c, st.order, true)
	f.steps = make([]step, len(c.Events))
	for i, fl := range st.flags {
		f.flags[i] = fl & evRetracted
	}
	for _, i := range f.order {
		f.apply(int(i))
	}
	x := &explained{c: c, state: st, steps: f.steps, by: map[string][]string{}, evsOf: make([][]int32, len(c.Docs))}
	for _, i := range st.order {
		e := &c.Events[i]
		if e.Retract {
			x.by[e.Retracts] = append(x.by[e.Retracts], e.ID)
		}
		for _, d := range e.Docs {
			if len(x.evsOf[d]) == 0 || x.evsOf[d][len(x.evsOf[d])-1] != i {
				x.evsOf[d] = append(x.evsOf[d], i)
			}
		}
	}
	x.applied = func(i int32) bool {
		switch x.steps[i].did {
		case DidCreated, DidLinked, DidMerged, DidConfirmed:
			return true
		}
		return false
	}
	return x
}

func (x *explained) docs(ds []int) []DocumentSummary {
	out := make([]DocumentSummary, len(ds))
	for j, d := range ds {
		out[j] = DocumentSummary{Type: x.c.Docs[d].Type, Token: x.c.Docs[d].Token}
	}
	return out
}

func (x *explained) step(i int32) Step {
	e, s := &x.c.Events[i], &x.steps[i]
	st := Step{EventID: e.ID, Type: e.Type, Agency: e.Agency, OccurredAt: time.UnixMicro(e.At).UTC().Format(time.RFC3339Nano),
		Did: s.did, Documents: x.docs(e.Docs), Reason: s.reason, Retracts: e.Retracts}
	for _, m := range s.merged {
		st.Merged = append(st.Merged, MergedPerson{PersonID: m.id, Documents: x.docs(sortedDocs(m.docs))})
	}
	switch s.did {
	case DidHeld:
		st.PersonIDs = x.state.ownersOf(e.Docs)
	case DidWithdrawn:
		st.WithdrawnBy = x.by[e.ID]
	}
	return st
}

func sortedDocs(ds []int) []int {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	return ds
}

// person explains the live person id.
func (x *explained) person(id string) *Explanation {
	p := x.state.out.Persons[id]
	if p == nil {
		return nil
	}
	out := &Explanation{PersonID: id, Documents: x.docs(p.Docs), Events: []Step{}}
	sortSummaries(out.Documents)
	for _, i := range x.state.order {
		for _, d := range x.c.Events[i].Docs {
			if x.state.out.PersonOf[d] == id {
				out.Events = append(out.Events, x.step(i))
				break
			}
		}
	}
	return out
}

// chain returns the fewest events, each allowed, linking document from to
// document to, in order from from; nil if none do.
func (x *explained) chain(from, to int, allow func(int32) bool) []int32 {
	type hop struct {
		ev   int32
		prev int
	}
	prev := make(map[int]hop, 8)
	prev[from] = hop{-1, -1}
	used := map[int32]bool{}
	queue := []int{from}
	for len(queue) > 0 && from != to {
		d := queue[0]
		queue = queue[1:]
		for _, ev := range x.evsOf[d] {
			if used[ev] || !allow(ev) {
				continue
			}
			used[ev] = true
			for _, d2 := range x.c.Events[ev].Docs {
				if _, seen := prev[d2]; seen {
					continue
				}
				prev[d2] = hop{ev, d}
				if d2 == to {
					var out []int32
					for at := to; at != from; at = prev[at].prev {
						out = append(out, prev[at].ev)
					}
					slices.Reverse(out)
					return out
				}
				queue = append(queue, d2)
			}
		}
	}
	return nil
}

// pair explains documents a and b of the cluster.
func (x *explained) pair(a, b int) *PairExplanation {
	out := &PairExplanation{PersonIDs: [2]string{x.state.out.PersonOf[a], x.state.out.PersonOf[b]}}
	out.SamePerson = out.PersonIDs[0] == out.PersonIDs[1]
	steps := func(evs []int32, keep func(int32) bool) []Step {
		var s []Step
		for _, ev := range evs {
			if keep(ev) {
				s = append(s, x.step(ev))
			}
		}
		return s
	}
	all := func(int32) bool { return true }
	if out.SamePerson {
		out.Chain = steps(x.chain(a, b, x.applied), all)
		if out.Chain == nil {
			out.Chain = []Step{}
		}
		return out
	}
	blocked := func(ev int32) bool { return !x.applied(ev) }
	heldToo := func(ev int32) bool { return x.applied(ev) || x.steps[ev].did == DidHeld }
	withdrawnToo := func(ev int32) bool { return heldToo(ev) || x.steps[ev].did == DidWithdrawn }
	switch {
	case x.chain(a, b, heldToo) != nil:
		out.Apart, out.Blocking = ApartHeld, steps(x.chain(a, b, heldToo), blocked)
	case x.chain(a, b, withdrawnToo) != nil:
		out.Apart, out.Blocking = ApartWithdrawn, steps(x.chain(a, b, withdrawnToo), blocked)
	default:
		out.Apart = ApartNeverLinked
	}
	return out
}

func sortSummaries(ds []DocumentSummary) {
	sort.Slice(ds, func(a, b int) bool {
		if ds[a].Type != ds[b].Type {
			return ds[a].Type < ds[b].Type
		}
		return ds[a].Token < ds[b].Token
	})
}

// loadCluster reads and decodes the cluster holding a token or person id
// (kind "doc" or "person"); nil if unknown.
func loadCluster(ctx context.Context, s Store, kind, id string) (*Cluster, error) {
	for try := 0; ; try++ {
		cid, blob, err := s.ClusterOf(ctx, kind, id)
		if err != nil || cid == "" {
			return nil, err
		}
		if blob != nil {
			c, err := UnmarshalCluster(cid, blob)
			if err != nil {
				return nil, fmt.Errorf("reading cluster of %s: %w", kind, err)
			}
			return c, nil
		}
		if try == staleReads { // a pointer to a cluster a concurrent batch renamed
			return nil, fmt.Errorf("reading cluster of %s: %w after %d reads", kind, errStale, try+1)
		}
	}
}

// ExplainDocument explains the person holding a document token; nil if no
// person holds it.
func ExplainDocument(ctx context.Context, s Store, token string) (*Explanation, error) {
	c, err := loadCluster(ctx, s, "doc", token)
	if c == nil || err != nil {
		return nil, err
	}
	d := c.DocIndex(token)
	if d < 0 {
		return nil, nil
	}
	x := explain(c)
	return x.person(x.state.out.PersonOf[d]), nil
}

// ExplainPerson explains a person by id, following merged-away ids to the
// survivor; nil if unknown.
func ExplainPerson(ctx context.Context, s Store, id string) (*Explanation, error) {
	c, err := loadCluster(ctx, s, "person", id)
	if c == nil || err != nil {
		return nil, err
	}
	x := explain(c)
	return x.person(x.state.out.Resolve(id)), nil
}

// ExplainPair says whether two document tokens are one person now, with
// the chain of applied events linking them or why they are apart; nil if
// either is unknown.
func ExplainPair(ctx context.Context, s Store, a, b string) (*PairExplanation, error) {
	ca, err := loadCluster(ctx, s, "doc", a)
	if ca == nil || err != nil {
		return nil, err
	}
	cb := ca
	if ca.DocIndex(b) < 0 {
		if cb, err = loadCluster(ctx, s, "doc", b); cb == nil || err != nil {
			return nil, err
		}
	}
	da, db := ca.DocIndex(a), cb.DocIndex(b)
	if da < 0 || db < 0 {
		return nil, nil
	}
	xa := explain(ca)
	if cb == ca {
		return xa.pair(da, db), nil
	}
	// Documents of two clusters were never named together by any event.
	xb := explain(cb)
	return &PairExplanation{PersonIDs: [2]string{xa.state.out.PersonOf[da], xb.state.out.PersonOf[db]}, Apart: ApartNeverLinked}, nil
}
