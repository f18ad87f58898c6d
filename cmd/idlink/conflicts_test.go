package main

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/idlink/idlink/analytics"
)

// TestConflictsAgree checks on the real stack that `idlink conflicts`, the
// analysts' conflicts_now view and `idlink lookup` tell one story after a
// retraction re-decides: an event held while the withdrawn link stood is
// applied now (it leaves the list), another stays held.
func TestConflictsAgree(t *testing.T) {
	c, cfg := newCLI(t)
	r0, r2, r4 := gb("81000019900211001"), gb("82000019900211002"), gb("83000019900211003")
	ev := func(id, at, docs string) string {
		return `{"event_id":"` + id + `","type":"identity.verified","agency":"platform","occurred_at":"2025-03-0` + at + `T09:00:00+08:00","documents":[` + docs + `],"attrs":{"relying_party":"bank","outcome":"passed"}}`
	}
	d := func(typ, n string) string { return `{"type":"` + typ + `","number":"` + n + `"}` }
	lines := []string{
		ev("c1", "1", d("residence_permit", r0)+","+d("mainland_travel_permit", "H12345678")),
		ev("c2", "2", d("residence_permit", r2)+","+d("mainland_travel_permit", "H12345678")), // held while c1 stands
		ev("c3", "3", d("hkid", "A123456(3)")+","+d("passport", "P7654321")),
		ev("c4", "4", d("passport", "P7654321")+","+d("mainland_travel_permit", "H12345678")),
		ev("c5", "5", d("residence_permit", r4)+","+d("passport", "P7654321")), // held either way
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run := func(lines ...string) {
		t.Helper()
		if _, stderr, code := c.run(ctx, "produce", "--file", writeEvents(t, c.dir, lines...)); code != 0 {
			t.Fatalf("produce exit %d: %s", code, stderr)
		}
		if _, stderr, code := c.run(ctx, "run", "--exit-when-idle"); code != 0 {
			t.Fatalf("run exit %d: %s", code, stderr)
		}
	}
	store, err := analytics.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	held := func() (cli, view []string) {
		t.Helper()
		out, stderr, code := c.run(ctx, "conflicts", "--json")
		var list []struct {
			EventID string `json:"event_id"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &list) != nil {
			t.Fatalf("conflicts: exit %d %q %s", code, out, stderr)
		}
		for _, x := range list {
			cli = append(cli, x.EventID)
		}
		rows, err := store.Conn().Query(ctx, "SELECT event_id FROM conflicts_now ORDER BY event_id")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			view = append(view, id)
		}
		slices.Sort(cli)
		return cli, view
	}
	person := func(typ, n string) string {
		out, _, code := c.run(ctx, "lookup", "--doc-type", typ, "--number", n, "--json")
		var v struct {
			PersonID string `json:"person_id"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil {
			t.Fatalf("lookup %s: exit %d %q", typ, code, out)
		}
		return v.PersonID
	}

	run(lines...)
	if cli, view := held(); !slices.Equal(cli, []string{"c2", "c5"}) || !slices.Equal(view, cli) {
		t.Fatalf("before the retraction: conflicts %v, conflicts_now %v; want [c2 c5] in both", cli, view)
	}
	run(`{"event_id":"c6","type":"link.retracted","agency":"platform","occurred_at":"2025-03-06T09:00:00+08:00","documents":[],"attrs":{"retracts":"c1"}}`)
	if cli, view := held(); !slices.Equal(cli, []string{"c5"}) || !slices.Equal(view, cli) {
		t.Fatalf("after the retraction: conflicts %v, conflicts_now %v; want [c5] in both", cli, view)
	}
	if person("residence_permit", r2) != person("mainland_travel_permit", "H12345678") || person("residence_permit", r0) == person("residence_permit", r2) {
		t.Fatal("lookup: c2 should have applied once c1 was withdrawn")
	}
	if person("residence_permit", r4) == person("passport", "P7654321") {
		t.Fatal("lookup: c5 is held, yet its documents are one person")
	}
}
