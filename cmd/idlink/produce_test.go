package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/idlink/idlink/eventtypes"
	"github.com/idlink/idlink/internal/stacktest"
	"github.com/idlink/idlink/producers"
)

// TestProduceAccountsForEveryLine produces a file that mixes every input
// rule (README "Input") on the real stack and checks `produce --json`: each
// line accepted, a repeat or rejected with its reason, lines = accepted +
// repeats + rejected, and every rejected line reported with its number.
func TestProduceAccountsForEveryLine(t *testing.T) {
	c, _ := newCLI(t)
	today := time.Now().In(time.FixedZone("", 8*3600))
	future := today.AddDate(0, 0, 2).Format(time.DateOnly)
	rp := gb("81000019900211001")
	ev := func(id, typ, agency, occurred, extra string) string {
		return fmt.Sprintf(`{"event_id":%s,"type":%q,"agency":%q,"occurred_at":%q,"documents":[{"type":"residence_permit","number":%q}]%s}`,
			id, typ, agency, occurred, rp, extra)
	}
	const at = "2025-03-14T09:30:00+08:00"
	type want struct {
		line   string
		reason string // "" accepted, "repeat", or the rejection reason
	}
	lines := []want{
		// Line 1 follows the byte-order mark.
		{ev(`"acc-1"`, "residence_permit.issued", "mps", at, ""), ""},
		{ev(`"acc-2"`, "insurance.code_activated", "nhsa", "2025-03-14t01:30:00z", `,"attrs":{"channel":"offline"}`), ""},
		{ev(`"acc-3"`, "insurance.enrolled", "nhsa", "2025-03-14T09:30:00.123456789+08:00", `,"attrs":{"scheme":"employee"}`), ""},
		{ev(`"acc-4"`, "social_security_card.issued", "mohrss", at, `,"attrs":{"form":"electronic","channel":"wechat"}`), ""},
		{ev(`"acc-5"`, "driver_qualification.registered", "mot", at, `,"attrs":{"outcome":"rejected","reason":"document_type_not_supported"}`), ""},
		{ev(`"acc-6"`, "insurance.offsite_filed", "nhsa", at, `,"attrs":{"outcome":"accepted"}`), ""},
		{ev(`"acc-7"`, "identity.verified", "nhsa", at, `,"attrs":{"relying_party":"nhsa_app","outcome":"passed"}`), ""},
		{ev(`"acc-\ud83d\ude00"`, "identity.verified", "platform", at, `,"EVENT_ID":"ignored","attrs":{"outcome":"passed","new_attr":"kept"}`), ""},
		{ev(`"acc-1"`, "residence_permit.issued", "mps", at, ""), "repeat"},
		{ev(`"acc-\u0032"`, "residence_permit.issued", "mps", at, `,"region":"440300"`), "repeat"}, // "acc-2" again: the first stands
		{ev("\"bad-\xff\"", "residence_permit.issued", "mps", at, ""), producers.ReasonBadUTF8},
		{ev("\"bad-\xfe\"", "residence_permit.issued", "mps", at, ""), producers.ReasonBadUTF8},
		{ev(`"bad-\ud800"`, "residence_permit.issued", "mps", at, ""), producers.ReasonBadUTF8},
		{ev(`"dup-1"`, "residence_permit.issued", "mps", at, `,"agency":"mps"`), producers.ReasonDuplicateKey},
		{strings.Replace(ev(`"case-1"`, "residence_permit.issued", "mps", at, ""), `"event_id"`, `"Event_ID"`, 1), producers.ReasonMissingEventID},
		{ev(`"time-1"`, "residence_permit.issued", "mps", "2025-03-14T09:30:00,5+08:00", ""), producers.ReasonBadOccurredAt},
		{ev(`"time-2"`, "residence_permit.issued", "mps", "2025-03-14T09:30:00+24:00", ""), producers.ReasonBadOccurredAt},
		{ev(`"time-3"`, "residence_permit.issued", "mps", "0000-03-14T09:30:00+08:00", ""), producers.ReasonBadOccurredAt},
		{ev(`"birth-1"`, "travel_permit.issued", "nia", at, `,"person":{"birth_date":"`+future+`"}`), producers.ReasonBadBirthDate},
		{strings.Replace(ev(`"prov-1"`, "travel_permit.issued", "nia", at, ""), `"residence_permit","number":"`+rp, `"mainland_id","number":"`+gb("99010119900211001"), 1), "bad_region_prefix"},
		{ev(`"agency-1"`, "social_security_card.issued", "nhsa", at, `,"attrs":{"form":"physical"}`), producers.ReasonAgencyNotAllowed},
		{ev(`"attr-1"`, "social_security_card.issued", "mohrss", at, `,"attrs":{"channel":"counter"}`), producers.ReasonMissingAttr},
		{ev(`"attr-2"`, "insurance.offsite_filed", "nhsa", at, `,"attrs":{"outcome":"maybe"}`), producers.ReasonBadAttr},
		{ev(`"long-1"`, "residence_permit.issued", "mps", at, `,"pad":"`+strings.Repeat("x", producers.MaxLineBytes)+`"`), producers.ReasonLineTooLong},
		{`{"event_id":"json-1",`, producers.ReasonBadJSON},
	}
	var file strings.Builder
	file.WriteString("\xef\xbb\xbf")
	wantReasons := map[string]int{}
	var accepted, repeats, rejected int
	var wantStderr []string
	n := 0
	for i, l := range lines {
		if i == 3 {
			file.WriteString(" \t\n") // a blank line is a line, rejected as bad_json
			n++
			rejected++
			wantReasons[producers.ReasonBadJSON]++
			wantStderr = append(wantStderr, fmt.Sprintf(":%d: rejected: %s", n, producers.ReasonBadJSON))
		}
		file.WriteString(l.line + "\n")
		n++
		switch l.reason {
		case "":
			accepted++
		case "repeat":
			repeats++
		default:
			rejected++
			wantReasons[l.reason]++
			wantStderr = append(wantStderr, fmt.Sprintf(":%d: rejected: %s", n, l.reason))
		}
	}
	path := filepath.Join(c.dir, "mixed.jsonl")
	if err := os.WriteFile(path, []byte(file.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, stderr, code := c.run(ctx, "produce", "--file", path, "--json")
	if code != 0 {
		t.Fatalf("produce exit %d: %s", code, stderr)
	}
	var res struct {
		Lines, Accepted, Repeats, Rejected int
		Reasons                            map[string]int
	}
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("produce --json printed %q: %v", out, err)
	}
	if res.Lines != len(lines)+1 || res.Accepted != accepted || res.Repeats != repeats || res.Rejected != rejected ||
		res.Lines != res.Accepted+res.Repeats+res.Rejected {
		t.Fatalf("produce --json: %+v; want lines %d = accepted %d + repeats %d + rejected %d", res, len(lines)+1, accepted, repeats, rejected)
	}
	if fmt.Sprint(res.Reasons) != fmt.Sprint(wantReasons) {
		t.Fatalf("reasons %v, want %v", res.Reasons, wantReasons)
	}
	for _, w := range wantStderr {
		if !strings.Contains(stderr, "mixed.jsonl"+w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
}

// TestProduceHelp checks that `idlink produce --help` lists every event
// type of the registry with its agencies.
func TestProduceHelp(t *testing.T) {
	c := &cli{t: t, bin: stacktest.Build(t), env: os.Environ(), dir: t.TempDir()}
	_, stderr, code := c.run(context.Background(), "produce", "--help")
	if code != 0 {
		t.Fatalf("produce --help exit %d: %s", code, stderr)
	}
	for _, typ := range eventtypes.All() {
		if !strings.Contains(stderr, typ.Name+" ") || !strings.Contains(stderr, typ.Publishers()) {
			t.Errorf("produce --help lacks %s from %s:\n%s", typ.Name, typ.Publishers(), stderr)
		}
	}
}
