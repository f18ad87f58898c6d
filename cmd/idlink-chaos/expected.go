package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/producers"
	"github.com/idlink/idlink/producers/simulator"
)

// reportSpec says which columns of a report (CONTRACT.md §3) are its key and
// which are counts.
type reportSpec struct {
	name   string
	keys   []string
	counts []string
}

// reportSpecs are the four reports of `idlink stats`.
func reportSpecs() []reportSpec {
	return []reportSpec{
		{"activations-by-doc-type", []string{"doc_type", "channel"}, []string{"events", "persons"}},
		{"enrollments-by-doc-type", []string{"doc_type"}, []string{"events", "persons"}},
		{"verifications", []string{"relying_party", "doc_type", "outcome", "reason"}, []string{"events"}},
		{"linked-persons", []string{"doc_types"}, []string{"persons"}},
	}
}

// table is a report as key -> counts (in reportSpec.counts order). A key is
// the key columns' values joined by keySep.
type table map[string][]uint64

const keySep = " | "

// truth is the ground truth a chaos run is checked against, computed from
// the simulator's dataset alone.
type truth struct {
	groups  [][]simulator.Doc     // persons the resolver must end with
	groupOf map[simulator.Doc]int // document -> index in groups
	reports map[string]table      // report name -> expected rows
}

// newTruth computes the expected persons and report rows of a dataset.
//
// Reports follow CONTRACT.md §3: `events` counts distinct event_ids, an event
// naming several documents counts under each of their types (once per type),
// and `persons` counts distinct persons — here the expected groups — holding
// the documents the counted events name. Every valid event counts, held
// conflicts and later-retracted events included: they are events that
// happened (retraction withdraws links, not the event). linked-persons
// counts every expected person by the number of distinct document types it
// holds.
func newTruth(ds *simulator.Dataset) *truth {
	t := &truth{groups: ds.ExpectedGroups(), groupOf: map[simulator.Doc]int{}, reports: map[string]table{}}
	for i, g := range t.groups {
		for _, d := range g {
			t.groupOf[d] = i
		}
	}
	type acc struct {
		events  map[string]struct{}
		persons map[int]struct{}
	}
	accs := map[string]map[string]*acc{}
	add := func(report, key, event string, docs []simulator.Doc) {
		m := accs[report]
		if m == nil {
			m = map[string]*acc{}
			accs[report] = m
		}
		a := m[key]
		if a == nil {
			a = &acc{events: map[string]struct{}{}, persons: map[int]struct{}{}}
			m[key] = a
		}
		a.events[event] = struct{}{}
		for _, d := range docs {
			a.persons[t.groupOf[d]] = struct{}{}
		}
	}
	for i := range ds.Events {
		e := &ds.Events[i]
		// The documents of the event by type: the event counts once under
		// each type, with every person holding one of those documents.
		byType := map[string][]simulator.Doc{}
		for _, d := range e.Docs {
			byType[string(d.Type)] = append(byType[string(d.Type)], d)
		}
		for typ, docs := range byType {
			switch e.Type {
			case producers.TypeCodeActivated:
				add("activations-by-doc-type", join(typ, e.Attr("channel")), e.ID, docs)
			case producers.TypeInsuranceEnrolled:
				add("enrollments-by-doc-type", join(typ), e.ID, docs)
			case producers.TypeIdentityVerified:
				add("verifications", join(e.Attr("relying_party"), typ, e.Attr("outcome"), e.Attr("reason")), e.ID, docs)
			}
		}
	}
	for _, spec := range reportSpecs() {
		tb := table{}
		for key, a := range accs[spec.name] {
			row := []uint64{uint64(len(a.events))}
			if len(spec.counts) == 2 {
				row = append(row, uint64(len(a.persons)))
			}
			tb[key] = row
		}
		t.reports[spec.name] = tb
	}
	linked := table{}
	for _, g := range t.groups {
		types := map[string]bool{}
		for _, d := range g {
			types[string(d.Type)] = true
		}
		k := strconv.Itoa(len(types))
		if linked[k] == nil {
			linked[k] = []uint64{0}
		}
		linked[k][0]++
	}
	t.reports["linked-persons"] = linked
	return t
}

func join(parts ...string) string { return strings.Join(parts, keySep) }

// tableOf converts report rows as analytics.Store.Report returns them.
func tableOf(spec reportSpec, rows []analytics.Row) (table, error) {
	tb := table{}
	for _, r := range rows {
		var key []string
		for _, c := range spec.keys {
			key = append(key, fmt.Sprint(r.Get(c)))
		}
		var counts []uint64
		for _, c := range spec.counts {
			n, err := toUint(r.Get(c))
			if err != nil {
				return nil, fmt.Errorf("report %s column %s: %w", spec.name, c, err)
			}
			counts = append(counts, n)
		}
		k := join(key...)
		if _, dup := tb[k]; dup {
			return nil, fmt.Errorf("report %s has two rows for %s", spec.name, k)
		}
		tb[k] = counts
	}
	return tb, nil
}

func toUint(v any) (uint64, error) {
	switch n := v.(type) {
	case uint64:
		return n, nil
	case uint32:
		return uint64(n), nil
	case int64:
		if n >= 0 {
			return uint64(n), nil
		}
	case int:
		if n >= 0 {
			return uint64(n), nil
		}
	case float64:
		if n >= 0 && n == float64(uint64(n)) {
			return uint64(n), nil
		}
	}
	return 0, fmt.Errorf("not a count: %v (%T)", v, v)
}

// diff is how a report differs from the expected one.
type diff struct {
	// rows is the number of keys whose row differs, is missing or is extra.
	rows int
	// overcount is, over the count column "events", how many more events
	// the report counts than happened: the sum of max(0, got - want) per
	// key, a key the truth lacks counting all of its events. An event
	// counted twice (a replayed message counted again) shows up here.
	overcount uint64
	// lines describe the first differing rows.
	lines []string
}

// compare compares a report with its expected rows.
func compare(spec reportSpec, want, got table) diff {
	var d diff
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.Sort(sorted)
	events := slices.Index(spec.counts, "events")
	for _, k := range sorted {
		w, okw := want[k]
		g, okg := got[k]
		if events >= 0 && okg {
			var wantEvents uint64
			if okw {
				wantEvents = w[events]
			}
			if g[events] > wantEvents {
				d.overcount += g[events] - wantEvents
			}
		}
		if okw && okg && slices.Equal(w, g) {
			continue
		}
		d.rows++
		if len(d.lines) < 10 {
			d.lines = append(d.lines, fmt.Sprintf("%s [%s]: want %s, got %s", spec.name, k, describe(spec, w, okw), describe(spec, g, okg)))
		}
	}
	return d
}

func describe(spec reportSpec, counts []uint64, ok bool) string {
	if !ok {
		return "no row"
	}
	var parts []string
	for i, c := range spec.counts {
		parts = append(parts, fmt.Sprintf("%s=%d", c, counts[i]))
	}
	return strings.Join(parts, " ")
}
