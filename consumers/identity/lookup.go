package identity

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/idlink/idlink/documents"
)

// PersonView is a person as `idlink lookup` shows it.
type PersonView struct {
	PersonID  string            `json:"person_id"`
	Documents []DocumentSummary `json:"documents"`
	Events    int               `json:"events"` // distinct events naming its documents
}

// LookupDocument returns the person holding a document token, or nil.
func LookupDocument(ctx context.Context, s Store, token string) (*PersonView, error) {
	return lookup(ctx, s, "doc", token)
}

// LookupPerson returns a person by id, following merged-away ids to the
// survivor; nil if unknown.
func LookupPerson(ctx context.Context, s Store, id string) (*PersonView, error) {
	return lookup(ctx, s, "person", id)
}

func lookup(ctx context.Context, s Store, kind, id string) (*PersonView, error) {
	cid, blob, err := s.ClusterOf(ctx, kind, id)
	if err != nil || blob == nil {
		return nil, err
	}
	c, err := UnmarshalCluster(cid, blob)
	if err != nil {
		return nil, fmt.Errorf("reading cluster of %s: %w", kind, err)
	}
	out := Replay(c)
	var pid string
	if kind == "doc" {
		i := c.DocIndex(id)
		if i < 0 {
			return nil, nil
		}
		pid = out.PersonOf[i]
	} else {
		pid = out.Resolve(id)
	}
	p := out.Persons[pid]
	if p == nil {
		return nil, nil
	}
	v := &PersonView{PersonID: p.ID, Events: out.EventCount(p.ID), Documents: make([]DocumentSummary, len(p.Docs))}
	for i, d := range p.Docs {
		v.Documents[i] = DocumentSummary{Type: c.Docs[d].Type, Token: c.Docs[d].Token}
		if c.Docs[d].Type == string(documents.ResidencePermit) {
			v.Documents[i].Status = out.DocStatus(d).String()
		}
	}
	sort.Slice(v.Documents, func(a, b int) bool {
		if v.Documents[a].Type != v.Documents[b].Type {
			return v.Documents[a].Type < v.Documents[b].Type
		}
		return v.Documents[a].Token < v.Documents[b].Token
	})
	return v, nil
}

// ListConflicts returns every held conflict, oldest first: the conflicts
// hash names each held event's cluster, whose replay gives its record.
func ListConflicts(ctx context.Context, s Store) ([]ConflictRecord, error) {
	m, err := s.Conflicts(ctx)
	if err != nil {
		return nil, err
	}
	held := make(map[string]map[string]bool) // cluster id -> held event ids
	for e, cid := range m {
		if held[cid] == nil {
			held[cid] = map[string]bool{}
		}
		held[cid][e] = true
	}
	type rec struct {
		at  int64
		rec ConflictRecord
	}
	out := make([]rec, 0, len(m))
	for cid, evs := range held {
		_, blob, err := s.ClusterOf(ctx, "cluster", cid)
		if err != nil {
			return nil, err
		}
		if blob == nil {
			continue // absorbed by a commit a crash cut short: the repair rewrites the pointer
		}
		c, err := UnmarshalCluster(cid, blob)
		if err != nil {
			return nil, fmt.Errorf("reading the cluster of %d conflicts: %w", len(evs), err)
		}
		o := Replay(c)
		for i := range o.Conflicts {
			if cf := &o.Conflicts[i]; evs[cf.EventID] {
				out = append(out, rec{cf.At, conflictRecord(c, cf)})
			}
		}
	}
	slices.SortFunc(out, func(a, b rec) int {
		if a.at != b.at {
			return cmp.Compare(a.at, b.at)
		}
		return strings.Compare(a.rec.EventID, b.rec.EventID)
	})
	list := make([]ConflictRecord, len(out))
	for i := range out {
		list[i] = out[i].rec
	}
	return list, nil
}
