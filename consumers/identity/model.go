package identity

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"sort"
	"strings"

	"github.com/idlink/idlink/documents"
	"github.com/idlink/idlink/eventtypes"
	"github.com/idlink/idlink/schemas"
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
	Status    Status // the residence-permit status the event sets, if any
	Type      string // the event type, for explanations ("" in clusters stored before types were)
	Agency    string // the publishing agency, likewise
}

// Status is a residence permit's status as its events set it.
type Status uint8

// Statuses. A residence permit is active unless the last applied status
// event naming it, in (occurred_at, event_id) order, revoked it.
const (
	StatusNone    Status = iota // the event sets no status
	StatusActive                // residence_permit.issued
	StatusRevoked               // residence_permit.revoked
)

// String returns "active" or "revoked" ("" for StatusNone).
func (s Status) String() string {
	switch s {
	case StatusActive:
		return "active"
	case StatusRevoked:
		return "revoked"
	}
	return ""
}

// StatusOf returns the status an event of type typ sets.
func StatusOf(typ string) Status {
	switch typ {
	case eventtypes.ResidencePermitIssued:
		return StatusActive
	case eventtypes.ResidencePermitRevoked:
		return StatusRevoked
	}
	return StatusNone
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
	// blobLen is the length of the blob the cluster was read from or last
	// written as (0 for a cluster neither).
	blobLen int
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

	created   key      // when its id was made: a merge keeps the earliest
	live      bool     // not merged away, nor replaced when a retraction re-decided
	docs      []int    // while replaying: its documents, in no order
	birthDate []string // distinct: its documents' and its applied events'
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
	PersonIDs []string // the persons holding the event's documents (both sides), sorted
	Docs      []int    // the event's documents
	First     string   // the person holding the event's first document
}

// Change is one identity change, with a deterministic ID.
type Change struct {
	ID       string
	Kind     string // one of the schemas.Change* kinds
	EventID  string
	At       int64
	PersonID string
	Others   []string // merged: ids merged away; split: the new parts; conflicts: both sides
	Reason   string
}

// Outcome is a cluster's resolution: who holds what, after every event in
// (occurred_at, event_id) order.
type Outcome struct {
	PersonOf  []string           // per document index
	Persons   map[string]*Person // live persons by id (set when the replay ends)
	Alias     map[string]string  // merged-away id -> live id
	Conflicts []Conflict         // the events held back in this state, in replay order
	Changes   []Change
	// Status is per document index: the status the last applied status
	// event naming that residence permit set (StatusNone when none did).
	// Events held back or withdrawn set nothing. Nil when no event sets one.
	Status []Status

	c       *Cluster
	created []*Person // every person the replay made, merged-away ones too
}

// DocStatus returns document d's status: revoked while the last applied
// status event naming it revoked it, else active.
func (o *Outcome) DocStatus(d int) Status {
	if o.Status != nil && o.Status[d] == StatusRevoked {
		return StatusRevoked
	}
	return StatusActive
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
//
// Events apply in (occurred_at, event_id) order. A retraction withdraws the
// event it names as if that event had never linked anything: when the
// withdrawn event sorts before the retraction and had changed the state, the
// state at the retraction becomes the replay of every event up to it without
// the withdrawn one (so events held back may now apply and applied ones may
// now be held), and person ids carry over to it as a split or a merge would
// (see redecide).
func Replay(c *Cluster) *Outcome { return replay(c, -1, nil) }

// Event flags of a replay.
const (
	evApplied   = 1 << iota // applied so far
	evAccepted              // its links were made
	evRetracted             // withdrawn by a retraction
	evHeld                  // held back as a conflict
	evNoop                  // accepted, but it changed nothing: withdrawing it changes nothing
)

// replay is Replay; if snap is set, it is also called with the outcome so far
// once the first n events in replay order are applied.
func replay(c *Cluster, n int, snap func(*Outcome)) *Outcome { return play(c, n, snap).out }

// replayOrder returns c's event indices in (occurred_at, event_id) order.
func replayOrder(c *Cluster) []int32 {
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
	return order
}

// play is replay, returning the replayer with every event's final flags.
func play(c *Cluster, n int, snap func(*Outcome)) *replayer {
	order := replayOrder(c)
	r := newReplayer(c, order, false)
	for j, i := range order {
		if j == n && snap != nil {
			r.out.Conflicts = r.conflictsNow()
			snap(r.out)
		}
		r.pos = j
		r.apply(int(i))
	}
	if n == len(order) && snap != nil {
		r.out.Conflicts = r.conflictsNow()
		snap(r.out)
	}
	// Documents named by no event (never happens for stored clusters) would
	// still need a person; give them one deterministically.
	for i, p := range r.out.PersonOf {
		if p == "" {
			r.newPerson(PersonID("", c.Docs[i].Token), key{}, []int{i})
		}
	}
	r.out.Conflicts = r.conflictsNow()
	r.out.Status = r.status()
	r.out.Persons = make(map[string]*Person, len(r.out.created))
	for _, p := range r.out.created {
		if p.live {
			p.Docs = p.docs
			slices.Sort(p.Docs)
			r.out.Persons[p.ID] = p
		}
	}
	return r
}

// status returns Outcome.Status once every event is applied.
func (r *replayer) status() []Status {
	var out []Status
	for _, i := range r.order {
		e := &r.c.Events[i]
		if e.Status == StatusNone || r.flags[i]&(evAccepted|evRetracted) != evAccepted {
			continue
		}
		for _, d := range e.Docs {
			if r.c.Docs[d].Type != string(documents.ResidencePermit) {
				continue
			}
			if out == nil {
				out = make([]Status, len(r.c.Docs))
			}
			out[d] = e.Status
		}
	}
	return out
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
// and the events held.
type prior struct {
	changes   map[string]bool
	person    map[string]string // token -> live person
	ids       map[string]string // person id -> the cluster it was in
	conflicts map[string]string // held event id -> the cluster it was in
}

// newPrior returns an empty prior; add records outcomes in it.
func newPrior() *prior {
	return &prior{changes: map[string]bool{}, person: map[string]string{}, ids: map[string]string{}, conflicts: map[string]string{}}
}

// add records an outcome of cluster c (possibly part way through a replay:
// documents without a person yet are left out).
func (p *prior) add(c *Cluster, o *Outcome) {
	for _, ch := range o.Changes {
		p.changes[ch.ID] = true
	}
	for i, pid := range o.PersonOf { // c's first documents, as many as o saw
		if pid != "" {
			p.person[c.Docs[i].Token] = pid
		}
	}
	for _, q := range o.created {
		p.ids[q.ID] = c.ID
	}
	for i := range o.Conflicts {
		p.conflicts[o.Conflicts[i].EventID] = c.ID
	}
}

type replayer struct {
	c      *Cluster
	order  []int32 // event indices in replay order
	pos    int     // the position in order being applied
	flat   bool    // re-deciding: no changes recorded, retractions already marked
	docKey []key   // when each document was first seen
	owner  []*Person
	flags  []uint8 // per event: evApplied, evAccepted, ...
	held   []heldEvent
	slab   []Person // persons are allocated from here
	out    *Outcome

	steps []step // per event, what it did; kept only when explaining

	// lastKey is, per document, the latest event played that names it;
	// lastChange the latest that changed a person by naming it (created,
	// linked or merged); lastRetract the latest retraction played. Built
	// by index, for extend.
	lastKey, lastChange []key
	lastRetract         key
	// moved, while extending, holds each document given a person by the
	// events extend applies, with the person it had before ("" for none).
	moved map[int]string

	newDocs []int     // scratch of apply
	persons []*Person // scratch of apply
	holders []holder  // scratch of conflict
}

// heldEvent is an event held back, and why.
type heldEvent struct {
	ev     int32
	reason string
}

// holder is a single-holder document type and the token seen for it.
type holder struct{ typ, tok string }

func newReplayer(c *Cluster, order []int32, flat bool) *replayer {
	return &replayer{
		c:      c,
		order:  order,
		flat:   flat,
		docKey: make([]key, len(c.Docs)),
		owner:  make([]*Person, len(c.Docs)),
		flags:  make([]uint8, len(c.Events)),
		slab:   make([]Person, 0, len(c.Docs)+1),
		out:    &Outcome{PersonOf: make([]string, len(c.Docs)), c: c},
	}
}

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
		r.setOwner(d, p)
		p.addBirth(r.c.Docs[d].BirthDate)
	}
	r.out.created = append(r.out.created, p)
	return p
}

// setOwner gives document d to person p.
func (r *replayer) setOwner(d int, p *Person) {
	if r.moved != nil {
		if _, ok := r.moved[d]; !ok {
			r.moved[d] = r.out.PersonOf[d]
		}
	}
	r.owner[d] = p
	r.out.PersonOf[d] = p.ID
}

// extension is what extend changed.
type extension struct {
	changes []Change       // made by the events applied
	created []*Person      // the persons they made, live or merged away since
	held    []heldEvent    // the events held among them
	moved   map[int]string // see replayer.moved
}

// canExtend reports whether extend may be tried on c's events from index
// n on: the replayer has played exactly the events before n, and none of
// the new events is a retraction or named by one (parked).
func (r *replayer) canExtend(n int, parked map[string]bool) bool {
	if len(r.order) != n {
		return false
	}
	evs := r.c.Events
	for i := n; i < len(evs); i++ {
		if e := &evs[i]; e.Retract || parked[e.ID] {
			return false
		}
	}
	return true
}

// extend applies c's events from index n on to a replayer that has played
// the events before n (play, or an earlier extend or absorb), when
// canExtend allows it, in (occurred_at, event_id) order. An event that
// sorts before events already played applies now only when it is
// independent of them (see independent); when one is not, extend reports
// false and the replayer must be dropped. When it reports true, the state
// is the replay of every event, as a fresh play would make it. Outcome.Persons and each
// live person's Docs are kept up to date; Outcome.Conflicts and
// Outcome.Status are not (they stay as play left them).
func (r *replayer) extend(n int) (extension, bool) {
	c := r.c
	r.index()
	r.size()
	add := make([]int32, 0, len(c.Events)-n)
	for i := n; i < len(c.Events); i++ {
		add = append(add, int32(i))
	}
	slices.SortFunc(add, func(a, b int32) int {
		if c.Events[a].before(&c.Events[b]) {
			return -1
		}
		return 1
	})
	nc, np, nh := len(r.out.Changes), len(r.out.created), len(r.held)
	r.moved = map[int]string{}
	for _, i := range add {
		e := &c.Events[i]
		k := key{e.At, e.ID}
		if m := len(r.order); m > 0 && !c.Events[r.order[m-1]].before(e) { // late
			if !r.independent(e, k) {
				r.moved = nil
				return extension{}, false
			}
			at, _ := slices.BinarySearchFunc(r.order, e, byReplay(c))
			r.order = slices.Insert(r.order, at, i)
		} else {
			r.order = append(r.order, i)
		}
		r.pos = len(r.order) - 1
		r.apply(int(i))
		r.indexEvent(i)
	}
	x := extension{changes: r.out.Changes[nc:], created: r.out.created[np:], held: r.held[nh:], moved: r.moved}
	r.moved = nil
	for _, p := range x.created {
		if p.live {
			r.out.Persons[p.ID] = p
		}
	}
	touched := map[*Person]bool{}
	for d, was := range x.moved {
		if q := r.out.Persons[was]; q != nil && !q.live {
			delete(r.out.Persons, was)
		}
		touched[r.owner[d]] = true
	}
	for p := range touched {
		p.Docs = p.docs
		slices.Sort(p.Docs)
	}
	return x, true
}

// byReplay compares event index j of c with event e in replay order (the
// two are never the same event), for slices.BinarySearchFunc.
func byReplay(c *Cluster) func(j int32, e *Event) int {
	return func(j int32, e *Event) int {
		if c.Events[j].before(e) {
			return -1
		}
		return 1
	}
}

// independent reports whether event e, sorting before events already
// played, may apply now as if in its place. No retraction played may sort
// after it (a retraction decides again all that comes before it); and let
// D be e's documents and those of the persons holding them. Then either
//   - no event played after e names a document of D: persons only grow by
//     events naming their documents, so they were at e as they are now,
//     and nothing played after e saw them; or
//   - e changes nothing (its documents all seen before it, and it is held
//     back, or confirms one person), and no event played after e changed
//     a person holding a document of D: then e is decided now as it was in
//     its place, and the events after it saw the state they see without it.
//
// Either way applying e last has the effects applying it in its place
// would have had, and changes nothing played after it.
func (r *replayer) independent(e *Event, k key) bool {
	if k.less(r.lastRetract) {
		return false
	}
	seen, changed := true, false
	persons := r.persons[:0]
	for _, d := range e.Docs {
		if k.less(r.lastKey[d]) {
			seen = false
		}
		if !r.docKey[d].less(k) || k.less(r.lastChange[d]) {
			changed = true
		}
		if p := r.owner[d]; p != nil {
			if !slices.Contains(persons, p) {
				persons = append(persons, p)
			}
			for _, o := range p.docs {
				if k.less(r.lastKey[o]) {
					seen = false
				}
				if k.less(r.lastChange[o]) {
					changed = true
				}
			}
		}
	}
	r.persons = persons
	if seen {
		return true
	}
	if changed || len(persons) == 0 {
		return false
	}
	if len(persons) == 1 && (e.BirthDate == "" || slices.Contains(persons[0].birthDate, e.BirthDate)) {
		return true // confirms its one person
	}
	for _, d := range e.Docs {
		if r.owner[d] == nil {
			return false // a document first seen now would get a person
		}
	}
	return r.conflict(e, persons, nil) != "" // held back
}

// index builds lastKey, lastChange and lastRetract from the events
// played, once.
func (r *replayer) index() {
	if r.lastKey != nil {
		return
	}
	r.lastKey, r.lastChange = make([]key, len(r.owner)), make([]key, len(r.owner))
	for _, i := range r.order {
		r.indexEvent(i)
	}
}

// indexEvent records event i, just played, in lastKey, lastChange and
// lastRetract.
func (r *replayer) indexEvent(i int32) {
	e := &r.c.Events[i]
	k := key{e.At, e.ID}
	changed := r.flags[i]&(evAccepted|evNoop) == evAccepted
	for _, d := range e.Docs {
		if r.lastKey[d].less(k) {
			r.lastKey[d] = k
		}
		if changed && r.lastChange[d].less(k) {
			r.lastChange[d] = k
		}
	}
	if e.Retract && r.lastRetract.less(k) {
		r.lastRetract = k
	}
}

// size grows the replayer's per-document and per-event state to the
// cluster's documents and events.
func (r *replayer) size() {
	nd, ne := len(r.c.Docs)-len(r.owner), len(r.c.Events)-len(r.flags)
	r.docKey = append(r.docKey, make([]key, nd)...)
	r.owner = append(r.owner, make([]*Person, nd)...)
	r.out.PersonOf = append(r.out.PersonOf, make([]string, nd)...)
	r.flags = append(r.flags, make([]uint8, ne)...)
	if r.lastKey != nil {
		r.lastKey = append(r.lastKey, make([]key, nd)...)
		r.lastChange = append(r.lastChange, make([]key, nd)...)
	}
}

// absorb merges into r the replay o of a cluster that r's cluster has
// absorbed (Cluster.Absorb), both having played all their events: o's
// documents and events are found in r's cluster by token and id. Clusters
// share no document and no event, so until an event names documents of
// both, the replay of their union is the two replays side by side.
func (r *replayer) absorb(o *replayer) {
	c := r.c
	r.size()
	docs := make([]int, len(o.c.Docs))
	for i, d := range o.c.Docs {
		docs[i] = c.DocIndex(d.Token)
	}
	evs := make([]int32, len(o.c.Events))
	for j := range o.c.Events {
		evs[j] = int32(c.EventIndex(o.c.Events[j].ID))
	}
	if r.lastKey != nil {
		o.index()
		for i, d := range docs {
			r.lastKey[d], r.lastChange[d] = o.lastKey[i], o.lastChange[i]
		}
		if r.lastRetract.less(o.lastRetract) {
			r.lastRetract = o.lastRetract
		}
	}
	for i, d := range docs {
		r.docKey[d], r.owner[d], r.out.PersonOf[d] = o.docKey[i], o.owner[i], o.out.PersonOf[i]
	}
	for j, e := range evs {
		r.flags[e] = o.flags[j]
	}
	for _, p := range o.out.created {
		for i, d := range p.docs {
			p.docs[i] = docs[d]
		}
		if p.live {
			p.Docs = p.docs
			slices.Sort(p.Docs)
			r.out.Persons[p.ID] = p
		}
		r.out.created = append(r.out.created, p)
	}
	for a, to := range o.out.Alias {
		r.alias(a, to)
	}
	for _, h := range o.held {
		r.held = append(r.held, heldEvent{evs[h.ev], h.reason})
	}
	r.out.Changes = append(r.out.Changes, o.out.Changes...)
	before := byReplay(c)
	if len(o.order) <= 16 { // the usual small cluster: insert, allocating nothing
		for _, j := range o.order {
			e := evs[j]
			at, _ := slices.BinarySearchFunc(r.order, &c.Events[e], before)
			r.order = slices.Insert(r.order, at, e)
		}
		r.pos = len(r.order) - 1
		return
	}
	order := make([]int32, 0, len(r.order)+len(o.order))
	i, j := 0, 0
	for i < len(r.order) || j < len(o.order) {
		if j == len(o.order) || i < len(r.order) && c.Events[r.order[i]].before(&c.Events[evs[o.order[j]]]) {
			order = append(order, r.order[i])
			i++
		} else {
			order = append(order, evs[o.order[j]])
			j++
		}
	}
	r.order, r.pos = order, len(order)-1
}

func (r *replayer) change(ch Change) {
	if !r.flat {
		r.out.Changes = append(r.out.Changes, ch)
	}
}

// singletons gives every new document of an event a person of its own.
func (r *replayer) singletons(e *Event, k key, newDocs []int) {
	for _, d := range newDocs {
		id := PersonID(e.ID, r.c.Docs[d].Token)
		r.newPerson(id, k, []int{d})
		r.created(e, id)
	}
}

// created records that event e made person id.
func (r *replayer) created(e *Event, id string) {
	r.change(Change{ID: changeID(schemas.ChangeCreated, e.ID, id, nil), Kind: schemas.ChangeCreated, EventID: e.ID, At: e.At, PersonID: id})
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
		r.did(i, DidRetract, "")
		r.singletons(e, k, newDocs)
		if !r.flat { // a re-decision starts with every retraction's target marked
			r.retract(e)
		}
		return
	}
	if len(e.Docs) == 0 { // only a retraction may name no document
		return
	}
	if r.flags[i]&evRetracted != 0 { // withdrawn by an earlier retraction: links nothing
		r.did(i, DidWithdrawn, "")
		r.singletons(e, k, newDocs)
		return
	}
	if reason := r.conflict(e, persons, newDocs); reason != "" {
		r.did(i, DidHeld, reason)
		r.singletons(e, k, newDocs)
		r.flags[i] |= evHeld
		r.held = append(r.held, heldEvent{int32(i), reason})
		if !r.flat {
			r.change(r.conflictChange(schemas.ChangeConflictHeld, e, reason, nil))
		}
		return
	}
	r.flags[i] |= evAccepted
	if len(newDocs) == 0 && len(persons) == 1 && (e.BirthDate == "" || slices.Contains(persons[0].birthDate, e.BirthDate)) {
		r.did(i, DidConfirmed, "")
		r.flags[i] |= evNoop
		return
	}
	var surv *Person
	if len(persons) == 0 {
		r.did(i, DidCreated, "")
		id := PersonID(e.ID, r.c.Docs[newDocs[0]].Token)
		surv = r.newPerson(id, k, nil)
		r.created(e, id)
	} else {
		if len(persons) > 1 {
			slices.SortFunc(persons, byCreation)
			r.did(i, DidMerged, "")
		} else {
			r.did(i, DidLinked, "")
		}
		surv = persons[0]
		var gone []string
		for _, p := range persons[1:] {
			gone = append(gone, p.ID)
			if r.steps != nil {
				r.steps[i].merged = append(r.steps[i].merged, mergedPerson{p.ID, slices.Clone(p.docs)})
			}
			r.mergeInto(surv, p)
		}
		if len(gone) > 0 && !r.flat {
			sort.Strings(gone)
			r.change(Change{ID: changeID(schemas.ChangeMerged, e.ID, surv.ID, gone), Kind: schemas.ChangeMerged, EventID: e.ID, At: e.At, PersonID: surv.ID, Others: gone})
		}
	}
	for _, d := range newDocs {
		surv.docs = append(surv.docs, d)
		r.setOwner(d, surv)
		surv.addBirth(r.c.Docs[d].BirthDate)
	}
	surv.addBirth(e.BirthDate)
}

// byCreation orders persons by when their ids were made: the first is the
// survivor of a merge.
func byCreation(a, b *Person) int {
	if a.created != b.created {
		if a.created.less(b.created) {
			return -1
		}
		return 1
	}
	return strings.Compare(a.ID, b.ID)
}

// mergeInto moves p's documents and birth dates to surv; p's id becomes an
// alias of surv's.
func (r *replayer) mergeInto(surv, p *Person) {
	for _, d := range p.docs {
		r.setOwner(d, surv)
	}
	surv.docs = append(surv.docs, p.docs...)
	for _, bd := range p.birthDate {
		surv.addBirth(bd)
	}
	p.live, p.docs, p.birthDate = false, nil, nil
	r.alias(p.ID, surv.ID)
}

func (r *replayer) alias(from, to string) {
	if r.out.Alias == nil {
		r.out.Alias = map[string]string{}
	}
	r.out.Alias[from] = to
}

// ownersOf returns the distinct persons holding docs, sorted.
func (r *replayer) ownersOf(docs []int) []string {
	ids := make([]string, 0, len(docs))
	for _, d := range docs {
		if p := r.owner[d]; p != nil && !slices.Contains(ids, p.ID) {
			ids = append(ids, p.ID)
		}
	}
	sort.Strings(ids)
	return ids
}

// conflictChange is a conflict_held or conflict_released change of event e,
// naming the persons now holding its documents. cause is the retraction that
// re-decided e, or nil when e is held as it applies.
func (r *replayer) conflictChange(kind string, e *Event, reason string, cause *Event) Change {
	ids := r.ownersOf(e.Docs)
	pid := ""
	if len(ids) > 0 {
		pid = ids[0]
	}
	ch := Change{Kind: kind, EventID: e.ID, At: e.At, PersonID: pid, Others: ids, Reason: reason}
	idOf := e.ID
	if cause != nil {
		idOf, ch.At = e.ID+"\x00"+cause.ID, cause.At
	}
	ch.ID = changeID(kind, idOf, pid, ids)
	return ch
}

// conflictsNow lists the events held back in the state so far.
func (r *replayer) conflictsNow() []Conflict {
	if len(r.held) == 0 {
		return nil
	}
	out := make([]Conflict, len(r.held))
	for j, h := range r.held {
		e := &r.c.Events[h.ev]
		out[j] = Conflict{EventID: e.ID, At: e.At, Reason: h.reason, PersonIDs: r.ownersOf(e.Docs), Docs: slices.Clone(e.Docs)}
		if p := r.owner[e.Docs[0]]; p != nil {
			out[j].First = p.ID
		}
	}
	return out
}

// conflict returns why linking e's documents would be wrong, or "". When
// the documents hold two numbers of more than one single-holder type, the
// reason names the type that sorts first.
func (r *replayer) conflict(e *Event, persons []*Person, newDocs []int) string {
	holders := r.holders[:0]
	typeConflict := ""
	check := func(d int) {
		doc := &r.c.Docs[d]
		if !documents.Type(doc.Type).SingleHolder() {
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

// retract withdraws the event e names. An event that sorts after e links
// nothing when it applies; a held one leaves the conflicts; one that changed
// the state makes the state be decided again without it (redecide).
func (r *replayer) retract(e *Event) {
	t := r.c.EventIndex(e.Retracts)
	if t < 0 || r.flags[t]&evRetracted != 0 {
		return // not in the cluster, or withdrawn already
	}
	f := r.flags[t]
	r.flags[t] |= evRetracted
	switch {
	case f&evApplied == 0: // sorts after e
	case f&evHeld != 0:
		r.flags[t] &^= evHeld
		reason := ""
		r.held = slices.DeleteFunc(r.held, func(h heldEvent) bool {
			if int(h.ev) == t {
				reason = h.reason
				return true
			}
			return false
		})
		r.change(r.conflictChange(schemas.ChangeConflictReleased, &r.c.Events[t], reason, e))
	case f&evAccepted == 0 || f&evNoop != 0: // linked nothing, or changed nothing
	default:
		r.redecide(e)
	}
}

// redecide replaces the state with the replay of every event up to cause
// (the retraction being applied) with every withdrawn event linking nothing,
// and carries the person ids over:
//   - each person keeps its id in the new person holding most of its
//     documents (a tie goes to the one holding its earliest-seen document);
//   - a new person claimed by several keeps the id first created, the others
//     become aliases of it (a merge);
//   - a new person claimed by none (a split's new part) takes the id the
//     replay gave it, unless a person still holds that id: then it is named
//     after cause and its smallest token. Either way it counts as created
//     at cause, so in a later merge every person older than the split wins.
//
// Changes record the splits, the merges, and every event held or no longer
// held.
func (r *replayer) redecide(cause *Event) {
	k := key{cause.At, cause.ID}
	f := newReplayer(r.c, r.order, true)
	for i, fl := range r.flags {
		f.flags[i] = fl & evRetracted
	}
	for _, i := range r.order[:r.pos+1] {
		f.apply(int(i))
	}

	var olds, news []*Person
	for _, p := range r.out.created {
		if p.live {
			olds = append(olds, p)
		}
	}
	newIdx := make(map[*Person]int)
	for _, p := range f.out.created {
		if p.live {
			newIdx[p] = len(news)
			news = append(news, p)
		}
	}
	liveOld := make(map[string]bool, len(olds))
	claim := make([]int, len(olds))   // the new person each old one's id goes to
	parts := make([][]int, len(olds)) // the new persons holding each old one's documents
	claimers := make([][]*Person, len(news))
	for oi, p := range olds {
		liveOld[p.ID] = true
		count := map[int]int{}
		first := map[int]int{} // the earliest-seen of p's documents in each part
		for _, d := range p.docs {
			j := newIdx[f.owner[d]]
			if _, ok := count[j]; !ok {
				parts[oi] = append(parts[oi], j)
				first[j] = d
			} else if r.docLess(d, first[j]) {
				first[j] = d
			}
			count[j]++
		}
		best := parts[oi][0]
		for _, j := range parts[oi][1:] {
			if count[j] > count[best] || count[j] == count[best] && r.docLess(first[j], first[best]) {
				best = j
			}
		}
		claim[oi] = best
		claimers[best] = append(claimers[best], p)
	}
	ids := make([]string, len(news))
	for j, n := range news {
		switch cl := claimers[j]; {
		case len(cl) > 0:
			slices.SortFunc(cl, byCreation)
			ids[j], n.created = cl[0].ID, cl[0].created // n is discarded below
		case !liveOld[n.ID]:
			ids[j], n.created = n.ID, k
			delete(r.out.Alias, n.ID)
		default:
			minTok := r.c.Docs[n.docs[0]].Token
			for _, d := range n.docs[1:] {
				minTok = min(minTok, r.c.Docs[d].Token)
			}
			ids[j], n.created = PersonID(cause.ID, minTok), k
		}
	}
	for _, p := range olds {
		p.live = false
	}
	for j, n := range news {
		p := r.newPerson(ids[j], n.created, n.docs)
		p.birthDate = slices.Clone(n.birthDate)
	}
	for j := range news {
		cl := claimers[j]
		if len(cl) < 2 {
			continue
		}
		gone := make([]string, 0, len(cl)-1)
		for _, p := range cl[1:] {
			gone = append(gone, p.ID)
			r.alias(p.ID, ids[j])
		}
		sort.Strings(gone)
		r.change(Change{ID: changeID(schemas.ChangeMerged, cause.ID, ids[j], gone), Kind: schemas.ChangeMerged, EventID: cause.ID, At: cause.At, PersonID: ids[j], Others: gone})
	}
	for oi := range olds {
		if len(parts[oi]) < 2 {
			continue
		}
		pid := ids[claim[oi]]
		others := make([]string, 0, len(parts[oi])-1)
		for _, j := range parts[oi] {
			if j != claim[oi] {
				others = append(others, ids[j])
			}
		}
		sort.Strings(others)
		r.change(Change{ID: changeID(schemas.ChangeSplit, cause.ID, pid, others), Kind: schemas.ChangeSplit, EventID: cause.ID, At: cause.At, PersonID: pid, Others: others})
	}
	nowHeld := make(map[int32]bool, len(f.held))
	for _, h := range f.held {
		nowHeld[h.ev] = true
	}
	wasHeld := make(map[int32]bool, len(r.held))
	for _, h := range r.held {
		wasHeld[h.ev] = true
		if !nowHeld[h.ev] {
			r.change(r.conflictChange(schemas.ChangeConflictReleased, &r.c.Events[h.ev], h.reason, cause))
		}
	}
	for _, h := range f.held {
		if !wasHeld[h.ev] {
			r.change(r.conflictChange(schemas.ChangeConflictHeld, &r.c.Events[h.ev], h.reason, cause))
		}
	}
	r.held, r.flags = f.held, f.flags
}

// docLess orders documents by when they were first seen, then by token.
func (r *replayer) docLess(a, b int) bool {
	if r.docKey[a] != r.docKey[b] {
		return r.docKey[a].less(r.docKey[b])
	}
	return r.c.Docs[a].Token < r.c.Docs[b].Token
}
