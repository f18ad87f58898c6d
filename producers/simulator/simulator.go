// Package simulator generates deterministic synthetic agency events for the
// demo, benchmarks and chaos tests.
//
// Generate builds a population of persons (Hong Kong, Macao and Taiwan
// residents, foreigners, mainland residents) holding valid document numbers,
// and the JSON Lines (CONTRACT.md §1) that agencies would publish about them:
// residence permits and travel permits issued, medical-insurance enrolments
// and code activations, real-name verifications by platforms and by the
// agencies' own services, social-security cards, driver qualification exam
// registrations, off-site medical-treatment filings, revocations,
// retractions of wrong links, intended conflicts, exact duplicate lines and
// invalid lines, with every event type of the registry (package eventtypes). Alongside the lines it returns the ground truth a test needs
// to check what the pipeline made of them.
//
// The same Options always give byte-identical output (for one build of the
// program: math/rand/v2 does not promise identical streams across Go
// releases).
//
//	ds := simulator.Generate(simulator.Options{Seed: 7, Persons: 500})
//	ds.WriteTo(f)                  // JSON Lines for `idlink produce`
//	want := ds.ExpectedGroups()    // persons the resolver should end with
package simulator

import (
	"bufio"
	"cmp"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/idlink/idlink/documents"
	"github.com/idlink/idlink/producers"
)

// Options say what to generate. The zero value of a field means its default;
// for the counts of special lines a negative value means none.
type Options struct {
	// Seed selects the dataset (default 1).
	Seed int64
	// Persons is the size of the population (default 2000).
	Persons int
	// Events is the number of distinct valid events (default 10 per
	// person). It is raised when the population needs more: every person
	// gets the events that link all of their documents, and the
	// retractions and conflicts asked for come on top of those.
	Events int
	// BadEvents is the number of invalid lines to inject (default 1% of
	// Events).
	BadEvents int
	// Duplicates is the number of extra, byte-identical copies of valid
	// lines (default 1% of Events).
	Duplicates int
	// Retractions is the number of link.retracted events (default 0.5% of
	// Events). About half withdraw a mistaken link between two persons (so
	// the merged person splits again), the rest a correct link that other
	// events also assert (so nothing splits). Fewer are made if there are
	// too few candidates.
	Retractions int
	// Conflicts is the number of events that must be held back as
	// conflicts (default 0.2% of Events). Fewer are made if there are too
	// few residence-permit holders.
	Conflicts int
	// Start is when the first event may occur (default
	// 2025-03-01T00:00:00+08:00). Every occurred_at is written in +08:00.
	Start time.Time
	// Days is how many days the events are spread over (default 90).
	Days int
	// IDPrefix starts every event_id (default "s<seed>-"), at most 48
	// bytes. Give two datasets different prefixes to keep their event_ids
	// apart.
	IDPrefix string
	// Chronological puts the lines in the order the contract applies
	// events, (occurred_at, event_id), instead of a shuffled arrival order.
	Chronological bool
}

// DefaultStart is the default Options.Start.
func DefaultStart() time.Time {
	return time.Date(2025, 3, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
}

// WithDefaults returns o with every zero field set to its default. Negative
// counts become 0.
func (o Options) WithDefaults() Options {
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Persons <= 0 {
		o.Persons = 2000
	}
	if o.Events <= 0 {
		o.Events = 10 * o.Persons
	}
	def := func(v *int, perMille int) {
		switch {
		case *v == 0:
			*v = o.Events * perMille / 1000
		case *v < 0:
			*v = 0
		}
	}
	def(&o.BadEvents, 10)
	def(&o.Duplicates, 10)
	def(&o.Retractions, 5)
	def(&o.Conflicts, 2)
	if o.Start.IsZero() {
		o.Start = DefaultStart()
	}
	if o.Days <= 0 {
		o.Days = 90
	}
	if o.IDPrefix == "" {
		o.IDPrefix = "s" + strconv.FormatInt(o.Seed, 10) + "-"
	}
	return o
}

// Dataset is the output of Generate: the lines and their ground truth.
// Lines that are copies of each other share memory; treat all of it as
// read-only.
type Dataset struct {
	// Options are the options used, with defaults applied and Events,
	// Retractions and Conflicts set to the numbers actually made.
	Options Options
	// Lines are the events as JSON Lines (without the newline), in arrival
	// order.
	Lines [][]byte
	// Persons is the population.
	Persons []Person
	// Events are the distinct valid events, in the order the contract
	// applies them: by (occurred_at, event_id).
	Events []Event
	// Bad are the invalid lines.
	Bad []BadLine
	// Duplicates are the lines that repeat an earlier line exactly.
	Duplicates []Duplicate
}

// Event is the ground truth of one valid event.
type Event struct {
	// ID is the event_id.
	ID string
	// Type and Agency are as in the line (producers.Type* constants).
	Type, Agency string
	// OccurredAt is when it happened (second resolution, in +08:00).
	OccurredAt time.Time
	// Region is the region code, or "".
	Region string
	// BirthDate is person.birth_date as written, or "".
	BirthDate string
	// Person is the index in Dataset.Persons of the person the event is
	// about, or -1 for a retraction that names no document.
	Person int
	// Other is the index of a second person whose document the event names
	// (a mistaken link or a conflict between two persons), or -1.
	Other int
	// Docs are the documents named, normalised, in the order of the line.
	Docs []Doc
	// Attrs are the attrs, in the order of the line.
	Attrs []Attr
	// Line is the index in Dataset.Lines of the first line carrying the
	// event.
	Line int
	// Retracts is the event_id this link.retracted event withdraws, or "".
	Retracts string
	// RetractedBy is the event_id of the link.retracted event that
	// withdraws this event, or "".
	RetractedBy string
	// Backbone marks the events that, together, link every document of a
	// person; they are never retracted.
	Backbone bool
	// Mistaken marks an event that wrongly links documents of two persons
	// (Person and Other); a later event always retracts it.
	Mistaken bool
	// Conflict says why the event must be held back, or NoConflict.
	Conflict ConflictKind
}

// Attr is one key and value of an event's attrs.
type Attr struct{ Key, Value string }

// Attr returns the value of the attr key, or "".
func (e *Event) Attr(key string) string {
	for _, a := range e.Attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

// Links reports whether the event names two or more documents, i.e. asserts
// links between them.
func (e *Event) Links() bool { return len(e.Docs) > 1 }

// ConflictKind says why an intended conflict must be held back.
type ConflictKind uint8

// Kinds of intended conflict.
const (
	// NoConflict: the event is applied normally.
	NoConflict ConflictKind = iota
	// ConflictSingleHolder: the event names a document of Other (a
	// residence permit) together with one of Person, and both persons
	// already hold a residence permit, so the merge would give one person
	// two.
	ConflictSingleHolder
	// ConflictBirthDate: the event names documents of Person, who already
	// holds a residence permit, with a different person.birth_date.
	ConflictBirthDate
)

// String returns "", "single_holder" or "birth_date".
func (k ConflictKind) String() string {
	switch k {
	case ConflictSingleHolder:
		return "single_holder"
	case ConflictBirthDate:
		return "birth_date"
	}
	return ""
}

// Duplicate is an extra copy of a valid line.
type Duplicate struct {
	// Line is the index in Dataset.Lines of the copy.
	Line int
	// EventID is the event_id it repeats.
	EventID string
}

// Generate returns the dataset o describes. It panics if o.IDPrefix is
// longer than 48 bytes.
func Generate(o Options) *Dataset {
	o = o.WithDefaults()
	if len(o.IDPrefix) > 48 {
		panic("simulator: Options.IDPrefix is longer than 48 bytes")
	}
	g := newGen(o)
	g.population()
	g.backbone()

	mistaken := g.mistakenTargets(o.Retractions / 2)
	nRedundant := o.Retractions - len(mistaken)
	nConflicts := g.maxConflicts(o.Conflicts)
	nFiller := o.Events - len(g.events) - 2*len(mistaken) - nRedundant - nConflicts
	g.filler(max(nFiller, 0))
	g.mistakenLinks(mistaken)
	retractions := len(mistaken) + g.redundantRetractions(nRedundant)
	g.conflicts(nConflicts)
	if short := o.Events - len(g.events); short > 0 {
		g.filler(short) // too few links to retract: make up the number
	}
	g.bad(o.BadEvents)
	g.duplicates(o.Duplicates)
	g.ds.Options.Events = len(g.events)
	g.ds.Options.Retractions = retractions
	g.ds.Options.Conflicts = nConflicts
	g.arrange()
	return g.ds
}

// WriteTo writes the lines as JSON Lines. It implements io.WriterTo.
func (d *Dataset) WriteTo(w io.Writer) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	var n int64
	for _, l := range d.Lines {
		k, err := bw.Write(l)
		n += int64(k)
		if err != nil {
			return n, err
		}
		if err := bw.WriteByte('\n'); err != nil {
			return n, err
		}
		n++
	}
	return n, bw.Flush()
}

// Bytes returns the lines as one JSON Lines document.
func (d *Dataset) Bytes() []byte {
	n := 0
	for _, l := range d.Lines {
		n += len(l) + 1
	}
	b := make([]byte, 0, n)
	for _, l := range d.Lines {
		b = append(append(b, l...), '\n')
	}
	return b
}

// Index returns a map from event_id to the index of the event in Events.
func (d *Dataset) Index() map[string]int {
	m := make(map[string]int, len(d.Events))
	for i := range d.Events {
		m[d.Events[i].ID] = i
	}
	return m
}

// Produced is what `idlink produce --json` should report for the dataset.
type Produced struct {
	Accepted int            `json:"accepted"`
	Rejected int            `json:"rejected"`
	Reasons  map[string]int `json:"reasons"`
}

// ExpectedProduce returns the counts the producer should report: every
// distinct valid event accepted once, every bad line rejected with its
// reason.
func (d *Dataset) ExpectedProduce() Produced {
	p := Produced{Accepted: len(d.Events), Rejected: len(d.Bad), Reasons: map[string]int{}}
	for _, b := range d.Bad {
		p.Reasons[b.Reason]++
	}
	return p
}

// ExpectedGroups returns the persons the identity resolver should end up
// with: the connected components of the documents named by valid events,
// linked by every event that is neither an intended conflict nor retracted.
// Each group is sorted by (type, number), and the groups by their first
// document. By construction they are the documents of Persons.
func (d *Dataset) ExpectedGroups() [][]Doc {
	id := map[Doc]int{}
	var docs []Doc
	var parent []int
	node := func(x Doc) int {
		if i, ok := id[x]; ok {
			return i
		}
		id[x] = len(docs)
		docs = append(docs, x)
		parent = append(parent, len(parent))
		return len(parent) - 1
	}
	find := func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for i := range d.Events {
		e := &d.Events[i]
		first := -1
		for _, x := range e.Docs {
			n := node(x)
			if e.Conflict != NoConflict || e.RetractedBy != "" || e.Type == producers.TypeLinkRetracted {
				continue
			}
			if first < 0 {
				first = n
			} else if a, b := find(first), find(n); a != b {
				parent[max(a, b)] = min(a, b)
			}
		}
	}
	byRoot := map[int][]Doc{}
	for i, x := range docs {
		r := find(i)
		byRoot[r] = append(byRoot[r], x)
	}
	groups := make([][]Doc, 0, len(byRoot))
	for _, g := range byRoot {
		slices.SortFunc(g, compareDocs)
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b []Doc) int { return compareDocs(a[0], b[0]) })
	return groups
}

func compareDocs(a, b Doc) int {
	return cmp.Or(cmp.Compare(a.Type, b.Type), cmp.Compare(a.Number, b.Number))
}

// gen holds the state of one Generate call.
type gen struct {
	o     Options
	r     *rand.Rand
	svc   *rand.Rand // the services' own stream (see service)
	ds    *Dataset
	info  []pinfo
	start int64 // unix seconds
	span  int64 // seconds
	loc   *time.Location

	seq     uint64 // event_id sequence
	buf     []byte // all encoded lines
	events  []Event
	keys    []evKey // per event: sort key and line span
	badKeys []evKey // per bad line: sort key and line span
	entries []entry // lines before arrangement
	docs    []Doc   // arena for Event.Docs
	attrs   []Attr  // arena for Event.Attrs
	linking []int   // filler events that link documents of one person
	d       draft   // reused
}

// evKey is where a line sorts in application order and where its bytes are
// in gen.buf.
type evKey struct {
	at    int64
	key   uint64
	start int
	end   int
}

// entry is one line before the lines are arranged.
type entry struct {
	ref  int32 // index in g.events (and g.keys) or ds.Bad (and g.badKeys)
	kind uint8 // entryEvent, entryBad, entryDup
}

const (
	entryEvent uint8 = iota
	entryBad
	entryDup
)

func newGen(o Options) *gen {
	g := &gen{
		o:     o,
		r:     rand.New(rand.NewPCG(uint64(o.Seed), 0x1d11c)),
		svc:   rand.New(rand.NewPCG(uint64(o.Seed), 0x5e41ce)),
		ds:    &Dataset{Options: o},
		start: o.Start.Unix(),
		span:  int64(o.Days) * 86400,
		loc:   time.FixedZone("CST", 8*3600),
	}
	total := o.Events + o.BadEvents + o.Duplicates
	g.buf = make([]byte, 0, total*320) // lines average about 270 bytes
	g.entries = make([]entry, 0, total)
	g.events = make([]Event, 0, o.Events)
	g.keys = make([]evKey, 0, o.Events)
	g.docs = make([]Doc, 0, o.Events*2)
	g.attrs = make([]Attr, 0, o.Events*2)
	return g
}

// nextID returns a new event_id and its sort key. Sequence numbers are
// scrambled by an odd multiplier mod 2^40 (a bijection), so event_ids look
// random and ties in occurred_at are broken in no particular order, while
// the fixed-width hex keeps string order equal to key order.
func (g *gen) nextID() (string, uint64) {
	g.seq++
	k := (g.seq*0x9E3779B97F4A7C15 + uint64(g.o.Seed)*0xD1B54A32D192ED03) & (1<<40 - 1)
	var buf [64]byte
	b := append(buf[:0], g.o.IDPrefix...)
	const hex = "0123456789abcdef"
	for s := 36; s >= 0; s -= 4 {
		b = append(b, hex[k>>s&15])
	}
	return string(b), k
}

// arrange orders the lines (shuffled or chronological), fills ds.Lines,
// sorts ds.Events into application order and records line indexes.
func (g *gen) arrange() {
	ds := g.ds
	for i := range g.keys {
		g.entries = append(g.entries, entry{kind: entryEvent, ref: int32(i)})
	}
	if g.o.Chronological {
		key := func(e entry) (int64, uint64) {
			if e.kind == entryBad {
				k := g.badKeys[e.ref]
				return k.at, k.key
			}
			k := g.keys[e.ref]
			return k.at, k.key
		}
		slices.SortStableFunc(g.entries, func(a, b entry) int {
			aa, ak := key(a)
			ba, bk := key(b)
			return cmp.Or(cmp.Compare(aa, ba), cmp.Compare(ak, bk))
		})
	} else {
		g.r.Shuffle(len(g.entries), func(i, j int) { g.entries[i], g.entries[j] = g.entries[j], g.entries[i] })
	}

	for i := range g.events {
		g.events[i].Line = -1
	}
	ds.Lines = make([][]byte, len(g.entries))
	for i, e := range g.entries {
		switch e.kind {
		case entryBad:
			k := g.badKeys[e.ref]
			ds.Lines[i] = g.buf[k.start:k.end:k.end]
			ds.Bad[e.ref].Line = i
		default:
			k := g.keys[e.ref]
			ds.Lines[i] = g.buf[k.start:k.end:k.end]
			ev := &g.events[e.ref]
			if ev.Line < 0 {
				ev.Line = i
			} else {
				ds.Duplicates = append(ds.Duplicates, Duplicate{Line: i, EventID: ev.ID})
			}
		}
	}
	g.entries = nil
	slices.SortFunc(ds.Bad, func(a, b BadLine) int { return cmp.Compare(a.Line, b.Line) })

	// Events in application order: sort the keys, then apply the
	// permutation in place, one cycle at a time.
	type ord struct {
		at  int64
		key uint64
		idx int32
	}
	order := make([]ord, len(g.events))
	for i, k := range g.keys {
		order[i] = ord{k.at, k.key, int32(i)}
	}
	g.keys = nil
	slices.SortFunc(order, func(a, b ord) int {
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.key, b.key))
	})
	// Position i must receive the event now at order[i].idx.
	for i := range order {
		if order[i].idx < 0 {
			continue
		}
		tmp := g.events[i]
		j := i
		for {
			src := int(order[j].idx)
			order[j].idx = -1
			if src == i {
				g.events[j] = tmp
				break
			}
			g.events[j] = g.events[src]
			j = src
		}
	}
	ds.Events = g.events
	g.events = nil
}

// rawDoc is a document as written on a line. typ is a string so that bad
// lines can name unknown types.
type rawDoc struct {
	typ   string
	num   string // normalised number (or a deliberately bad one)
	style uint8
	issue uint8 // issue count appended when style has stSuffix
	doc   Doc   // ground truth
}

// Number styles, to exercise normalisation.
const (
	stLower    uint8 = 1 << iota // lower-case letters
	stBrackets                   // check character in brackets (HKID, Macao ID)
	stSuffix                     // 2-digit issue count (travel permits)
	stSpaces                     // spaces between groups
	stDash                       // dash before the issue count / between groups
)

// draft is an event being built; encode writes it out.
type draft struct {
	id       string
	key      uint64
	noID     bool
	typ      string
	agency   string
	at       int64 // unix seconds
	noOffset bool
	region   string
	name     string
	birth    string
	docs     []rawDoc
	attrs    []Attr
	person   int
	other    int
	conflict ConflictKind
	backbone bool
	mistaken bool
	retracts string
	truncate bool // cut the encoded line short at a random byte
}

// newDraft resets the shared draft for an event of type typ from agency
// about person p at time at (seconds from the start).
func (g *gen) newDraft(typ, agency string, p int, at int64) *draft {
	d := &g.d
	docs, attrs := d.docs[:0], d.attrs[:0]
	*d = draft{typ: typ, agency: agency, at: g.start + at, person: p, other: -1, docs: docs, attrs: attrs}
	d.id, d.key = g.nextID()
	return d
}

// emitEvent encodes d as a valid event and records its ground truth.
func (g *gen) emitEvent(d *draft) int {
	start, end := g.encode(d)
	docs0 := len(g.docs)
	for _, x := range d.docs {
		g.docs = append(g.docs, x.doc)
	}
	attrs0 := len(g.attrs)
	g.attrs = append(g.attrs, d.attrs...)
	g.events = append(g.events, Event{
		ID:         d.id,
		Type:       d.typ,
		Agency:     d.agency,
		OccurredAt: time.Unix(d.at, 0).In(g.loc),
		Region:     d.region,
		BirthDate:  d.birth,
		Person:     d.person,
		Other:      d.other,
		Docs:       g.docs[docs0:len(g.docs):len(g.docs)],
		Attrs:      g.attrs[attrs0:len(g.attrs):len(g.attrs)],
		Retracts:   d.retracts,
		Backbone:   d.backbone,
		Mistaken:   d.mistaken,
		Conflict:   d.conflict,
	})
	g.keys = append(g.keys, evKey{at: d.at, key: d.key, start: start, end: end})
	return len(g.events) - 1
}

// encode appends d as one JSON object to g.buf and returns its span.
func (g *gen) encode(d *draft) (int, int) {
	b := g.buf
	start := len(b)
	b = append(b, '{')
	if !d.noID {
		b = append(b, `"event_id":`...)
		b = appendString(b, d.id)
		b = append(b, ',')
	}
	b = append(b, `"type":`...)
	b = appendString(b, d.typ)
	b = append(b, `,"agency":`...)
	b = appendString(b, d.agency)
	b = append(b, `,"occurred_at":"`...)
	b = appendTime(b, d.at, d.noOffset)
	b = append(b, '"')
	if d.region != "" {
		b = append(b, `,"region":`...)
		b = appendString(b, d.region)
	}
	if d.name != "" || d.birth != "" {
		b = append(b, `,"person":{`...)
		if d.name != "" {
			b = append(b, `"name":`...)
			b = appendString(b, d.name)
		}
		if d.birth != "" {
			if d.name != "" {
				b = append(b, ',')
			}
			b = append(b, `"birth_date":`...)
			b = appendString(b, d.birth)
		}
		b = append(b, '}')
	}
	b = append(b, `,"documents":[`...)
	for i, x := range d.docs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"type":`...)
		b = appendString(b, x.typ)
		b = append(b, `,"number":"`...)
		b = appendNumber(b, x)
		b = append(b, `"}`...)
	}
	b = append(b, ']')
	if len(d.attrs) > 0 {
		b = append(b, `,"attrs":{`...)
		for i, a := range d.attrs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, a.Key)
			b = append(b, ':')
			b = appendString(b, a.Value)
		}
		b = append(b, '}')
	}
	b = append(b, '}')
	if d.truncate {
		b = b[:start+1+g.r.IntN(len(b)-start-1)]
	}
	g.buf = b
	return start, len(b)
}

// appendString appends s as a JSON string.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendTime appends unix seconds t as RFC 3339 in +08:00.
func appendTime(b []byte, t int64, noOffset bool) []byte {
	u := time.Unix(t+8*3600, 0).UTC()
	y, mo, d := u.Date()
	h, mi, s := u.Clock()
	b = appendPad(b, y, 4)
	b = append(b, '-')
	b = appendPad(b, int(mo), 2)
	b = append(b, '-')
	b = appendPad(b, d, 2)
	b = append(b, 'T')
	b = appendPad(b, h, 2)
	b = append(b, ':')
	b = appendPad(b, mi, 2)
	b = append(b, ':')
	b = appendPad(b, s, 2)
	if !noOffset {
		b = append(b, "+08:00"...)
	}
	return b
}

// appendNumber appends the number of x written in x's style.
func appendNumber(b []byte, x rawDoc) []byte {
	n := x.num
	start := len(b)
	switch documents.Type(x.typ) {
	case documents.HKID, documents.MacaoID:
		if x.style&stSpaces != 0 && len(n) > 4 {
			b = append(b, n[:len(n)-4]...)
			b = append(b, ' ')
			n = n[len(n)-4:]
		}
		if x.style&stBrackets != 0 {
			b = append(b, n[:len(n)-1]...)
			b = append(b, '(', n[len(n)-1], ')')
		} else {
			b = append(b, n...)
		}
	case documents.ResidencePermit, documents.MainlandID:
		if x.style&stSpaces != 0 && len(n) == 18 {
			b = append(b, n[:6]...)
			b = append(b, ' ')
			b = append(b, n[6:14]...)
			b = append(b, ' ')
			b = append(b, n[14:]...)
		} else {
			b = append(b, n...)
		}
	case documents.MainlandTravelPermit, documents.TaiwanTravelPermit:
		if x.style&stSpaces != 0 && len(n) >= 8 {
			b = append(b, n[:len(n)-4]...)
			b = append(b, ' ')
			b = append(b, n[len(n)-4:]...)
		} else {
			b = append(b, n...)
		}
		if x.style&stSuffix != 0 {
			if x.style&stDash != 0 {
				b = append(b, '-')
			}
			b = appendPad(b, int(x.issue), 2)
		}
	default:
		b = append(b, n...)
	}
	if x.style&stLower != 0 {
		for i := start; i < len(b); i++ {
			if c := b[i]; 'A' <= c && c <= 'Z' {
				b[i] = c + 'a' - 'A'
			}
		}
	}
	return b
}
