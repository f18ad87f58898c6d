package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
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

	// docIdx and evIdx index Docs by token and Events by id once a cluster
	// holds more than indexFrom of them; smaller ones are searched in turn.
	docIdx map[string]int
	evIdx  map[string]int
	// datesFilled is set when AddDoc gave a known document the birth date
	// it lacked (so replaying the old events alone could now differ).
	datesFilled bool
}

// indexFrom is how many documents (or events) a cluster holds before it
// indexes them in a map: most clusters hold two or three, and searching
// those is cheaper than building a map per cluster.
const indexFrom = 8

// NewCluster returns an empty cluster.
func NewCluster(id string) *Cluster {
	return &Cluster{ID: id}
}

func (c *Cluster) index() {
	c.docIdx, c.evIdx = nil, nil
	if len(c.Docs) > indexFrom {
		c.docIdx = make(map[string]int, len(c.Docs))
		for i, d := range c.Docs {
			c.docIdx[d.Token] = i
		}
	}
	if len(c.Events) > indexFrom {
		c.evIdx = make(map[string]int, len(c.Events))
		for i, e := range c.Events {
			c.evIdx[e.ID] = i
		}
	}
}

// DocIndex returns the index of a token, or -1.
func (c *Cluster) DocIndex(tok string) int {
	if c.docIdx != nil {
		if i, ok := c.docIdx[tok]; ok {
			return i
		}
		return -1
	}
	for i := range c.Docs {
		if c.Docs[i].Token == tok {
			return i
		}
	}
	return -1
}

// EventIndex returns the index of an event id, or -1.
func (c *Cluster) EventIndex(id string) int {
	if c.evIdx != nil {
		if i, ok := c.evIdx[id]; ok {
			return i
		}
		return -1
	}
	for i := range c.Events {
		if c.Events[i].ID == id {
			return i
		}
	}
	return -1
}

// HasEvent reports whether the cluster holds event id.
func (c *Cluster) HasEvent(id string) bool { return c.EventIndex(id) >= 0 }

// AddDoc adds a document if absent and returns its index.
func (c *Cluster) AddDoc(d Doc) int {
	if i := c.DocIndex(d.Token); i >= 0 {
		if c.Docs[i].BirthDate == "" && d.BirthDate != "" {
			c.Docs[i].BirthDate = d.BirthDate
			c.datesFilled = true
		}
		return i
	}
	c.Docs = append(c.Docs, d)
	i := len(c.Docs) - 1
	switch {
	case c.docIdx != nil:
		c.docIdx[d.Token] = i
	case len(c.Docs) > indexFrom:
		c.index()
	}
	return i
}

// AddEvent adds an event naming docs (which must be in the cluster already,
// by token); it reports false if the event was already there (a replay).
func (c *Cluster) AddEvent(e Event, tokens []string) bool {
	if c.EventIndex(e.ID) >= 0 {
		return false
	}
	e.Docs = make([]int, 0, len(tokens))
	for _, t := range tokens {
		e.Docs = append(e.Docs, max(c.DocIndex(t), 0))
	}
	c.Events = append(c.Events, e)
	switch {
	case c.evIdx != nil:
		c.evIdx[e.ID] = len(c.Events) - 1
	case len(c.Events) > indexFrom:
		c.index()
	}
	return true
}

// Absorb moves every document and event of o into c.
func (c *Cluster) Absorb(o *Cluster) {
	var toks []string
	for _, e := range o.Events {
		toks = toks[:0]
		for _, d := range e.Docs {
			toks = append(toks, o.Docs[d].Token)
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
	live      bool     // not merged into another
	docs      []int    // while replaying: its documents, in no order
	evidence  []int    // accepted, unretracted events linking its docs
	birthDate []string // distinct
}

func (p *Person) addBirth(bd string) {
	if bd != "" && !slices.Contains(p.birthDate, bd) {
		p.birthDate = append(p.birthDate, bd)
	}
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
	Persons   map[string]*Person // live persons by id (set when the replay ends)
	Alias     map[string]string  // merged-away id -> live id
	Conflicts []Conflict
	Changes   []Change

	c       *Cluster
	created []*Person // every person the replay made, merged-away ones too
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

// EventCount counts the distinct events naming a document of live person pid.
func (o *Outcome) EventCount(pid string) int {
	n := 0
	for i := range o.c.Events {
		for _, d := range o.c.Events[i].Docs {
			if o.PersonOf[d] == pid {
				n++
				break
			}
		}
	}
	return n
}

// PersonID derives a person id from the event that created it and a token, so
// every replay, in any process, names persons alike.
func PersonID(eventID, token string) string {
	var buf [192]byte
	b := append(append(append(append(buf[:0], "person\x00"...), eventID...), 0), token...)
	h := sha256.Sum256(b)
	var out [2 + 20]byte
	out[0], out[1] = 'p', '-'
	hex.Encode(out[2:], h[:10])
	return string(out[:])
}

func changeID(kind, eventID, person string, others []string) string {
	var buf [256]byte
	b := append(append(append(append(append(append(buf[:0], kind...), 0), eventID...), 0), person...), 0)
	for i, o := range others {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, o...)
	}
	h := sha256.Sum256(b)
	var out [2 + 24]byte
	out[0], out[1] = 'c', '-'
	hex.Encode(out[2:], h[:12])
	return string(out[:])
}

// Conflict reasons.
const (
	ReasonBirthDate = "conflicting_birth_date"
	reasonTypePref  = "conflicting_" // + document type, e.g. conflicting_residence_permit
)

// Replay resolves a cluster from scratch. The result depends only on the set
// of events in the cluster, never on the order they were added.
func Replay(c *Cluster) *Outcome { return replay(c, -1, nil) }

// Event flags of a replay.
const (
	evApplied   = 1 << iota // applied so far
	evAccepted              // its links were made (and not retracted)
	evRetracted             // withdrawn by a retraction
)

// replay is Replay; if snap is set, it is also called with the outcome so far
// once the first n events in replay order are applied.
func replay(c *Cluster, n int, snap func(*Outcome)) *Outcome {
	order := make([]int32, len(c.Events))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		ea, eb := &c.Events[a], &c.Events[b]
		switch {
		case ea.before(eb):
			return -1
		case eb.before(ea):
			return 1
		}
		return 0
	})

	r := &replayer{
		c:      c,
		docKey: make([]key, len(c.Docs)),
		owner:  make([]*Person, len(c.Docs)),
		flags:  make([]uint8, len(c.Events)),
		slab:   make([]Person, 0, len(c.Docs)+1),
		out: &Outcome{
			PersonOf: make([]string, len(c.Docs)),
			c:        c,
		},
	}
	for j, i := range order {
		if j == n && snap != nil {
			snap(r.out)
		}
		r.apply(int(i))
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
	r.out.Persons = make(map[string]*Person, len(r.out.created))
	for _, p := range r.out.created {
		if p.live {
			p.Docs = p.docs
			slices.Sort(p.Docs)
			r.out.Persons[p.ID] = p
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
	for _, q := range o.created {
		p.ids[q.ID] = true
	}
	for _, cf := range o.Conflicts {
		p.conflicts[cf.EventID] = true
	}
}

type replayer struct {
	c      *Cluster
	docKey []key     // when each document was first seen
	owner  []*Person // each document's live person, nil before its first event
	flags  []uint8   // per event: evApplied, evAccepted, evRetracted
	slab   []Person  // persons are allocated from here
	out    *Outcome

	newDocs []int     // scratch of apply
	persons []*Person // scratch of apply
	holders []holder  // scratch of conflict
}

// holder is a single-holder document type and the token seen for it.
type holder struct{ typ, tok string }

func (r *replayer) newPerson(id string, k key, docs []int) *Person {
	if len(r.slab) == cap(r.slab) {
		r.slab = make([]Person, 0, 8)
	}
	r.slab = append(r.slab, Person{ID: id, created: k, live: true})
	p := &r.slab[len(r.slab)-1]
	if len(docs) > 0 {
		p.docs = append(make([]int, 0, len(docs)), docs...)
	}
	for _, d := range docs {
		r.owner[d] = p
		r.out.PersonOf[d] = id
		p.addBirth(r.c.Docs[d].BirthDate)
	}
	r.out.created = append(r.out.created, p)
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
	r.flags[i] |= evApplied
	newDocs, persons := r.newDocs[:0], r.persons[:0]
	for _, d := range e.Docs {
		p := r.owner[d]
		if p == nil {
			if r.docKey[d] == (key{}) {
				r.docKey[d] = k
				newDocs = append(newDocs, d)
			}
			continue
		}
		if !slices.Contains(persons, p) {
			persons = append(persons, p)
		}
	}
	r.newDocs, r.persons = newDocs, persons
	if len(newDocs) > 1 {
		slices.SortFunc(newDocs, func(a, b int) int { return strings.Compare(r.c.Docs[a].Token, r.c.Docs[b].Token) })
	}
	if e.Retract {
		r.singletons(e, k, newDocs)
		r.retract(e)
		return
	}
	if len(e.Docs) == 0 { // only a retraction may name no document
		return
	}
	if r.flags[i]&evRetracted != 0 { // withdrawn by an earlier retraction: links nothing
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
	r.flags[i] |= evAccepted
	var surv *Person
	if len(persons) == 0 {
		id := PersonID(e.ID, r.c.Docs[newDocs[0]].Token)
		surv = r.newPerson(id, k, nil)
		r.out.Changes = append(r.out.Changes, Change{ID: changeID("created", e.ID, id, nil), Kind: "created", EventID: e.ID, At: e.At, PersonID: id})
	} else {
		if len(persons) > 1 {
			slices.SortFunc(persons, func(a, b *Person) int {
				if a.created != b.created {
					if a.created.less(b.created) {
						return -1
					}
					return 1
				}
				return strings.Compare(a.ID, b.ID)
			})
		}
		surv = persons[0]
		var gone []string
		for _, p := range persons[1:] {
			gone = append(gone, p.ID)
			for _, d := range p.docs {
				r.owner[d] = surv
				r.out.PersonOf[d] = surv.ID
			}
			surv.docs = append(surv.docs, p.docs...)
			surv.evidence = append(surv.evidence, p.evidence...)
			for _, bd := range p.birthDate {
				surv.addBirth(bd)
			}
			p.live, p.docs, p.evidence, p.birthDate = false, nil, nil, nil
			if r.out.Alias == nil {
				r.out.Alias = map[string]string{}
			}
			r.out.Alias[p.ID] = surv.ID
		}
		if len(gone) > 0 {
			sort.Strings(gone)
			r.out.Changes = append(r.out.Changes, Change{ID: changeID("merged", e.ID, surv.ID, gone), Kind: "merged", EventID: e.ID, At: e.At, PersonID: surv.ID, Others: gone})
		}
	}
	for _, d := range newDocs {
		surv.docs = append(surv.docs, d)
		r.owner[d] = surv
		r.out.PersonOf[d] = surv.ID
		surv.addBirth(r.c.Docs[d].BirthDate)
	}
	surv.addBirth(e.BirthDate)
	surv.evidence = append(surv.evidence, i)
}

// conflict returns why linking e's documents would be wrong, or "". When
// the documents hold two numbers of more than one single-holder type, the
// reason names the type that sorts first.
func (r *replayer) conflict(e *Event, persons []*Person, newDocs []int) string {
	holders := r.holders[:0]
	typeConflict := ""
	check := func(d int) {
		doc := &r.c.Docs[d]
		if doc.Type == "passport" {
			return
		}
		for j := range holders {
			if holders[j].typ == doc.Type {
				if holders[j].tok != doc.Token && (typeConflict == "" || doc.Type < typeConflict) {
					typeConflict = doc.Type
				}
				return
			}
		}
		holders = append(holders, holder{doc.Type, doc.Token})
	}
	birth, births := "", false
	addBirth := func(bd string) {
		switch {
		case bd == "":
		case birth == "":
			birth = bd
		case bd != birth:
			births = true
		}
	}
	for _, p := range persons {
		for _, d := range p.docs {
			check(d)
		}
		for _, bd := range p.birthDate {
			addBirth(bd)
		}
	}
	for _, d := range newDocs {
		check(d)
		addBirth(r.c.Docs[d].BirthDate)
	}
	r.holders = holders
	if typeConflict != "" {
		return reasonTypePref + typeConflict
	}
	addBirth(e.BirthDate)
	if births {
		return ReasonBirthDate
	}
	return ""
}

// retract withdraws the evidence of e.Retracts and splits what no longer
// holds together.
func (r *replayer) retract(e *Event) {
	t := r.c.EventIndex(e.Retracts)
	if t < 0 {
		return // not in the cluster: nothing to withdraw
	}
	if r.flags[t]&evApplied == 0 { // applied later in order: it will link nothing
		r.flags[t] |= evRetracted
		return
	}
	if r.flags[t]&evAccepted == 0 || r.flags[t]&evRetracted != 0 {
		r.flags[t] |= evRetracted
		return
	}
	r.flags[t] = r.flags[t]&^evAccepted | evRetracted
	target := &r.c.Events[t]
	p := r.owner[target.Docs[0]]
	p.evidence = slices.DeleteFunc(p.evidence, func(ev int) bool { return ev == t })

	// Connected components of p's documents under the remaining evidence.
	parent := map[int]int{}
	find := func(x int) int {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for _, d := range p.docs {
		parent[d] = d
	}
	for _, ev := range p.evidence {
		docs := r.c.Events[ev].Docs
		for _, d := range docs[1:] {
			a, b := find(docs[0]), find(d)
			if a != b {
				parent[a] = b
			}
		}
	}
	comps := map[int][]int{}
	for _, d := range p.docs {
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
	var news []*Person
	k := key{e.At, e.ID}
	for _, part := range parts[1:] {
		minTok := r.c.Docs[part[0]].Token
		for _, d := range part {
			if r.c.Docs[d].Token < minTok {
				minTok = r.c.Docs[d].Token
			}
		}
		news = append(news, r.newPerson(PersonID(e.ID, minTok), k, part))
	}
	if len(news) > 0 {
		p.docs = slices.DeleteFunc(p.docs, func(d int) bool { return r.owner[d] != p })
	}
	// Rebuild evidence and birth dates of every part.
	r.rebuild(p, evidence)
	for _, np := range news {
		r.rebuild(np, evidence)
	}
	if len(news) > 0 {
		newIDs := make([]string, len(news))
		for j, np := range news {
			newIDs[j] = np.ID
		}
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

// rebuild recomputes a person's evidence and birth dates from what remains
// (evidence is the evidence of the person split; it is not modified).
func (r *replayer) rebuild(p *Person, evidence []int) {
	p.evidence = nil
	p.birthDate = nil
	for _, d := range p.docs {
		p.addBirth(r.c.Docs[d].BirthDate)
	}
	for _, ev := range evidence {
		e := &r.c.Events[ev]
		if r.owner[e.Docs[0]] == p {
			p.evidence = append(p.evidence, ev)
			p.addBirth(e.BirthDate)
		}
	}
}
