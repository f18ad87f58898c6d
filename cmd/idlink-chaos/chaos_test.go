package main

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/idlink/idlink/documents"
	"github.com/idlink/idlink/producers"
	"github.com/idlink/idlink/producers/simulator"
)

func TestTruth(t *testing.T) {
	rp := simulator.Doc{Type: documents.ResidencePermit, Number: "rp1"}
	tp := simulator.Doc{Type: documents.MainlandTravelPermit, Number: "tp1"}
	hk := simulator.Doc{Type: documents.HKID, Number: "hk1"}
	pp := simulator.Doc{Type: documents.Passport, Number: "pp2"}
	rp3 := simulator.Doc{Type: documents.ResidencePermit, Number: "rp3"}
	attrs := func(kv ...string) []simulator.Attr {
		var out []simulator.Attr
		for i := 0; i < len(kv); i += 2 {
			out = append(out, simulator.Attr{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	ds := &simulator.Dataset{Events: []simulator.Event{
		{ID: "e1", Type: producers.TypeTravelPermitIssued, Docs: []simulator.Doc{tp, hk}},
		{ID: "e2", Type: producers.TypeResidencePermitIssued, Docs: []simulator.Doc{rp, tp}},
		// Two documents of one person and one type-less key: counts once
		// per type, one person.
		{ID: "e3", Type: producers.TypeCodeActivated, Docs: []simulator.Doc{rp, tp}, Attrs: attrs("channel", "offline")},
		{ID: "e4", Type: producers.TypeCodeActivated, Docs: []simulator.Doc{rp}, Attrs: attrs("channel", "offline")},
		// A mistaken link, retracted: still an enrolment, two persons.
		{ID: "e5", Type: producers.TypeInsuranceEnrolled, Docs: []simulator.Doc{hk, pp}, Mistaken: true, RetractedBy: "e6", Attrs: attrs("scheme", "employee")},
		{ID: "e6", Type: producers.TypeLinkRetracted, Retracts: "e5", Attrs: attrs("retracts", "e5")},
		// A held conflict: an event all the same, documents stay apart.
		{ID: "e7", Type: producers.TypeIdentityVerified, Docs: []simulator.Doc{rp3, tp}, Conflict: simulator.ConflictSingleHolder,
			Attrs: attrs("relying_party", "didi", "outcome", "rejected", "reason", "document_type_not_supported")},
		{ID: "e8", Type: producers.TypeIdentityVerified, Docs: []simulator.Doc{pp}, Attrs: attrs("relying_party", "didi", "outcome", "passed")},
	}}
	tr := newTruth(ds)
	if len(tr.groups) != 3 {
		t.Fatalf("groups %v, want {rp1 tp1 hk1} {pp2} {rp3}", tr.groups)
	}
	want := map[string]table{
		"activations-by-doc-type": {
			"residence_permit | offline":       {2, 1},
			"mainland_travel_permit | offline": {1, 1},
		},
		"enrollments-by-doc-type": {
			"hkid":     {1, 1},
			"passport": {1, 1},
		},
		"verifications": {
			"didi | residence_permit | rejected | document_type_not_supported":       {1},
			"didi | mainland_travel_permit | rejected | document_type_not_supported": {1},
			"didi | passport | passed | ":                                            {1},
		},
		"linked-persons": {"1": {2}, "3": {1}},
	}
	if !reflect.DeepEqual(tr.reports, want) {
		t.Fatalf("reports\n got %v\nwant %v", tr.reports, want)
	}
}

func TestCompare(t *testing.T) {
	spec := reportSpec{name: "r", keys: []string{"k"}, counts: []string{"events", "persons"}}
	want := table{"a": {3, 2}, "b": {1, 1}, "c": {5, 5}}
	got := table{"a": {3, 2}, "b": {2, 1}, "d": {4, 1}}
	d := compare(spec, want, got)
	// b differs (one event too many), c is missing, d is extra (4 events
	// that did not happen).
	if d.rows != 3 || d.overcount != 5 || len(d.lines) != 3 {
		t.Fatalf("compare = %+v, want 3 rows, overcount 5", d)
	}
	if d := compare(spec, want, want); d.rows != 0 || d.overcount != 0 {
		t.Fatalf("equal tables differ: %+v", d)
	}
}

func TestPlan(t *testing.T) {
	for seed := range uint64(20) {
		d := 90 * time.Second
		fs := plan(rand.New(rand.NewPCG(seed, 1)), d, 10, []string{"redis", "clickhouse", "kafka"})
		kills, svcs := 0, map[string]int{}
		for i, f := range fs {
			if f.at < 0 || f.at > d*9/10 {
				t.Fatalf("seed %d: fault at %s, outside the flow's first 90%%", seed, f.at)
			}
			if i > 0 && f.at < fs[i-1].at {
				t.Fatalf("seed %d: plan not in time order", seed)
			}
			if f.svc == "" {
				kills++
			} else {
				svcs[f.svc]++
			}
		}
		if kills != 10 || !reflect.DeepEqual(svcs, map[string]int{"redis": 1, "clickhouse": 1, "kafka": 1}) {
			t.Fatalf("seed %d: %d kills, restarts %v", seed, kills, svcs)
		}
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"-n", "20000", "-backpressure-seconds", "15"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o.n != 20000 || o.backpressure != 15*time.Second || o.duration != 90*time.Second || o.kills != 10 {
		t.Fatalf("options %+v", o)
	}
	if o, _ := parseFlags(nil, nil); o.n != 200000 || o.backpressure != time.Minute || o.duration != 200*time.Second || len(o.restarts) != 3 {
		t.Fatalf("defaults %+v", o)
	}
	if _, err := parseFlags([]string{"-n", "5"}, nil); err == nil {
		t.Fatal("-n 5 accepted")
	}
	if o, err := parseFlags([]string{"-restarts", "kafka, redis"}, nil); err != nil || !reflect.DeepEqual(o.restarts, []string{"kafka", "redis"}) {
		t.Fatalf("-restarts kafka, redis: %v %v", o, err)
	}
	if o, err := parseFlags([]string{"-restarts", ""}, nil); err != nil || len(o.restarts) != 0 {
		t.Fatalf("-restarts '': %v %v", o, err)
	}
	if _, err := parseFlags([]string{"-restarts", "postgres"}, nil); err == nil {
		t.Fatal("-restarts postgres accepted")
	}
}
