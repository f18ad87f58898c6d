package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// DocumentState is what the verification API may learn about one document
// now: never another document's token.
type DocumentState struct {
	PersonID   string   // the person holding it (the survivor after merges)
	Types      []string // the document types that person holds, sorted, distinct
	BirthDates []string // the birth dates the person's evidence asserts, sorted (normally 0 or 1)
	Status     string   // "active", or "revoked" while a residence_permit.revoked applies to it
}

// staleReads is how often DocumentStates reads a document again when its
// cluster pointer named a cluster that a concurrent resolver batch had
// just renamed (the pointer is rewritten in the same commit).
const staleReads = 3

// DocumentStates returns one entry per token, in order: nil for a token no
// person holds. Each entry is the replay of the document's whole cluster,
// as LookupDocument's is.
func DocumentStates(ctx context.Context, s Store, tokens []string) ([]*DocumentState, error) {
	out := make([]*DocumentState, len(tokens))
	outcomes := map[string]*replayed{} // cluster id -> replay
	for i, tok := range tokens {
		if j := slices.Index(tokens[:i], tok); j >= 0 {
			out[i] = out[j]
			continue
		}
		st, err := documentState(ctx, s, tok, outcomes)
		if err != nil {
			return nil, err
		}
		out[i] = st
	}
	return out, nil
}

type replayed struct {
	c   *Cluster
	out *Outcome
}

var errStale = errors.New("cluster pointer is stale")

func documentState(ctx context.Context, s Store, tok string, seen map[string]*replayed) (*DocumentState, error) {
	for try := 0; ; try++ {
		st, err := readState(ctx, s, tok, seen)
		if !errors.Is(err, errStale) {
			return st, err
		}
		if try == staleReads {
			return nil, fmt.Errorf("reading document state: %w after %d reads", err, try+1)
		}
	}
}

func readState(ctx context.Context, s Store, tok string, seen map[string]*replayed) (*DocumentState, error) {
	cid, blob, err := s.ClusterOf(ctx, "doc", tok)
	if err != nil || cid == "" {
		return nil, err
	}
	rp := seen[cid]
	if rp == nil {
		if blob == nil {
			return nil, errStale
		}
		c, err := UnmarshalCluster(cid, blob)
		if err != nil {
			return nil, fmt.Errorf("reading cluster of a document: %w", err)
		}
		rp = &replayed{c: c, out: Replay(c)}
	}
	d := rp.c.DocIndex(tok)
	if d < 0 {
		return nil, errStale
	}
	seen[cid] = rp
	p := rp.out.Persons[rp.out.PersonOf[d]]
	if p == nil {
		return nil, nil
	}
	st := &DocumentState{PersonID: p.ID, Status: rp.out.DocStatus(d).String()}
	for _, di := range p.Docs {
		if t := rp.c.Docs[di].Type; !slices.Contains(st.Types, t) {
			st.Types = append(st.Types, t)
		}
	}
	slices.Sort(st.Types)
	st.BirthDates = slices.Clone(p.birthDate)
	slices.Sort(st.BirthDates)
	return st, nil
}
