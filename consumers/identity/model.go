package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
)

// Doc is one document of a cluster: its token, type and, for residence
// permits and mainland IDs, the birth date embedded in its number.
type Doc struct {
	Token     string
	Type      string
	BirthDate string
}

// Event is the part of an agency event that identity resolution needs.
type Event struct {
	ID        string
	At        int64 // occurred_at, microseconds since the Unix epoch
	Docs      []int // indices into Cluster.Docs
	BirthDate string
	Retracts  string // for link.retracted: the event_id withdrawn
	Retract   bool   // a link.retracted event
}

func (e *Event) before(o *Event) bool {
	if e.At != o.At {
		return e.At < o.At
	}
	return e.ID < o.ID
}

// Cluster is a unit of evidence: documents connected by any event, linking or
// not, accepted or not, together with every event that named them. Clusters
// only grow, so a cluster can always be replayed on its own.
type Cluster struct {
	ID     string
	Rev    int64
	Docs   []Doc
	Events []Event

	docIdx map[string]int
	evIdx  map[string]int
	// datesFilled is set when AddDoc gave a known document the birth date
	// it lacked (so replaying the old events alone could now differ).
	datesFilled bool
}

// NewCluster returns an empty cluster.
func NewCluster(id string) *Cluster {
	return &Cluster{ID: id, docIdx: map[string]int{}, evIdx: map[string]int{}}
}

func (c *Cluster) index() {
	c.docIdx = make(map[string]int, len(c.Docs))
	for i, d := range c.Docs {
		c.docIdx[d.Token] = i
	}
	c.evIdx = make(map[string]int, len(c.Events))
	for i, e := range c.Events {
		c.evIdx[e.ID] = i
	}
}

// DocIndex returns the index of a token, or -1.
func (c *Cluster) DocIndex(tok string) int {
	if i, ok := c.docIdx[tok]; ok {
		return i
	}
	return -1
}

// HasEvent reports whether the cluster holds event id.
func (c *Cluster) HasEvent(id string) bool {
	_, ok := c.evIdx[id]
	return ok
}

// AddDoc adds a document if absent and returns its index.
func (c *Cluster) AddDoc(d Doc) int {
	if i, ok := c.docIdx[d.Token]; ok {
		if c.Docs[i].BirthDate == "" && d.BirthDate != "" {
			c.Docs[i].BirthDate = d.BirthDate
			c.datesFilled = true
		}
		return i
	}
	c.Docs = append(c.Docs, d)
	c.docIdx[d.Token] = len(c.Docs) - 1
	return len(c.Docs) - 1
}

// AddEvent adds an event naming docs (which must be in the cluster already,
// by token); it reports false if the event was already there (a replay).
func (c *Cluster) AddEvent(e Event, tokens []string) bool {
	if _, ok := c.evIdx[e.ID]; ok {
		return false
	}
	e.Docs = make([]int, 0, len(tokens))
	for _, t := range tokens {
		e.Docs = append(e.Docs, c.docIdx[t])
	}
	c.Events = append(c.Events, e)
	c.evIdx[e.ID] = len(c.Events) - 1
	return true
}

// Absorb moves every document and event of o into c.
func (c *Cluster) Absorb(o *Cluster) {
	for _, e := range o.Events {
		toks := make([]string, len(e.Docs))
		for i, d := range e.Docs {
			toks[i] = o.Docs[d].Token
		}
		for _, d := range e.Docs {
			c.AddDoc(o.Docs[d])
		}
		c.AddEvent(e, toks)
	}
	for _, d := range o.Docs {
		c.AddDoc(d)
	}
	if o.Rev > c.Rev {
		c.Rev = o.Rev
	}
}

// Person is one resolved person.
type Person struct {
	ID   string
	Docs []int // indices into Cluster.Docs, ascending

	created   key
	docs      map[int]bool
	evidence  map[int]bool // accepted, unretracted events linking its docs
	birthDate map[string]bool
}

type key struct {
	at int64
	id string
}

func (k key) less(o key) bool {
	if k.at != o.at {
		return k.at < o.at
	}
	return k.id < o.id
}

// Conflict is an event held back because its links would give one person two
// numbers of a single-holder type or two birth dates.
type Conflict struct {
	EventID   string
	At        int64
	Reason    string
	PersonIDs []string // the persons the event would have merged (both sides)
	Docs      []int    // the event's documents
}

// Change is one identity change, with a deterministic ID.
type Change struct {
	ID       string
	Kind     string // created, merged, split, conflict_held
	EventID  string
	At       int64
	PersonID string
	Others   []string // merged: ids merged away; split: the new parts
	Reason   string
}

// Outcome is a cluster's resolution: who holds what, after every event in
// (occurred_at, event_id) order.
type Outcome struct {
	PersonOf  []string           // per document index
	Persons   map[string]*Person // live persons by id
	Alias     map[string]string  // merged-away id -> live id
	Conflicts []Conflict
	Changes   []Change
	Accepted  map[string]bool // events whose links were made (and not retracted)
	// Events counts, per live person, the distinct events naming its documents.
	Events map[string]int
}

// Resolve lives under the surviving id of a person id (following aliases).
func (o *Outcome) Resolve(id string) string {
	for i := 0; i < 64; i++ {
		next, ok := o.Alias[id]
		if !ok {
			return id
		}
		id = next
	}
	return id
}

// PersonID derives a person id from the event that created it and a token, so
// every replay, in any process, names persons alike.
func PersonID(eventID, token string) string {
	h := sha256.Sum256([]byte("person\x00" + eventID + "\x00" + token))
	return "p-" + hex.EncodeToString(h[:10])
}

func changeID(kind, eventID, person string, others []string) string {
	h := sha256.New()
	h.Write([]byte(kind + "\x00" + eventID + "\x00" + person + "\x00" + strings.Join(others, ",")))
	return "c-" + hex.EncodeToString(h.Sum(nil)[:12])
}

// Conflict reasons.
const (
	ReasonBirthDate = "conflicting_birth_date"
	reasonTypePref  = "conflicting_" // + document type, e.g. conflicting_residence_permit
)

// Replay resolves a cluster from scratch. The result depends only on the set
// of events in the cluster, never on the order they were added.
func Replay(c *Cluster) *Outcome { return replay(c, -1, nil) }

// replay is Replay; if snap is set, it is also called with the outcome so far
// once the first n events in replay order are applied.
func replay(c *Cluster, n int, snap func(*Outcome)) *Outcome {
	order := make([]int, len(c.Events))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return c.Events[order[a]].before(&c.Events[order[b]]) })

	r := &replayer{
		c:         c,
		docKey:    make([]key, len(c.Docs)),
		processed: map[string]int{},
		retracted: map[string]bool{},
		out: &Outcome{
			PersonOf: make([]string, len(c.Docs)),
			Persons:  map[string]*Person{},
			Alias:    map[string]string{},
			Accepted: map[string]bool{},
			Events:   map[string]int{},
		},
	}
	for j, i := range order {
		if j == n && snap != nil {
			snap(r.out)
		}
		r.apply(i)
	}
	if n == len(order) && snap != nil {
		snap(r.out)
	}
	// Documents named by no event (never happens for stored clusters) would
	// still need a person; give them one deterministically.
	for i, p := range r.out.PersonOf {
		if p == "" {
			r.newPerson(PersonID("", c.Docs[i].Token), key{}, []int{i})
		}
	}
	for _, p := range r.out.Persons {
		p.Docs = p.Docs[:0]
		for d := range p.docs {
			p.Docs = append(p.Docs, d)
		}
		sort.Ints(p.Docs)
	}
	for i := range c.Events {
		seen := map[string]bool{}
		for _, d := range c.Events[i].Docs {
			pid := r.out.PersonOf[d]
			if !seen[pid] {
				seen[pid] = true
				r.out.Events[pid]++
			}
		}
	}
	return r.out
}

// after reports whether every event from index n on comes after every
// event before n in replay order.
func (c *Cluster) after(n int) bool {
	if n == 0 || n == len(c.Events) {
		return true
	}
	last := &c.Events[0]
	for i := 1; i < n; i++ {
		if last.before(&c.Events[i]) {
			last = &c.Events[i]
		}
	}
	for i := n; i < len(c.Events); i++ {
		if !last.before(&c.Events[i]) {
			return false
		}
	}
	return true
}

// prior is what a batch needs of the state before it: the changes already
// published, each document's person, every person id (live or merged away)
// and the held conflicts.
type prior struct {
	changes   map[string]bool
	person    map[string]string // token -> live person
	ids       map[string]bool
	conflicts map[string]bool
}

// newPrior returns an empty prior; add records outcomes in it.
func newPrior() *prior {
	return &prior{changes: map[string]bool{}, person: map[string]string{}, ids: map[string]bool{}, conflicts: map[string]bool{}}
}

// add records an outcome of cluster c (possibly part way through a replay:
// documents without a person yet are left out).
func (p *prior) add(c *Cluster, o *Outcome) {
	for _, ch := range o.Changes {
		p.changes[ch.ID] = true
	}
	for i, d := range c.Docs {
		if o.PersonOf[i] != "" {
			p.person[d.Token] = o.PersonOf[i]
		}
	}
	for id := range o.Persons {
		p.ids[id] = true
	}
	for a := range o.Alias {
		p.ids[a] = true
	}
	for _, cf := range o.Conflicts {
		p.conflicts[cf.EventID] = true
	}
}

type replayer struct {
	c         *Cluster
	docKey    []key          // when each document was first seen
	processed map[string]int // event id -> index, for events already applied
	retracted map[string]bool
	out       *Outcome
}

func (r *replayer) newPerson(id string, k key, docs []int) *Person {
	p := &Person{ID: id, created: k, docs: map[int]bool{}, evidence: map[int]bool{}, birthDate: map[string]bool{}}
	for _, d := range docs {
		p.docs[d] = true
		r.out.PersonOf[d] = id
		if bd := r.c.Docs[d].BirthDate; bd != "" {
			p.birthDate[bd] = true
		}
	}
	r.out.Persons[id] = p
	return p
}

// singletons gives every new document of an event a person of its own.
func (r *replayer) singletons(e *Event, k key, newDocs []int) {
	for _, d := range newDocs {
		id := PersonID(e.ID, r.c.Docs[d].Token)
		r.newPerson(id, k, []int{d})
		r.out.Changes = append(r.out.Changes, Change{ID: changeID("created", e.ID, id, nil), Kind: "created", EventID: e.ID, At: e.At, PersonID: id})
	}
}

func (r *replayer) apply(i int) {
	e := &r.c.Events[i]
	k := key{e.At, e.ID}
	r.processed[e.ID] = i
	var newDocs []int
	seenPerson := map[string]bool{}
	var persons []*Person
	for _, d := range e.Docs {
		if r.out.PersonOf[d] == "" {
			if r.docKey[d] == (key{}) {
				r.docKey[d] = k
				newDocs = append(newDocs, d)
			}
			continue
		}
		pid := r.out.PersonOf[d]
		if !seenPerson[pid] {
			seenPerson[pid] = true
			persons = append(persons, r.out.Persons[pid])
		}
	}
	sort.Slice(newDocs, func(a, b int) bool { return r.c.Docs[newDocs[a]].Token < r.c.Docs[newDocs[b]].Token })
	if e.Retract {
		r.singletons(e, k, newDocs)
		r.retract(e)
		return
	}
	if len(e.Docs) == 0 { // only a retraction may name no document
		return
	}
	if r.retracted[e.ID] { // withdrawn by an earlier retraction: links nothing
		r.singletons(e, k, newDocs)
		return
	}
	if reason := r.conflict(e, persons, newDocs); reason != "" {
		ids := make([]string, len(persons))
		for j, p := range persons {
			ids[j] = p.ID
		}
		sort.Strings(ids)
		r.singletons(e, k, newDocs)
		r.out.Conflicts = append(r.out.Conflicts, Conflict{EventID: e.ID, At: e.At, Reason: reason, PersonIDs: ids, Docs: append([]int(nil), e.Docs...)})
		pid := ""
		if len(ids) > 0 {
			pid = ids[0]
		}
		r.out.Changes = append(r.out.Changes, Change{ID: changeID("conflict_held", e.ID, pid, ids), Kind: "conflict_held", EventID: e.ID, At: e.At, PersonID: pid, Others: ids, Reason: reason})
		return
	}
	r.out.Accepted[e.ID] = true
	var surv *Person
	if len(persons) == 0 {
		id := PersonID(e.ID, r.c.Docs[newDocs[0]].Token)
		surv = r.newPerson(id, k, nil)
		r.out.Changes = append(r.out.Changes, Change{ID: changeID("created", e.ID, id, nil), Kind: "created", EventID: e.ID, At: e.At, PersonID: id})
	} else {
		sort.Slice(persons, func(a, b int) bool {
			if persons[a].created != persons[b].created {
				return persons[a].created.less(persons[b].created)
			}
			return persons[a].ID < persons[b].ID
		})
		surv = persons[0]
		var gone []string
		for _, p := range persons[1:] {
			gone = append(gone, p.ID)
			for d := range p.docs {
				surv.docs[d] = true
				r.out.PersonOf[d] = surv.ID
			}
			for ev := range p.evidence {
				surv.evidence[ev] = true
			}
			for bd := range p.birthDate {
				surv.birthDate[bd] = true
			}
			r.out.Alias[p.ID] = surv.ID
			delete(r.out.Persons, p.ID)
		}
		if len(gone) > 0 {
			sort.Strings(gone)
			r.out.Changes = append(r.out.Changes, Change{ID: changeID("merged", e.ID, surv.ID, gone), Kind: "merged", EventID: e.ID, At: e.At, PersonID: surv.ID, Others: gone})
		}
	}
	for _, d := range newDocs {
		surv.docs[d] = true
		r.out.PersonOf[d] = surv.ID
		if bd := r.c.Docs[d].BirthDate; bd != "" {
			surv.birthDate[bd] = true
		}
	}
	if e.BirthDate != "" {
		surv.birthDate[e.BirthDate] = true
	}
	surv.evidence[i] = true
}

// conflict returns why linking e's documents would be wrong, or "".
func (r *replayer) conflict(e *Event, persons []*Person, newDocs []int) string {
	holder := map[string]string{} // single-holder type -> token
	var typeConflict string
	check := func(d int) {
		doc := &r.c.Docs[d]
		if doc.Type == "passport" || typeConflict != "" {
			return
		}
		if t, ok := holder[doc.Type]; ok && t != doc.Token {
			typeConflict = reasonTypePref + doc.Type
			return
		}
		holder[doc.Type] = doc.Token
	}
	births := map[string]bool{}
	for _, p := range persons {
		for d := range p.docs {
			check(d)
		}
		for bd := range p.birthDate {
			births[bd] = true
		}
	}
	for _, d := range newDocs {
		check(d)
		if bd := r.c.Docs[d].BirthDate; bd != "" {
			births[bd] = true
		}
	}
	if typeConflict != "" {
		return typeConflict
	}
	if e.BirthDate != "" {
		births[e.BirthDate] = true
	}
	if len(births) > 1 {
		return ReasonBirthDate
	}
	return ""
}

// retract withdraws the evidence of e.Retracts and splits what no longer
// holds together.
func (r *replayer) retract(e *Event) {
	t, done := r.processed[e.Retracts]
	if !done {
		r.retracted[e.Retracts] = true // applied later in order: it will link nothing
		return
	}
	if !r.out.Accepted[e.Retracts] || r.retracted[e.Retracts] {
		r.retracted[e.Retracts] = true
		return
	}
	r.retracted[e.Retracts] = true
	delete(r.out.Accepted, e.Retracts)
	target := &r.c.Events[t]
	p := r.out.Persons[r.out.PersonOf[target.Docs[0]]]
	delete(p.evidence, t)

	// Connected components of p's documents under the remaining evidence.
	parent := map[int]int{}
	find := func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for d := range p.docs {
		parent[d] = d
	}
	for ev := range p.evidence {
		docs := r.c.Events[ev].Docs
		for _, d := range docs[1:] {
			a, b := find(docs[0]), find(d)
			if a != b {
				parent[a] = b
			}
		}
	}
	comps := map[int][]int{}
	for d := range p.docs {
		root := find(d)
		comps[root] = append(comps[root], d)
	}
	parts := make([][]int, 0, len(comps))
	for _, c := range comps {
		sort.Slice(c, func(a, b int) bool { return r.docLess(c[a], c[b]) })
		parts = append(parts, c)
	}
	// The part holding the most documents keeps the id; ties go to the part
	// holding the earliest-seen document.
	sort.Slice(parts, func(a, b int) bool {
		if len(parts[a]) != len(parts[b]) {
			return len(parts[a]) > len(parts[b])
		}
		return r.docLess(parts[a][0], parts[b][0])
	})
	evidence := p.evidence
	var newIDs []string
	k := key{e.At, e.ID}
	for _, part := range parts[1:] {
		minTok := r.c.Docs[part[0]].Token
		for _, d := range part {
			if r.c.Docs[d].Token < minTok {
				minTok = r.c.Docs[d].Token
			}
		}
		np := r.newPerson(PersonID(e.ID, minTok), k, part)
		newIDs = append(newIDs, np.ID)
		for _, d := range part {
			delete(p.docs, d)
		}
	}
	// Rebuild evidence and birth dates of every part.
	r.rebuild(p, evidence)
	for _, id := range newIDs {
		np := r.out.Persons[id]
		r.rebuild(np, evidence)
	}
	if len(newIDs) > 0 {
		sort.Strings(newIDs)
		r.out.Changes = append(r.out.Changes, Change{ID: changeID("split", e.ID, p.ID, newIDs), Kind: "split", EventID: e.ID, At: e.At, PersonID: p.ID, Others: newIDs})
	}
}

// docLess orders documents by when they were first seen, then by token.
func (r *replayer) docLess(a, b int) bool {
	if r.docKey[a] != r.docKey[b] {
		return r.docKey[a].less(r.docKey[b])
	}
	return r.c.Docs[a].Token < r.c.Docs[b].Token
}

// rebuild recomputes a person's evidence and birth dates from what remains.
func (r *replayer) rebuild(p *Person, evidence map[int]bool) {
	p.evidence = map[int]bool{}
	p.birthDate = map[string]bool{}
	for d := range p.docs {
		if bd := r.c.Docs[d].BirthDate; bd != "" {
			p.birthDate[bd] = true
		}
	}
	for ev := range evidence {
		e := &r.c.Events[ev]
		if p.docs[e.Docs[0]] {
			p.evidence[ev] = true
			if e.BirthDate != "" {
				p.birthDate[e.BirthDate] = true
			}
		}
	}
}
