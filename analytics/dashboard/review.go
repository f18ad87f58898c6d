package dashboard

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/idlink/idlink/consumers/identity"
)

// The review page's endpoints read the resolver's store (Options.Identity):
//
//	GET /api/conflicts[?limit=N]  ConflictQueue: the held conflicts, newest
//	                              first, the first N of them (1-1000,
//	                              default 200)
//	GET /api/why?person_id=ID     the person's identity.Explanation, encoded
//	                              as `idlink why --json --person-id ID`
//	                              prints it; a merged-away id gives the
//	                              survivor's
//
// Both name documents by type and token only. A missing or bad parameter
// is a 400, an unknown person a 404, another method than GET or HEAD a 405,
// and a store that fails (or none) a 503; errors are JSON ({"error": ...}).

// Limits of /api/conflicts.
const (
	defaultConflicts = 200
	maxConflicts     = 1000
)

// reviewTimeout bounds the store's reads for one review request.
const reviewTimeout = 30 * time.Second

// maxPersonIDBytes bounds person_id (ids are about 22 bytes).
const maxPersonIDBytes = 256

// ConflictQueue is what /api/conflicts answers.
type ConflictQueue struct {
	Total     int              `json:"total"`     // conflicts held now
	Conflicts []ReviewConflict `json:"conflicts"` // newest first, at most the limit
}

// ReviewConflict is one entry of the queue: the conflict record `idlink
// conflicts --json` prints, and the held event's type and agency as the
// explanation of one of its persons lists the event ("" when no person's
// explanation lists it, or for events stored before types were).
type ReviewConflict struct {
	identity.ConflictRecord
	Type   string `json:"type"`
	Agency string `json:"agency"`
}

func (s *server) conflicts(w http.ResponseWriter, r *http.Request) {
	limit := defaultConflicts
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxConflicts {
			s.writeJSON(w, http.StatusBadRequest, errorBody{Error: "limit must be a whole number from 1 to " + strconv.Itoa(maxConflicts) + ", not " + strconv.Quote(v)})
			return
		}
		limit = n
	}
	if s.identity == nil {
		s.noIdentity(w)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), reviewTimeout)
	defer cancel()
	q, err := conflictQueue(ctx, s.identity, limit)
	if err != nil {
		s.identityFailed(w, r, "listing the conflicts", err)
		return
	}
	s.writeJSON(w, http.StatusOK, q)
}

// conflictQueue lists the held conflicts newest first, by (occurred_at,
// event_id), the first limit of them with the held event's type and agency.
func conflictQueue(ctx context.Context, st identity.Store, limit int) (*ConflictQueue, error) {
	list, err := identity.ListConflicts(ctx, st)
	if err != nil {
		return nil, err
	}
	at := make(map[string]time.Time, len(list))
	for _, c := range list {
		t, _ := time.Parse(time.RFC3339Nano, c.OccurredAt) // what the resolver wrote; a bad one sorts as the zero time
		at[c.EventID] = t
	}
	slices.SortStableFunc(list, func(a, b identity.ConflictRecord) int {
		return cmp.Or(at[b.EventID].Compare(at[a.EventID]), cmp.Compare(b.EventID, a.EventID))
	})
	q := &ConflictQueue{Total: len(list), Conflicts: make([]ReviewConflict, 0, min(limit, len(list)))}
	explained := map[string]*identity.Explanation{} // by person id asked for, within this request
	for _, c := range list[:min(limit, len(list))] {
		rc := ReviewConflict{ConflictRecord: c}
		step, err := heldStep(ctx, st, explained, c)
		if err != nil {
			return nil, err
		}
		if step != nil {
			rc.Type, rc.Agency = step.Type, step.Agency
		}
		q.Conflicts = append(q.Conflicts, rc)
	}
	return q, nil
}

// heldStep finds the held event of c in the explanation of its person (the
// one holding its first document), else of the other persons holding its
// documents; nil if none lists it.
func heldStep(ctx context.Context, st identity.Store, explained map[string]*identity.Explanation, c identity.ConflictRecord) (*identity.Step, error) {
	for _, id := range append([]string{c.PersonID}, c.PersonIDs...) {
		x, seen := explained[id]
		if !seen {
			var err error
			if x, err = identity.ExplainPerson(ctx, st, id); err != nil {
				return nil, err
			}
			explained[id] = x
		}
		if x == nil {
			continue
		}
		for i := range x.Events {
			if x.Events[i].EventID == c.EventID {
				return &x.Events[i], nil
			}
		}
	}
	return nil, nil
}

func (s *server) why(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("person_id")
	switch {
	case id == "":
		s.writeJSON(w, http.StatusBadRequest, errorBody{Error: "person_id is required: /api/why?person_id=ID (the conflicts queue and `idlink lookup` give ids)"})
		return
	case len(id) > maxPersonIDBytes:
		s.writeJSON(w, http.StatusBadRequest, errorBody{Error: "person_id is longer than " + strconv.Itoa(maxPersonIDBytes) + " bytes: no person has such an id"})
		return
	case s.identity == nil:
		s.noIdentity(w)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), reviewTimeout)
	defer cancel()
	x, err := identity.ExplainPerson(ctx, s.identity, id)
	switch {
	case err != nil:
		s.identityFailed(w, r, "explaining a person", err)
	case x == nil:
		s.writeJSON(w, http.StatusNotFound, errorBody{Error: "unknown person " + strconv.Quote(id) + ": check the id (has `idlink run` processed its events?)"})
	default:
		s.writeJSON(w, http.StatusOK, x)
	}
}

func (s *server) noIdentity(w http.ResponseWriter) {
	s.writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "this server was started without the resolver's store: the review needs `idlink serve`, which reads REDIS_URL"})
}

// identityFailed answers a failed read of the resolver's store.
func (s *server) identityFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	if r.Context().Err() != nil {
		s.log.Debug("review request abandoned by the client", "what", what, "err", err)
		return
	}
	s.log.Error("review request failed", "what", what, "err", err)
	w.Header().Set("Retry-After", "10")
	s.writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: what + " failed: " + err.Error() + " (is Redis up? `make up` starts it)"})
}
