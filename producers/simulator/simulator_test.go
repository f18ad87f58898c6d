package simulator

import (
	"bytes"
	"cmp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/idlink/idlink/documents"
	"github.com/idlink/idlink/eventtypes"
	"github.com/idlink/idlink/producers"
)

// small is the dataset most tests share: big enough to hold every kind of
// line, small enough to validate with encoding/json.
func small(t testing.TB) *Dataset {
	t.Helper()
	return Generate(Options{Seed: 42, Persons: 1500, Events: 15000, BadEvents: 240, Duplicates: 150,
		Retractions: 120, Conflicts: 60})
}

func TestDeterminism(t *testing.T) {
	tests := []struct {
		name string
		a, b Options
		same bool
	}{
		{"same seed", Options{Seed: 3, Persons: 300}, Options{Seed: 3, Persons: 300}, true},
		{"defaults", Options{}, Options{Seed: 1}, true},
		{"different seed", Options{Seed: 3, Persons: 300}, Options{Seed: 4, Persons: 300}, false},
		{"different start", Options{Seed: 3, Persons: 300}, Options{Seed: 3, Persons: 300, Start: DefaultStart().Add(time.Hour)}, false},
		{"different prefix", Options{Seed: 3, Persons: 300}, Options{Seed: 3, Persons: 300, IDPrefix: "x-"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := Generate(tt.a).Bytes(), Generate(tt.b).Bytes()
			if got := bytes.Equal(a, b); got != tt.same {
				t.Fatalf("outputs equal = %v, want %v", got, tt.same)
			}
		})
	}
}

func TestWriteTo(t *testing.T) {
	ds := Generate(Options{Persons: 50})
	var buf bytes.Buffer
	n, err := ds.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(buf.Len()) || !bytes.Equal(buf.Bytes(), ds.Bytes()) {
		t.Fatalf("WriteTo wrote %d bytes, differing from Bytes (%d)", n, len(ds.Bytes()))
	}
	if got := bytes.Count(buf.Bytes(), []byte("\n")); got != len(ds.Lines) {
		t.Fatalf("%d newlines for %d lines", got, len(ds.Lines))
	}
}

func TestDefaults(t *testing.T) {
	o := Options{}.WithDefaults()
	want := Options{Seed: 1, Persons: 2000, Events: 20000, BadEvents: 200, Duplicates: 200,
		Retractions: 100, Conflicts: 40, Start: DefaultStart(), Days: 90, IDPrefix: "s1-"}
	if !o.Start.Equal(want.Start) {
		t.Fatalf("WithDefaults().Start = %v, want %v", o.Start, want.Start)
	}
	o.Start = want.Start
	if o != want {
		t.Fatalf("WithDefaults() = %+v, want %+v", o, want)
	}
	if o := (Options{BadEvents: -1, Duplicates: -1, Retractions: -1, Conflicts: -1}).WithDefaults(); o.BadEvents != 0 || o.Duplicates != 0 || o.Retractions != 0 || o.Conflicts != 0 {
		t.Fatalf("negative counts: %+v", o)
	}
	ds := Generate(Options{Persons: 100, BadEvents: -1, Duplicates: -1, Retractions: -1, Conflicts: -1})
	if len(ds.Bad)+len(ds.Duplicates) != 0 || len(ds.Lines) != len(ds.Events) {
		t.Fatalf("asked for no special lines, got %d bad, %d duplicates", len(ds.Bad), len(ds.Duplicates))
	}
	for _, e := range ds.Events {
		if e.Type == producers.TypeLinkRetracted || e.Conflict != NoConflict || e.Mistaken {
			t.Fatalf("asked for no retractions or conflicts, got %+v", e)
		}
	}
}

func TestCounts(t *testing.T) {
	ds := small(t)
	o := ds.Options
	if len(ds.Events) != o.Events {
		t.Errorf("%d events, want %d", len(ds.Events), o.Events)
	}
	if len(ds.Bad) != o.BadEvents || len(ds.Duplicates) != o.Duplicates {
		t.Errorf("%d bad lines, %d duplicates; want %d, %d", len(ds.Bad), len(ds.Duplicates), o.BadEvents, o.Duplicates)
	}
	if want := len(ds.Events) + len(ds.Bad) + len(ds.Duplicates); len(ds.Lines) != want {
		t.Errorf("%d lines, want %d", len(ds.Lines), want)
	}
	var retractions, conflicts int
	for _, e := range ds.Events {
		if e.Type == producers.TypeLinkRetracted {
			retractions++
		}
		if e.Conflict != NoConflict {
			conflicts++
		}
	}
	if retractions != o.Retractions || conflicts != o.Conflicts {
		t.Errorf("%d retractions, %d conflicts; want %d, %d", retractions, conflicts, o.Retractions, o.Conflicts)
	}
	if len(ds.Persons) != o.Persons {
		t.Errorf("%d persons, want %d", len(ds.Persons), o.Persons)
	}
}

// TestLinesAccounted checks that every line is exactly one of: the first
// line of a valid event, a duplicate, a bad line.
func TestLinesAccounted(t *testing.T) {
	ds := small(t)
	owner := make([]string, len(ds.Lines))
	claim := func(i int, what string) {
		t.Helper()
		if owner[i] != "" {
			t.Fatalf("line %d claimed by %s and %s", i, owner[i], what)
		}
		owner[i] = what
	}
	ids := ds.Index()
	for _, e := range ds.Events {
		claim(e.Line, "event "+e.ID)
	}
	for _, d := range ds.Duplicates {
		claim(d.Line, "duplicate of "+d.EventID)
		e := ds.Events[ids[d.EventID]]
		if !bytes.Equal(ds.Lines[d.Line], ds.Lines[e.Line]) {
			t.Errorf("duplicate line %d differs from line %d", d.Line, e.Line)
		}
		if d.Line < e.Line {
			t.Errorf("duplicate line %d comes before the first line %d", d.Line, e.Line)
		}
	}
	for _, b := range ds.Bad {
		claim(b.Line, "bad line")
		if _, dup := ids[b.EventID]; dup {
			t.Errorf("bad line %d reuses event_id %s of a valid event", b.Line, b.EventID)
		}
	}
	for i, o := range owner {
		if o == "" {
			t.Fatalf("line %d is unaccounted for", i)
		}
	}
	if len(ids) != len(ds.Events) {
		t.Fatalf("%d distinct event_ids for %d events", len(ids), len(ds.Events))
	}
}

// TestValidLines runs every valid line through the producer's own parser
// and validator and compares the result with the ground truth.
func TestValidLines(t *testing.T) {
	ds := small(t)
	ps := producers.NewPseudonymizer([]byte("k"))
	styled := 0
	for i := range ds.Events {
		e := &ds.Events[i]
		line := ds.Lines[e.Line]
		in, rj := producers.Parse(line)
		if rj != nil {
			t.Fatalf("event %s: Parse: %v\n%s", e.ID, rj, line)
		}
		ev, rj := producers.Validate(in, ps)
		if rj != nil {
			t.Fatalf("event %s: Validate: %v\n%s", e.ID, rj, line)
		}
		if ev.EventID != e.ID || ev.Type != e.Type || ev.Agency != e.Agency || !ev.OccurredAt.Equal(e.OccurredAt) ||
			ev.Region != e.Region || ev.BirthDate != e.BirthDate {
			t.Fatalf("event %s: producer saw %+v, ground truth %+v", e.ID, ev, e)
		}
		if _, off := ev.OccurredAt.Zone(); off != 8*3600 {
			t.Fatalf("event %s: occurred_at offset %ds, want +08:00", e.ID, off)
		}
		if len(ev.Documents) != len(e.Docs) {
			t.Fatalf("event %s: %d documents, ground truth %d", e.ID, len(ev.Documents), len(e.Docs))
		}
		for j, d := range e.Docs {
			if got, want := ev.Documents[j], ps.Token(d.Type, d.Number); got.Type != string(d.Type) || got.Token != want {
				t.Fatalf("event %s: document %d is %s/%s, want %s/%s", e.ID, j, got.Type, got.Token, d.Type, want)
			}
			if in.Documents[j].Number != d.Number {
				styled++
			}
		}
		if len(ev.Attrs) != len(e.Attrs) {
			t.Fatalf("event %s: attrs %v, ground truth %v", e.ID, ev.Attrs, e.Attrs)
		}
		for _, a := range e.Attrs {
			if ev.Attrs[a.Key] != a.Value {
				t.Fatalf("event %s: attrs %v, ground truth %v", e.ID, ev.Attrs, e.Attrs)
			}
		}
	}
	if styled == 0 {
		t.Error("no document number needs normalising")
	}
}

func TestBadLines(t *testing.T) {
	ds := small(t)
	ps := producers.NewPseudonymizer([]byte("k"))
	seen := map[Fault]int{}
	for _, b := range ds.Bad {
		line := ds.Lines[b.Line]
		in, rj := producers.Parse(line)
		if rj == nil {
			_, rj = producers.Validate(in, ps)
		}
		if rj == nil {
			t.Fatalf("bad line %d (%s) was accepted:\n%s", b.Line, b.Fault, line)
		}
		if rj.Reason != b.Reason || b.Reason != b.Fault.Reason() || b.Reason == "" {
			t.Fatalf("bad line %d (%s): rejected as %s, want %s:\n%s", b.Line, b.Fault, rj.Reason, b.Reason, line)
		}
		if b.Fault != FaultMalformedJSON && rj.EventID != b.EventID {
			t.Fatalf("bad line %d (%s): event_id %q, want %q", b.Line, b.Fault, rj.EventID, b.EventID)
		}
		seen[b.Fault]++
	}
	for _, f := range Faults() {
		if seen[f] == 0 {
			t.Errorf("no bad line with fault %s", f)
		}
	}
}

// TestExpectedProduce checks the counts `idlink produce --json` should give
// against the producer library's own verdicts.
func TestExpectedProduce(t *testing.T) {
	ds := small(t)
	ps := producers.NewPseudonymizer([]byte("k"))
	got := Produced{Reasons: map[string]int{}}
	accepted := map[string]bool{}
	for _, line := range ds.Lines {
		in, rj := producers.Parse(line)
		if rj == nil {
			_, rj = producers.Validate(in, ps)
		}
		if rj != nil {
			got.Rejected++
			got.Reasons[rj.Reason]++
			continue
		}
		accepted[in.EventID] = true
	}
	got.Accepted = len(accepted)
	want := ds.ExpectedProduce()
	if got.Accepted != want.Accepted || got.Rejected != want.Rejected || len(got.Reasons) != len(want.Reasons) {
		t.Fatalf("producer: %+v, ExpectedProduce: %+v", got, want)
	}
	for r, n := range want.Reasons {
		if got.Reasons[r] != n {
			t.Fatalf("producer: %+v, ExpectedProduce: %+v", got, want)
		}
	}
}

func TestMix(t *testing.T) {
	ds := small(t)
	types := map[string]int{}
	agencies := map[string]map[string]bool{}
	attr := map[string]map[string]bool{}
	docTypes := map[documents.Type]bool{}
	kinds := map[Kind]bool{}
	for _, p := range ds.Persons {
		kinds[p.Kind] = true
	}
	note := func(m map[string]map[string]bool, k, v string) {
		if m[k] == nil {
			m[k] = map[string]bool{}
		}
		m[k][v] = true
	}
	for _, e := range ds.Events {
		types[e.Type]++
		note(agencies, e.Type, e.Agency)
		for _, a := range e.Attrs {
			if a.Key != "retracts" {
				note(attr, e.Type+" "+a.Key, a.Value)
			}
		}
		for _, d := range e.Docs {
			docTypes[d.Type] = true
		}
	}
	for _, typ := range eventtypes.Names() {
		if types[typ] == 0 {
			t.Errorf("no %s event", typ)
		}
	}
	for _, dt := range documents.Types() {
		if !docTypes[dt] {
			t.Errorf("no %s document", dt)
		}
	}
	for k := HongKong; k <= Mainland; k++ {
		if !kinds[k] {
			t.Errorf("no person of kind %s", k)
		}
	}
	wantValues := []struct{ key, value string }{
		{producers.TypeCodeActivated + " channel", "online"},
		{producers.TypeCodeActivated + " channel", "offline"},
		{producers.TypeInsuranceEnrolled + " scheme", "urban_rural"},
		{producers.TypeInsuranceEnrolled + " scheme", "employee"},
		{producers.TypeIdentityVerified + " outcome", "passed"},
		{producers.TypeIdentityVerified + " outcome", "rejected"},
		{producers.TypeIdentityVerified + " reason", "document_type_not_supported"},
		{producers.TypeIdentityVerified + " relying_party", "alipay"},
		{producers.TypeIdentityVerified + " relying_party", "12306"},
		{producers.TypeResidencePermitRevoked + " reason", "renounced"},
		{producers.TypeIdentityVerified + " relying_party", "nhsa_app"},
		{producers.TypeSocialSecurityCardIssued + " form", "electronic"},
		{producers.TypeSocialSecurityCardIssued + " form", "physical"},
		{producers.TypeSocialSecurityCardIssued + " channel", "wechat"},
		{producers.TypeSocialSecurityCardIssued + " channel", "alipay"},
		{producers.TypeSocialSecurityCardIssued + " channel", "state_council_app"},
		{producers.TypeSocialSecurityCardIssued + " channel", "counter"},
		{producers.TypeDriverQualificationRegistered + " outcome", "accepted"},
		{producers.TypeDriverQualificationRegistered + " outcome", "rejected"},
		{producers.TypeDriverQualificationRegistered + " reason", "document_type_not_supported"},
		{producers.TypeInsuranceOffsiteFiled + " outcome", "accepted"},
		{producers.TypeInsuranceOffsiteFiled + " outcome", "rejected"},
		{producers.TypeInsuranceOffsiteFiled + " reason", "document_type_not_supported"},
	}
	for _, w := range wantValues {
		if !attr[w.key][w.value] {
			t.Errorf("no %s = %s", w.key, w.value)
		}
	}
	for _, a := range eventtypes.Agencies() {
		if !agencies[producers.TypeIdentityVerified][a] {
			t.Errorf("identity.verified agencies %v, want every agency", agencies[producers.TypeIdentityVerified])
		}
	}
	if len(agencies[producers.TypeLinkRetracted]) < 3 {
		t.Errorf("link.retracted agencies %v, want several", agencies[producers.TypeLinkRetracted])
	}
}

// TestChannels checks the modelled behaviour: residence-permit holders
// activate offline more often than others.
func TestChannels(t *testing.T) {
	ds := small(t)
	var off, all [2]int
	for _, e := range ds.Events {
		if e.Type != producers.TypeCodeActivated {
			continue
		}
		rp := 0
		if e.Docs[0].Type == documents.ResidencePermit {
			rp = 1
		}
		all[rp]++
		if e.Attr("channel") == "offline" {
			off[rp]++
		}
	}
	if all[0] == 0 || all[1] == 0 || off[1]*all[0] <= off[0]*all[1] {
		t.Fatalf("offline share: residence permits %d/%d, others %d/%d; want residence permits higher", off[1], all[1], off[0], all[0])
	}
}

// TestServices checks the modelled services: each new event type is a small
// share of all events, and residence permits are rejected far more often
// than other documents at the services where they fail.
func TestServices(t *testing.T) {
	ds := small(t)
	count := map[string]int{}
	// rejected[type][is a residence permit] and all[...], rejections for
	// the document type only.
	rejected, all := map[string]*[2]int{}, map[string]*[2]int{}
	byParty := map[string]*[2]int{} // agency services' verifications of residence permits: rejected, all
	for _, e := range ds.Events {
		count[e.Type]++
		if e.Attr("outcome") == "" || len(e.Docs) == 0 {
			continue
		}
		rp := 0
		if e.Docs[0].Type == documents.ResidencePermit {
			rp = 1
		}
		if all[e.Type] == nil {
			all[e.Type], rejected[e.Type] = &[2]int{}, &[2]int{}
		}
		all[e.Type][rp]++
		if e.Attr("reason") == "document_type_not_supported" {
			rejected[e.Type][rp]++
		}
		if e.Type == producers.TypeIdentityVerified && e.Agency != "platform" && e.Agency != "nia" && rp == 1 {
			if byParty[e.Attr("relying_party")] == nil {
				byParty[e.Attr("relying_party")] = &[2]int{}
			}
			byParty[e.Attr("relying_party")][1]++
			if e.Attr("reason") == "document_type_not_supported" {
				byParty[e.Attr("relying_party")][0]++
			}
		}
	}
	n := len(ds.Events)
	for _, typ := range []string{producers.TypeSocialSecurityCardIssued, producers.TypeDriverQualificationRegistered, producers.TypeInsuranceOffsiteFiled} {
		if c := count[typ]; c*1000 < n*3 || c*1000 > n*30 {
			t.Errorf("%d %s events of %d, want 0.3%%-3%%", c, typ, n)
		}
	}
	for _, typ := range []string{producers.TypeDriverQualificationRegistered, producers.TypeInsuranceOffsiteFiled} {
		r, a := rejected[typ], all[typ]
		if a == nil || a[0] == 0 || a[1] == 0 || r[1]*a[0] <= 4*r[0]*a[1] {
			t.Errorf("%s: residence permits rejected %v of %v, others; want residence permits rejected over 4 times as often", typ, r, a)
		}
	}
	if a := byParty["nhsa_app"]; a == nil || a[0] == 0 {
		t.Errorf("nhsa_app never rejects a residence permit: %v", byParty)
	}
	// Physical cards are mostly issued at the counter, electronic ones in
	// apps.
	counter := map[string][2]int{}
	for _, e := range ds.Events {
		if e.Type == producers.TypeSocialSecurityCardIssued {
			c := counter[e.Attr("form")]
			c[1]++
			if e.Attr("channel") == "counter" {
				c[0]++
			}
			counter[e.Attr("form")] = c
		}
	}
	if e, p := counter["electronic"], counter["physical"]; e[0] != 0 || p[1] == 0 || p[0]*2 < p[1] {
		t.Errorf("social-security cards at the counter: electronic %v, physical %v", e, p)
	}
}

func TestTimes(t *testing.T) {
	ds := small(t)
	start := ds.Options.Start
	end := start.AddDate(0, 0, ds.Options.Days+30) // retractions may trail a little
	for i, e := range ds.Events {
		if e.OccurredAt.Before(start) || e.OccurredAt.After(end) {
			t.Fatalf("event %s at %s, outside %s..%s", e.ID, e.OccurredAt, start, end)
		}
		if i > 0 {
			p := ds.Events[i-1]
			if c := cmp.Or(e.OccurredAt.Compare(p.OccurredAt), cmp.Compare(e.ID, p.ID)); c <= 0 {
				t.Fatalf("Events not in (occurred_at, event_id) order at %d", i)
			}
		}
	}
}

func TestArrivalOrder(t *testing.T) {
	o := Options{Seed: 5, Persons: 300}
	shuffled := Generate(o)
	o.Chronological = true
	chrono := Generate(o)
	inOrder := func(ds *Dataset) bool {
		for i := range ds.Events {
			if i > 0 && ds.Events[i].Line < ds.Events[i-1].Line {
				return false
			}
		}
		return true
	}
	if inOrder(shuffled) {
		t.Error("shuffled dataset arrives in application order")
	}
	if !inOrder(chrono) {
		t.Error("chronological dataset does not arrive in application order")
	}
	a := slices.Clone(shuffled.Lines)
	b := slices.Clone(chrono.Lines)
	slices.SortFunc(a, bytes.Compare)
	slices.SortFunc(b, bytes.Compare)
	if !slices.EqualFunc(a, b, bytes.Equal) {
		t.Error("chronological and shuffled datasets hold different lines")
	}
}

func TestRetractions(t *testing.T) {
	ds := small(t)
	ids := ds.Index()
	var mistaken, redundant int
	for _, e := range ds.Events {
		if e.Type != producers.TypeLinkRetracted {
			if e.Mistaken && e.RetractedBy == "" {
				t.Errorf("mistaken link %s is never retracted", e.ID)
			}
			if e.RetractedBy != "" {
				r := ds.Events[ids[e.RetractedBy]]
				if r.Retracts != e.ID {
					t.Errorf("%s says it is retracted by %s, which retracts %q", e.ID, r.ID, r.Retracts)
				}
			}
			continue
		}
		if e.Attr("retracts") != e.Retracts || len(e.Docs) > 1 {
			t.Fatalf("retraction %s: attrs %v, %d documents", e.ID, e.Attrs, len(e.Docs))
		}
		i, ok := ids[e.Retracts]
		if !ok {
			t.Fatalf("retraction %s names unknown event %s", e.ID, e.Retracts)
		}
		target := ds.Events[i]
		switch {
		case !target.Links():
			t.Errorf("retraction %s targets %s, which links nothing", e.ID, target.ID)
		case !target.OccurredAt.Before(e.OccurredAt):
			t.Errorf("retraction %s at %s is not after its target at %s", e.ID, e.OccurredAt, target.OccurredAt)
		case target.RetractedBy != e.ID:
			t.Errorf("retraction %s: target says RetractedBy %q", e.ID, target.RetractedBy)
		case target.Backbone || target.Conflict != NoConflict || target.Type == producers.TypeLinkRetracted:
			t.Errorf("retraction %s targets backbone, conflict or retraction %+v", e.ID, target)
		}
		if target.Mistaken {
			mistaken++
		} else {
			redundant++
		}
	}
	if mistaken == 0 || redundant == 0 {
		t.Errorf("%d retractions of mistaken links, %d of redundant ones; want both", mistaken, redundant)
	}
	if len(ds.Duplicates) == 0 {
		t.Error("no duplicates")
	}
}

// TestReferenceResolver applies the events in order with a straightforward
// implementation of CONTRACT.md §2 and checks that exactly the intended
// conflicts are held back and the persons end up as ExpectedGroups, which are
// the documents of Persons.
func TestReferenceResolver(t *testing.T) {
	tests := []struct {
		name      string
		o         Options
		bothKinds bool
	}{
		{"small", Options{Seed: 42, Persons: 1500, Events: 15000, Retractions: 120, Conflicts: 60}, true},
		{"defaults", Options{}, true},
		{"many specials", Options{Seed: 9, Persons: 60, Events: 400, Retractions: 60, Conflicts: 40}, true},
		{"chronological", Options{Seed: 7, Persons: 200, Chronological: true, Conflicts: 10}, true},
		{"one person", Options{Seed: 3, Persons: 1, Retractions: 5, Conflicts: 5}, false},
		{"two persons", Options{Seed: 5, Persons: 2, Events: 50, Retractions: 5, Conflicts: 5}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := Generate(tt.o)
			conflicts, groups := resolve(ds.Events)
			var want []string
			kinds := map[ConflictKind]int{}
			for _, e := range ds.Events {
				if e.Conflict != NoConflict {
					want = append(want, e.ID)
					kinds[e.Conflict]++
				}
			}
			if tt.bothKinds && (kinds[ConflictSingleHolder] == 0 || kinds[ConflictBirthDate] == 0) {
				t.Errorf("conflicts by kind %v, want both kinds", kinds)
			}
			if !slices.Equal(conflicts, want) {
				t.Fatalf("reference resolver held back %d events %v,\nintended %d %v", len(conflicts), conflicts, len(want), want)
			}
			expected := ds.ExpectedGroups()
			if !slices.EqualFunc(groups, expected, slices.Equal) {
				t.Fatalf("reference resolver ends with %d persons, ExpectedGroups has %d", len(groups), len(expected))
			}
			var persons [][]Doc
			for _, p := range ds.Persons {
				g := slices.Clone(p.Docs)
				slices.SortFunc(g, compareDocs)
				persons = append(persons, g)
			}
			slices.SortFunc(persons, func(a, b []Doc) int { return compareDocs(a[0], b[0]) })
			if !slices.EqualFunc(persons, expected, slices.Equal) {
				t.Fatalf("ExpectedGroups (%d) differ from the population (%d)", len(expected), len(persons))
			}
		})
	}
}

// resolve is a deliberately simple identity resolver: union-find over the
// active evidence, rebuilt from scratch whenever a link is retracted.
func resolve(events []Event) (conflicts []string, groups [][]Doc) {
	type evidence struct {
		docs  []Doc
		birth string
	}
	active := map[string]evidence{}
	var order []string // evidence in application order, retracted included
	nodes := map[Doc]bool{}
	var (
		parent  map[Doc]Doc
		members map[Doc][]Doc
		births  map[Doc]map[string]bool
	)
	var find func(Doc) Doc
	find = func(d Doc) Doc {
		p := parent[d]
		if p == d {
			return d
		}
		r := find(p)
		parent[d] = r
		return r
	}
	addNode := func(d Doc) {
		if _, ok := parent[d]; ok {
			return
		}
		parent[d] = d
		members[d] = []Doc{d}
		births[d] = map[string]bool{}
		if d.Type == documents.ResidencePermit || d.Type == documents.MainlandID {
			births[d][d.Number[6:10]+"-"+d.Number[10:12]+"-"+d.Number[12:14]] = true
		}
	}
	apply := func(ev evidence) {
		r := find(ev.docs[0])
		for _, d := range ev.docs[1:] {
			if o := find(d); o != r {
				parent[o] = r
				members[r] = append(members[r], members[o]...)
				for b := range births[o] {
					births[r][b] = true
				}
				delete(members, o)
				delete(births, o)
			}
		}
		if ev.birth != "" {
			births[r][ev.birth] = true
		}
	}
	rebuild := func() {
		parent, members, births = map[Doc]Doc{}, map[Doc][]Doc{}, map[Doc]map[string]bool{}
		for d := range nodes {
			addNode(d)
		}
		for _, id := range order {
			if ev, ok := active[id]; ok {
				apply(ev)
			}
		}
	}
	rebuild()
	for _, e := range events {
		for _, d := range e.Docs {
			nodes[d] = true
			addNode(d)
		}
		if e.Type == producers.TypeLinkRetracted {
			delete(active, e.Retracts)
			rebuild()
			continue
		}
		if holdsBack(e, find, members, births) {
			conflicts = append(conflicts, e.ID)
			continue
		}
		ev := evidence{docs: e.Docs, birth: e.BirthDate}
		active[e.ID] = ev
		order = append(order, e.ID)
		apply(ev)
	}
	for _, m := range members {
		m = slices.Clone(m)
		slices.SortFunc(m, compareDocs)
		groups = append(groups, m)
	}
	slices.SortFunc(groups, func(a, b []Doc) int { return compareDocs(a[0], b[0]) })
	return conflicts, groups
}

// holdsBack reports whether applying e would leave one person with two
// numbers of a single-holder type or two birth dates.
func holdsBack(e Event, find func(Doc) Doc, members map[Doc][]Doc, births map[Doc]map[string]bool) bool {
	roots := map[Doc]bool{}
	for _, d := range e.Docs {
		roots[find(d)] = true
	}
	numbers := map[documents.Type]string{}
	dates := map[string]bool{}
	if e.BirthDate != "" {
		dates[e.BirthDate] = true
	}
	for r := range roots {
		for _, d := range members[r] {
			if !d.Type.SingleHolder() {
				continue
			}
			if n, ok := numbers[d.Type]; ok && n != d.Number {
				return true
			}
			numbers[d.Type] = d.Number
		}
		for b := range births[r] {
			dates[b] = true
		}
	}
	return len(dates) > 1
}

func TestExpectedGroupsSplitsMistakes(t *testing.T) {
	ds := small(t)
	groups := ds.ExpectedGroups()
	where := map[Doc]int{}
	for i, g := range groups {
		for _, d := range g {
			where[d] = i
		}
	}
	n := 0
	for _, e := range ds.Events {
		if !e.Mistaken {
			continue
		}
		n++
		if where[e.Docs[0]] == where[e.Docs[1]] {
			t.Errorf("mistaken link %s: its documents end up in one person", e.ID)
		}
		if e.Person == e.Other || e.Other < 0 {
			t.Errorf("mistaken link %s: persons %d and %d", e.ID, e.Person, e.Other)
		}
	}
	if n == 0 {
		t.Error("no mistaken links")
	}
}

func TestDocumentNumbers(t *testing.T) {
	ds := small(t)
	seen := map[Doc]int{}
	for i, p := range ds.Persons {
		for _, d := range p.Docs {
			if j, dup := seen[d]; dup {
				t.Fatalf("persons %d and %d both hold %s", j, i, d.Type)
			}
			seen[d] = i
			v, err := documents.Validate(d.Type, d.Number)
			if err != nil {
				t.Fatalf("person %d: %s: %v", i, d.Type, err)
			}
			if v.Number != d.Number {
				t.Fatalf("person %d: %s number is not normalised", i, d.Type)
			}
			if v.BirthDate != "" && v.BirthDate != p.BirthDate {
				t.Fatalf("person %d: embedded birth date %s, person born %s", i, v.BirthDate, p.BirthDate)
			}
		}
	}
}

func TestCheckCharacters(t *testing.T) {
	tests := []struct {
		name string
		got  byte
		want byte
	}{
		{"GB 11643 example", gbCheck([]byte("11010519491231002")), 'X'},
		{"residence permit", gbCheck([]byte("82000019900211001")), '3'},
		{"HKID A123456(3)", hkidCheck([]byte("A123456")), '3'},
		{"HKID two letters", hkidCheck([]byte("XA123456")), hkidTwo()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Fatalf("check char %c, want %c", tt.got, tt.want)
			}
		})
	}
}

// hkidTwo computes the check character of XA123456 by hand:
// X=33*9 + A=10*8 + 1*7+2*6+3*5+4*4+5*3+6*2 = 297+80+77 = 454; 454 mod 11 = 3;
// 11-3 = 8.
func hkidTwo() byte { return '8' }

func TestIDPrefixTooLong(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for a 49-byte IDPrefix")
		}
	}()
	Generate(Options{Persons: 1, IDPrefix: string(make([]byte, 49))})
}

func TestTinyPopulations(t *testing.T) {
	ps := producers.NewPseudonymizer([]byte("k"))
	for _, n := range []int{1, 2, 3, 10} {
		o := Options{Seed: int64(n), Persons: n, Events: 5, BadEvents: 12, Duplicates: 3, Retractions: 4, Conflicts: 2}
		ds := Generate(o)
		if len(ds.Events) < o.Events || ds.Options.Events != len(ds.Events) {
			t.Errorf("persons=%d: %d events, Options.Events %d, asked for %d", n, len(ds.Events), ds.Options.Events, o.Events)
		}
		for _, e := range ds.Events {
			in, rj := producers.Parse(ds.Lines[e.Line])
			if rj == nil {
				_, rj = producers.Validate(in, ps)
			}
			if rj != nil {
				t.Fatalf("persons=%d: event %s rejected: %v", n, e.ID, rj)
			}
		}
		if len(ds.Bad) != 12 {
			t.Errorf("persons=%d: %d bad lines, want 12", n, len(ds.Bad))
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	for _, events := range []int{100_000, 1_000_000} {
		b.Run(strconv.Itoa(events), func(b *testing.B) {
			var lines int
			for b.Loop() {
				ds := Generate(Options{Persons: events / 10, Events: events})
				lines = len(ds.Lines)
			}
			b.ReportMetric(float64(lines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
