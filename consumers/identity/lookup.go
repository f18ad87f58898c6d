package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

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

// ListConflicts returns every held conflict, oldest first.
func ListConflicts(ctx context.Context, s Store) ([]ConflictRecord, error) {
	m, err := s.Conflicts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ConflictRecord, 0, len(m))
	for id, b := range m {
		var rec ConflictRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("decoding conflict %s: %w", id, err)
		}
		out = append(out, rec)
	}
	at := make(map[string]time.Time, len(out)) // RFC 3339 strings do not sort as times: fractions vary in length
	for _, rec := range out {
		t, err := time.Parse(time.RFC3339Nano, rec.OccurredAt)
		if err != nil {
			return nil, fmt.Errorf("conflict %s: occurred_at %q: %w", rec.EventID, rec.OccurredAt, err)
		}
		at[rec.EventID] = t
	}
	sort.Slice(out, func(a, b int) bool {
		if ta, tb := at[out[a].EventID], at[out[b].EventID]; !ta.Equal(tb) {
			return ta.Before(tb)
		}
		return out[a].EventID < out[b].EventID
	})
	return out, nil
}
