package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestWhyAndRetract is a reviewer's round on the real stack: why says which
// events made a person and which chain links two documents; retract
// withdraws the wrong link through the producer; why then shows it
// withdrawn and the person split.
func TestWhyAndRetract(t *testing.T) {
	c, _ := newCLI(t)
	rp := gb("81000019900211001")
	lines := []string{
		`{"event_id":"w1","type":"residence_permit.issued","agency":"mps","occurred_at":"2025-03-01T09:00:00+08:00","documents":[{"type":"residence_permit","number":"` + rp + `"},{"type":"mainland_travel_permit","number":"H12345678"}]}`,
		`{"event_id":"w2","type":"identity.verified","agency":"platform","occurred_at":"2025-03-02T09:00:00+08:00","documents":[{"type":"mainland_travel_permit","number":"H12345678"},{"type":"passport","number":"P7654321"}],"attrs":{"relying_party":"bank","outcome":"passed"}}`,
		`{"event_id":"w3","type":"insurance.enrolled","agency":"nhsa","occurred_at":"2025-03-03T09:00:00+08:00","documents":[{"type":"passport","number":"P7654321"},{"type":"hkid","number":"A123456(3)"}],"attrs":{"scheme":"employee"}}`,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, stderr, code := c.run(ctx, "produce", "--file", writeEvents(t, c.dir, lines...)); code != 0 {
		t.Fatalf("produce exit %d: %s", code, stderr)
	}
	resolve := func() {
		if _, stderr, code := c.run(ctx, "run", "--only", "resolver", "--exit-when-idle"); code != 0 {
			t.Fatalf("run exit %d: %s", code, stderr)
		}
	}
	resolve()
	type step struct {
		EventID     string `json:"event_id"`
		Type        string
		Agency      string
		Did         string
		WithdrawnBy []string `json:"withdrawn_by"`
	}
	why := func(args ...string) (map[string]json.RawMessage, int, string) {
		out, stderr, code := c.run(ctx, append([]string{"why", "--json"}, args...)...)
		if code != 0 {
			return nil, code, stderr
		}
		var v map[string]json.RawMessage
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("why printed %q: %v", out, err)
		}
		return v, 0, stderr
	}
	steps := func(raw json.RawMessage) []step {
		var s []step
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	said := func(ss []step) string {
		var b []string
		for _, s := range ss {
			b = append(b, s.EventID+":"+s.Did)
		}
		return strings.Join(b, " ")
	}

	x, code, stderr := why("--doc-type", "residence_permit", "--number", rp)
	if code != 0 {
		t.Fatalf("why exit %d: %s", code, stderr)
	}
	if got := said(steps(x["events"])); got != "w1:created w2:linked w3:linked" {
		t.Fatalf("why: %s", got)
	}
	if s := steps(x["events"])[1]; s.Type != "identity.verified" || s.Agency != "platform" {
		t.Fatalf("why's step w2: %+v", s)
	}
	if strings.Contains(string(x["documents"]), rp) {
		t.Fatal("why printed a raw number")
	}
	p, code, _ := why("--doc-type", "residence_permit", "--number", rp, "--to-doc-type", "hkid", "--to-number", "A1234563")
	if code != 0 || string(p["same_person"]) != "true" || said(steps(p["chain"])) != "w1:created w2:linked w3:linked" {
		t.Fatalf("why pair: exit %d, %v", code, p)
	}

	out, stderr, code := c.run(ctx, "retract", "--event-id", "w2", "--reason", "wrong_document", "--agency", "platform")
	if code != 0 || !strings.Contains(out, "withdrawing w2") {
		t.Fatalf("retract exit %d: %s %s", code, out, stderr)
	}
	resolve()
	x, _, _ = why("--doc-type", "passport", "--number", "P7654321")
	ss := steps(x["events"])
	if said(ss) != "w2:withdrawn w3:linked" || len(ss[0].WithdrawnBy) != 1 || !strings.HasPrefix(ss[0].WithdrawnBy[0], "retract-") {
		t.Fatalf("why after the retraction: %+v", ss)
	}
	p, _, _ = why("--doc-type", "residence_permit", "--number", rp, "--to-doc-type", "hkid", "--to-number", "A1234563")
	var personIDs [2]string
	if err := json.Unmarshal(p["person_ids"], &personIDs); err != nil {
		t.Fatal(err)
	}
	if string(p["same_person"]) != "false" || string(p["apart"]) != `"withdrawn"` || said(steps(p["blocking"])) != "w2:withdrawn" || personIDs[0] == personIDs[1] {
		t.Fatalf("why pair after the retraction: %v", p)
	}
	// The other part can be explained by its person id.
	if x, code, _ := why("--person-id", personIDs[1]); code != 0 || said(steps(x["events"])) != "w2:withdrawn w3:linked" {
		t.Fatalf("why --person-id: exit %d %v", code, x)
	}

	// Running retract again is the same event; one for an unknown event waits.
	if out2, _, code := c.run(ctx, "retract", "--event-id", "w2", "--reason", "wrong_document", "--agency", "platform"); code != 0 || out2 != out {
		t.Fatalf("second retract: exit %d %q, want %q", code, out2, out)
	}
	if out, _, code := c.run(ctx, "retract", "--event-id", "not-seen-yet", "--reason", "wrong_document", "--agency", "nhsa"); code != 0 || !strings.Contains(out, "waits") {
		t.Fatalf("retract of an unknown event: exit %d %q", code, out)
	}
	resolve()
	if x, _, _ := why("--doc-type", "passport", "--number", "P7654321"); said(steps(x["events"])) != "w2:withdrawn w3:linked" {
		t.Fatalf("why after the repeated retraction: %s", x["events"])
	}

	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--doc-type", "passport", "--number", "Q0000001"}, 3, "unknown"},
		{[]string{"--person-id", "p-0000"}, 3, "unknown person"},
		{[]string{"--doc-type", "residence_permit", "--number", "810000199002110010"}, 2, "not a valid residence_permit"},
		{[]string{"--doc-type", "ssn", "--number", "1"}, 2, "unknown --doc-type"},
		{[]string{"--doc-type", "passport", "--number", "P7654321", "--to-doc-type", "hkid"}, 2, "--to-number"},
		{[]string{"--doc-type", "passport", "--number", "P7654321", "--to-doc-type", "hkid", "--to-number", "A1234564"}, 2, "--to-number is not a valid hkid"},
	} {
		if _, code, stderr := why(tt.args...); code != tt.code || !strings.Contains(stderr, tt.msg) {
			t.Errorf("why %v: exit %d %q, want %d and %q", tt.args, code, stderr, tt.code, tt.msg)
		}
	}
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--reason", "x", "--agency", "mps"}, "--event-id is required"},
		{[]string{"--event-id", "w1", "--agency", "mps"}, "--reason is required"},
		{[]string{"--event-id", "w1", "--reason", "x", "--agency", "police"}, "--agency"},
	} {
		if _, stderr, code := c.run(ctx, append([]string{"retract"}, tt.args...)...); code != 2 || !strings.Contains(stderr, tt.msg) {
			t.Errorf("retract %v: exit %d %q, want 2 and %q", tt.args, code, stderr, tt.msg)
		}
	}
}
