package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idlink/idlink/internal/stacktest"
	"github.com/idlink/idlink/pipeline"
)

// gb appends the GB 11643 check character.
func gb(first17 string) string {
	w := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, x := range w {
		sum += int(first17[i]-'0') * x
	}
	return first17 + string("10X98765432"[sum%11])
}

type cli struct {
	t   *testing.T
	bin string
	env []string
	dir string
}

func (c *cli) run(ctx context.Context, args ...string) (string, string, int) {
	c.t.Helper()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env, cmd.Dir = c.env, c.dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("running idlink %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func newCLI(t *testing.T) (*cli, *pipeline.Config) {
	cfg := stacktest.Config(t)
	return &cli{t: t, bin: stacktest.Build(t), env: stacktest.Env(cfg), dir: t.TempDir()}, cfg
}

func writeEvents(t *testing.T, dir string, lines ...string) string {
	p := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// The resolver as two processes sharing one consumer group on the real stack.
func TestTwoResolverProcesses(t *testing.T) {
	c, _ := newCLI(t)
	rpA := gb("81000019900211001")
	rpA2 := gb("81000019900211002")
	rpB := gb("83000019851120003")
	lines := []string{
		`{"event_id":"a1","type":"residence_permit.issued","agency":"mps","occurred_at":"2025-03-01T09:00:00+08:00","person":{"birth_date":"1990-02-11"},"documents":[{"type":"residence_permit","number":"` + rpA + `"},{"type":"mainland_travel_permit","number":"H12345678"}]}`,
		`{"event_id":"a2","type":"identity.verified","agency":"platform","occurred_at":"2025-03-02T09:00:00+08:00","documents":[{"type":"mainland_travel_permit","number":"h1234567801"},{"type":"hkid","number":"A123456(3)"}],"attrs":{"relying_party":"bank","outcome":"passed"}}`,
		`{"event_id":"a3","type":"insurance.code_activated","agency":"nhsa","occurred_at":"2025-03-03T09:00:00+08:00","documents":[{"type":"residence_permit","number":"` + rpA2 + `"},{"type":"hkid","number":"A1234563"}],"attrs":{"channel":"offline"}}`,
		`{"event_id":"b1","type":"travel_permit.issued","agency":"nia","occurred_at":"2025-03-01T10:00:00+08:00","documents":[{"type":"taiwan_travel_permit","number":"12345678"},{"type":"residence_permit","number":"` + rpB + `"}]}`,
		`{"event_id":"b2","type":"insurance.enrolled","agency":"nhsa","occurred_at":"2025-03-04T10:00:00+08:00","documents":[{"type":"taiwan_travel_permit","number":"1234567802"},{"type":"passport","number":"P1234567"}],"attrs":{"scheme":"employee"}}`,
		`{"event_id":"b3","type":"link.retracted","agency":"nhsa","occurred_at":"2025-03-05T10:00:00+08:00","documents":[],"attrs":{"retracts":"b2"}}`,
		`{"event_id":"x1","type":"link.retracted","agency":"nhsa","occurred_at":"2025-03-05T10:00:00+08:00","documents":[],"attrs":{"retracts":"never-seen"}}`,
		`{"event_id":"bad","type":"residence_permit.issued","agency":"mps","occurred_at":"2025-03-01T09:00:00+08:00","documents":[{"type":"residence_permit","number":"810000199002110010"}]}`,
	}
	if rpA[17] == '0' {
		t.Fatal("test data: the bad line's check digit must differ")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, stderr, code := c.run(ctx, "produce", "--file", writeEvents(t, c.dir, lines...), "--json")
	if code != 0 {
		t.Fatalf("produce exit %d: %s", code, stderr)
	}
	var res struct {
		Accepted, Rejected int
		Reasons            map[string]int
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("produce --json printed %q: %v", out, err)
	}
	if res.Accepted != 7 || res.Rejected != 1 || res.Reasons["bad_check_digit"] != 1 {
		t.Fatalf("produce result %+v", res)
	}
	if !strings.Contains(stderr, ":8: rejected: bad_check_digit") {
		t.Fatalf("bad line not reported with its number: %q", stderr)
	}

	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, stderr, code := c.run(ctx, "run", "--only", "resolver", "--exit-when-idle"); code != 0 {
				t.Errorf("run exit %d: %s", code, stderr)
			}
		}()
	}
	wg.Wait()

	lookup := func(typ, number string) (map[string]any, int) {
		out, stderr, code := c.run(ctx, "lookup", "--doc-type", typ, "--number", number, "--json")
		if code != 0 {
			return nil, code
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("lookup printed %q (%s): %v", out, stderr, err)
		}
		return v, 0
	}
	a1, _ := lookup("residence_permit", rpA)
	a2, _ := lookup("hkid", "A123456(3)")
	a3, _ := lookup("residence_permit", rpA2)
	if a1 == nil || a2 == nil || a3 == nil {
		t.Fatal("a document is unknown after the run")
	}
	if a1["person_id"] != a2["person_id"] {
		t.Fatalf("travel permit chain not merged: %v vs %v", a1["person_id"], a2["person_id"])
	}
	if a1["person_id"] == a3["person_id"] {
		t.Fatal("a second residence permit was merged instead of held as a conflict")
	}
	if n := len(a1["documents"].([]any)); n != 3 || a1["events"].(float64) != 3 {
		t.Fatalf("person A: %v", a1)
	}
	for _, d := range a1["documents"].([]any) {
		if tok := d.(map[string]any)["token"].(string); len(tok) != 64 {
			t.Fatalf("token %q", tok)
		}
	}
	b1, _ := lookup("taiwan_travel_permit", "12345678")
	p, _ := lookup("passport", "P1234567")
	if b1 == nil || p == nil || b1["person_id"] == p["person_id"] {
		t.Fatalf("retracted link still holds: %v %v", b1, p)
	}
	if _, code := lookup("passport", "Q7654321"); code != 3 {
		t.Fatalf("unknown document: exit %d, want 3", code)
	}
	out, _, code = c.run(ctx, "conflicts", "--json")
	var conflicts []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &conflicts) != nil {
		t.Fatalf("conflicts: exit %d, %q", code, out)
	}
	if len(conflicts) != 1 || conflicts[0]["event_id"] != "a3" || conflicts[0]["reason"] != "conflicting_residence_permit" ||
		conflicts[0]["doc_type"] != "residence_permit" || conflicts[0]["person_id"] != a3["person_id"] || conflicts[0]["other_person_id"] != a1["person_id"] {
		t.Fatalf("conflicts %v; want a3 held between %v and %v over residence_permit", conflicts, a3["person_id"], a1["person_id"])
	}
}

func TestBadFlags(t *testing.T) {
	bin := stacktest.Build(t)
	tests := []struct {
		args []string
		code int
		says string
	}{
		{[]string{"produce"}, 2, "--file"},
		{[]string{"produce", "--nope"}, 2, "flag provided but not defined"},
		{[]string{"frobnicate"}, 2, "idlink help"},
		{[]string{"lookup", "--doc-type", "visa", "--number", "1"}, 2, "residence_permit"},
		{[]string{"run", "--only", "everything"}, 2, "resolver or analytics"},
		{[]string{"produce", "--file", "/nonexistent.jsonl"}, 2, "existing JSON Lines file"},
		{[]string{"produce", "--file", os.TempDir()}, 2, "is a directory: pass an existing JSON Lines file"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			var errb bytes.Buffer
			cmd.Stderr = &errb
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			}
			if code != tt.code || !strings.Contains(errb.String(), tt.says) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, errb.String(), tt.code, tt.says)
			}
		})
	}
}

// TestStatsFollowResolution runs the whole pipeline through the binary and
// checks every report's rows, with persons counted after a later merge.
func TestStatsFollowResolution(t *testing.T) {
	c, _ := newCLI(t)
	rp := gb("82000019900211001")
	ev := func(id, typ, agency, day, docs, attrs string) string {
		return `{"event_id":"` + id + `","type":"` + typ + `","agency":"` + agency + `","occurred_at":"2025-03-` + day + `T09:00:00+08:00","region":"440700","documents":[` + docs + `],"attrs":{` + attrs + `}}`
	}
	d := func(typ, n string) string { return `{"type":"` + typ + `","number":"` + n + `"}` }
	lines := []string{
		ev("s1", "insurance.code_activated", "nhsa", "01", d("residence_permit", rp), `"channel":"offline"`),
		ev("s2", "insurance.code_activated", "nhsa", "02", d("mainland_travel_permit", "M87654321"), `"channel":"online"`),
		ev("s3", "insurance.code_activated", "nhsa", "03", d("passport", "PA111111"), `"channel":"offline"`),
		ev("s4", "insurance.code_activated", "nhsa", "04", d("passport", "PB222222"), `"channel":"offline"`),
		ev("s5", "insurance.enrolled", "nhsa", "05", d("residence_permit", rp)+","+d("mainland_travel_permit", "M8765432101"), `"scheme":"employee"`),
		ev("s6", "identity.verified", "platform", "06", d("residence_permit", rp), `"relying_party":"alipay","outcome":"rejected","reason":"document_type_not_supported"`),
		ev("s7", "identity.verified", "nia", "07", d("passport", "PA111111")+","+d("passport", "PB222222"), `"relying_party":"12306","outcome":"passed"`),
		ev("s7", "identity.verified", "nia", "07", d("passport", "PA111111")+","+d("passport", "PB222222"), `"relying_party":"12306","outcome":"passed"`),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, stderr, code := c.run(ctx, "produce", "--file", writeEvents(t, c.dir, lines...)); code != 0 {
		t.Fatalf("produce: %d %s", code, stderr)
	}
	if _, stderr, code := c.run(ctx, "run", "--exit-when-idle"); code != 0 {
		t.Fatalf("run: %d %s", code, stderr)
	}
	want := map[string]string{
		// s3 and s4 name two passports that s7 later shows are one person.
		"activations-by-doc-type": `[{"doc_type":"mainland_travel_permit","channel":"online","events":1,"persons":1},{"doc_type":"passport","channel":"offline","events":2,"persons":1},{"doc_type":"residence_permit","channel":"offline","events":1,"persons":1}]`,
		"enrollments-by-doc-type": `[{"doc_type":"mainland_travel_permit","events":1,"persons":1},{"doc_type":"residence_permit","events":1,"persons":1}]`,
		"verifications":           `[{"relying_party":"12306","doc_type":"passport","outcome":"passed","reason":"","events":1},{"relying_party":"alipay","doc_type":"residence_permit","outcome":"rejected","reason":"document_type_not_supported","events":1}]`,
		// the permit holder holds two types (residence permit + travel permit), the passport holder one.
		"linked-persons": `[{"doc_types":1,"persons":1},{"doc_types":2,"persons":1}]`,
	}
	for report, w := range want {
		out, stderr, code := c.run(ctx, "stats", report, "--json")
		if code != 0 {
			t.Fatalf("stats %s: %d %s", report, code, stderr)
		}
		if got := strings.TrimSpace(out); got != w {
			t.Errorf("stats %s:\n got  %s\n want %s", report, got, w)
		}
	}
	if _, stderr, code := c.run(ctx, "stats", "no-such-report", "--json"); code == 0 || !strings.Contains(stderr, "activations-by-doc-type") {
		t.Fatalf("unknown report: exit %d, %q", code, stderr)
	}
}
