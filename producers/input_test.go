package producers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/idlink/idlink/documents"
	"github.com/idlink/idlink/eventtypes"
	"github.com/idlink/idlink/schemas"
)

// testNow is "now" for the input tests: 2025-06-15T17:00Z, already
// 2025-06-16 in UTC+8.
var testNow = time.Date(2025, 6, 15, 17, 0, 0, 0, time.UTC)

// fields are the top-level fields of a valid insurance.code_activated event,
// in order, as raw JSON values; event builds a line from them.
func fields() [][2]string {
	return [][2]string{
		{"event_id", `"e-1"`},
		{"type", `"insurance.code_activated"`},
		{"agency", `"nhsa"`},
		{"occurred_at", `"2025-03-14T09:30:00+08:00"`},
		{"region", `"440700"`},
		{"person", `{"name":"LIN Wai","birth_date":"1990-02-11"}`},
		{"documents", `[` + doc("residence_permit", rp("820000", "1990-02-11", "001")) + `]`},
		{"attrs", `{"channel":"offline"}`},
	}
}

func event(fs [][2]string) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range fs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"%s":%s`, f[0], f[1])
	}
	b.WriteByte('}')
	return b.Bytes()
}

// with returns fields() with field key's value replaced by raw (added at
// the end if fields() has no such key).
func with(key, raw string) [][2]string { return set(fields(), key, raw) }

// set replaces field key's value in fs by raw, or adds the field.
func set(fs [][2]string, key, raw string) [][2]string {
	for i := range fs {
		if fs[i][0] == key {
			fs[i][1] = raw
			return fs
		}
	}
	return append(fs, [2]string{key, raw})
}

// verdict parses and validates line at testNow.
func verdict(line []byte) (*schemas.Event, *Rejection) {
	in, rej := Parse(line)
	if rej != nil {
		return nil, rej
	}
	return ValidateAt(in, NewPseudonymizer([]byte("k")), testNow)
}

func reasonOf(rej *Rejection) string {
	if rej == nil {
		return ""
	}
	return rej.Reason
}

func TestBadUTF8(t *testing.T) {
	// Byte sequences that are not UTF-8: every lone continuation byte and
	// every byte that can never occur, truncated sequences, overlong
	// encodings and encoded surrogates.
	var bad []string
	for c := 0x80; c <= 0xff; c++ {
		if s := string([]byte{byte(c)}); !utf8.ValidString(s) {
			bad = append(bad, s)
		}
	}
	for _, r := range []rune{'é', '€', '😀'} {
		enc := string(utf8.AppendRune(nil, r))
		bad = append(bad, enc[:len(enc)-1]) // truncated
	}
	bad = append(bad, "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80")
	for _, b := range bad {
		if utf8.ValidString(b) {
			t.Fatalf("test data %q is valid UTF-8", b)
		}
		// Anywhere in the line: in the event_id, an attr value, a key,
		// an unknown field, outside any string.
		lines := map[string][]byte{
			"event_id":  event(with("event_id", `"e-`+b+`"`)),
			"attr":      event(with("attrs", `{"channel":"offline","note":"`+b+`"}`)),
			"key":       event(with("x"+b, `1`)),
			"unknown":   event(with("extra", `["`+b+`"]`)),
			"outside":   append(event(fields()), b...),
			"truncated": append([]byte(`{"event_id":"`), b...),
		}
		for where, line := range lines {
			if _, rej := verdict(line); reasonOf(rej) != ReasonBadUTF8 {
				t.Errorf("%q in %s: %v, want %s", b, where, rej, ReasonBadUTF8)
			}
		}
	}
	// Lone surrogates named by escapes are bad_utf8 too; a pair is one
	// character.
	escapes := []struct {
		esc  string
		want string // the event_id, or "" if bad_utf8
	}{
		{`\ud800`, ""},
		{`\udbff`, ""},
		{`\udc00`, ""},
		{`\udfff`, ""},
		{`\ud800\u0041`, ""},
		{`\ud800\ud800`, ""},
		{`\udc00\ud800`, ""},
		{`\ud83d\ude00`, "e-😀"},
		{`\uD83D\uDE00`, "e-😀"},
		{`\ufffd`, "e-\ufffd"},
		{`\u00e9`, "e-é"},
		{`\u0041`, "e-A"},
	}
	for _, e := range escapes {
		ev, rej := verdict(event(with("event_id", `"e-`+e.esc+`"`)))
		switch {
		case e.want == "" && reasonOf(rej) != ReasonBadUTF8:
			t.Errorf("event_id e-%s: %v, want %s", e.esc, rej, ReasonBadUTF8)
		case e.want != "" && (rej != nil || ev.EventID != e.want):
			t.Errorf("event_id e-%s: %v %v, want %q", e.esc, ev, rej, e.want)
		}
	}
}

func TestDuplicateKey(t *testing.T) {
	// Every top-level key given twice (the second time with the same
	// value, so only the repetition is wrong).
	for _, f := range fields() {
		fs := append(fields(), f)
		_, rej := verdict(event(fs))
		if reasonOf(rej) != ReasonDuplicateKey || !strings.Contains(rej.Detail, `"`+f[0]+`"`) {
			t.Errorf("%s twice: %v, want %s naming it", f[0], rej, ReasonDuplicateKey)
		}
	}
	nested := []struct{ key, line string }{
		{"person.name", string(event(with("person", `{"name":"A","name":"A"}`)))},
		{"person.birth_date", string(event(with("person", `{"birth_date":"1990-02-11","name":"A","birth_date":"1990-02-11"}`)))},
		{"documents[1].number", string(event(with("documents", `[{"type":"passport","number":"E1234567"},{"type":"passport","number":"E1234567","number":"E7654321"}]`)))},
		{"attrs.channel", string(event(with("attrs", `{"channel":"offline","channel":"online"}`)))},
		{"x", string(event(with("x", `1,"x":2`)))},
		{"a", string(event(with("x", `{"a":1,"a":1}`)))},
		{"attrs.k", string(event(with("attrs", `{"k":"v","\u006b":"v"}`)))},
	}
	for _, n := range nested {
		_, rej := verdict([]byte(n.line))
		if reasonOf(rej) != ReasonDuplicateKey || !strings.Contains(rej.Detail, `"`+n.key+`"`) {
			t.Errorf("%s twice: %v, want %s naming it", n.key, rej, ReasonDuplicateKey)
		}
	}
	// The same key in different objects is no duplicate.
	if _, rej := verdict(event(with("attrs", `{"channel":"offline","type":"x","name":"y"}`))); rej != nil {
		t.Errorf("keys repeated across objects: %v", rej)
	}
}

func TestKeysExact(t *testing.T) {
	// What the event becomes when a key is spelt in another case: the
	// field is missing (the other spelling is an unknown key, ignored).
	missing := map[string]string{
		"event_id":    ReasonMissingEventID,
		"type":        ReasonUnknownType,
		"agency":      ReasonMissingAgency,
		"occurred_at": ReasonBadOccurredAt,
		"region":      "",
		"person":      "",
		"documents":   ReasonNoDocuments,
		"attrs":       "",
	}
	variants := func(k string) []string {
		return []string{strings.ToUpper(k), strings.ToUpper(k[:1]) + k[1:], k + " ", "\u212a" + k[1:]} // K is the Kelvin sign
	}
	for _, f := range fields() {
		for _, v := range variants(f[0]) {
			fs := fields()
			for i := range fs {
				if fs[i][0] == f[0] {
					fs[i][0] = v
				}
			}
			ev, rej := verdict(event(fs))
			if got := reasonOf(rej); got != missing[f[0]] {
				t.Errorf("%q for %q: %v, want %q", v, f[0], rej, missing[f[0]])
			}
			if rej == nil {
				switch f[0] {
				case "region":
					if ev.Region != "" {
						t.Errorf("%q taken as region", v)
					}
				case "person":
					if ev.BirthDate != "" {
						t.Errorf("%q taken as person", v)
					}
				case "attrs":
					if len(ev.Attrs) != 0 {
						t.Errorf("%q taken as attrs", v)
					}
				}
			}
		}
	}
	for _, k := range []string{"name", "birth_date"} {
		ev, rej := verdict(event(with("person", `{"`+strings.ToUpper(k)+`":"1990-02-11"}`)))
		if rej != nil || ev.BirthDate != "" {
			t.Errorf("person.%s upper-cased: %v %+v", k, rej, ev)
		}
	}
	ev, rej := verdict(event(with("documents", `[{"TYPE":"passport","Number":"E1234567"}]`)))
	if reasonOf(rej) != documents.ReasonUnknownType {
		t.Errorf("document keys upper-cased: %v %+v", rej, ev)
	}
	// An unknown key is ignored at every level; an unknown attr is kept.
	ev, rej = verdict(event(append(with("person", `{"name":"A","x":[1,{"y":null}]}`), [2]string{"future_field", `{"a":[true,false,null,-1.5e3]}`})))
	if rej != nil {
		t.Fatalf("unknown keys: %v", rej)
	}
	ev, rej = verdict(event(with("attrs", `{"channel":"offline","kiosk_id":"k-7"}`)))
	if rej != nil || ev.Attrs["kiosk_id"] != "k-7" {
		t.Fatalf("unknown attr: %v %+v", rej, ev)
	}
}

func TestJSONStrictness(t *testing.T) {
	tests := []struct {
		name, line, reason string
	}{
		{"number for event_id", string(event(with("event_id", `5`))), ReasonBadJSON},
		{"object for documents", string(event(with("documents", `{}`))), ReasonBadJSON},
		{"number in attrs", string(event(with("attrs", `{"channel":1}`))), ReasonBadJSON},
		{"null event_id is missing", string(event(with("event_id", `null`))), ReasonMissingEventID},
		{"null attrs is none", string(event(with("attrs", `null`))), ""},
		{"trailing comma", `{"event_id":"e",}`, ReasonBadJSON},
		{"two objects", string(event(fields())) + `{}`, ReasonBadJSON},
		{"array", `[]`, ReasonBadJSON},
		{"leading zero in unknown", string(event(with("x", `01`))), ReasonBadJSON},
		{"bad escape", string(event(with("event_id", `"e\x"`))), ReasonBadJSON},
		{"raw control character", string(event(with("event_id", "\"e\x01\""))), ReasonBadJSON},
		{"too deep", string(event(with("x", strings.Repeat("[", maxDepth+1)+strings.Repeat("]", maxDepth+1)))), ReasonBadJSON},
		{"deep but allowed", string(event(with("x", strings.Repeat("[", maxDepth-2)+strings.Repeat("]", maxDepth-2)))), ""},
		{"escaped key", strings.Replace(string(event(fields())), `"event_id"`, `"event\u005fid"`, 1), ""},
		{"whitespace", strings.ReplaceAll(string(event(fields())), ",", " ,\t"), ""},
		{"BOM inside a line", "\ufeff" + string(event(fields())), ReasonBadJSON},
	}
	for _, tt := range tests {
		if _, rej := verdict([]byte(tt.line)); reasonOf(rej) != tt.reason {
			t.Errorf("%s: %v, want %q", tt.name, rej, tt.reason)
		}
	}
	// Parse agrees with encoding/json on every valid line above.
	in, rej := Parse(event(fields()))
	var ref Input
	if err := json.Unmarshal(event(fields()), &ref); rej != nil || err != nil || fmt.Sprint(*in.Person, in.Documents, in.Attrs, in.EventID) != fmt.Sprint(*ref.Person, ref.Documents, ref.Attrs, ref.EventID) {
		t.Fatalf("Parse %+v, encoding/json %+v (%v %v)", in, ref, rej, err)
	}
}

func TestOccurredAt(t *testing.T) {
	base := time.Date(2025, 3, 14, 9, 30, 0, 0, time.FixedZone("", 8*3600))
	ok := []struct {
		s    string
		want time.Time
	}{
		{"2025-03-14T09:30:00+08:00", base},
		{"2025-03-14t09:30:00+08:00", base},
		{"2025-03-14T01:30:00Z", base},
		{"2025-03-14t01:30:00z", base},
		{"2025-03-14T01:30:00-00:00", base},
		{"2025-03-13T01:31:00-23:59", base},
		{"2025-03-15T01:29:00+23:59", base},
		{"0001-01-01T00:00:00Z", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"9999-12-31T23:59:59Z", time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
		{"2024-02-29T00:00:00Z", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)},
		{"2016-12-31T23:59:60Z", time.Date(2016, 12, 31, 23, 59, 59, 999999000, time.UTC)},
		{"2017-01-01T07:59:60+08:00", time.Date(2016, 12, 31, 23, 59, 59, 999999000, time.UTC)},
		{"2015-06-30T23:59:60.5Z", time.Date(2015, 6, 30, 23, 59, 59, 999999000, time.UTC)},
	}
	// Fractions of 1 to 12 digits: kept to the microsecond, never rounded.
	digits := "987654321987"
	for n := 1; n <= len(digits); n++ {
		us := 0
		for i := 0; i < 6; i++ {
			us *= 10
			if i < n {
				us += int(digits[i] - '0')
			}
		}
		ok = append(ok, struct {
			s    string
			want time.Time
		}{"2025-03-14T01:30:00." + digits[:n] + "Z", base.Add(time.Duration(us) * time.Microsecond)})
	}
	for _, tt := range ok {
		got, good := parseOccurredAt(tt.s)
		if !good || !got.Equal(tt.want) || got.Nanosecond()%1000 != 0 {
			t.Errorf("%s: %v %v, want %v", tt.s, got, good, tt.want)
		}
		if _, off := tt.want.Zone(); good && off == 8*3600 && strings.HasSuffix(tt.s, "+08:00") {
			if _, goff := got.Zone(); goff != off {
				t.Errorf("%s: offset %d, want %d", tt.s, goff, off)
			}
		}
		// Through Validate the event keeps the instant.
		if ev, rej := verdict(event(with("occurred_at", `"`+tt.s+`"`))); rej != nil || !ev.OccurredAt.Equal(tt.want) {
			t.Errorf("%s through Validate: %v %v", tt.s, ev, rej)
		}
	}
	bad := []string{
		"2025-03-14T09:30:00,5+08:00", "2025-03-14T09:30:00+24:00", "2025-03-14T09:30:00+08:60",
		"0000-01-01T00:00:00Z", "2025-03-14T09:30:00", "2025-03-14T09:30:00+0800", "2025-03-14 09:30:00+08:00",
		"2025-03-14T09:30:00.Z", "2025-03-14T09:30Z", "2025-3-14T09:30:00Z", "2025-03-14T09:30:00ZZ",
		"2025-03-14T09:30:00+08:00 ", " 2025-03-14T09:30:00+08:00", "2025-03-14T09:30:00+08", "+2025-03-14T09:30:00Z",
		"2025-03-14T24:00:00Z", "2025-03-14T23:60:00Z", "2025-03-14T23:59:61Z", "2025-03-14T23:59:60Z",
		"2016-12-31T23:59:60+08:00", "2025-00-14T09:30:00Z", "2025-13-14T09:30:00Z", "2025-03-00T09:30:00Z",
		"2025-03-14T09:30:00.123456789", "２025-03-14T09:30:00Z", "",
	}
	// Every month's first day past its end, computed.
	for _, y := range []int{2023, 2024, 1900, 2000} {
		for m := time.January; m <= time.December; m++ {
			last := time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
			ok := fmt.Sprintf("%04d-%02d-%02dT00:00:00Z", y, m, last)
			if _, good := parseOccurredAt(ok); !good {
				t.Errorf("%s rejected", ok)
			}
			bad = append(bad, fmt.Sprintf("%04d-%02d-%02dT00:00:00Z", y, m, last+1))
		}
	}
	for _, s := range bad {
		if _, good := parseOccurredAt(s); good {
			t.Errorf("%q accepted", s)
		}
		if _, rej := verdict(event(with("occurred_at", `"`+s+`"`))); reasonOf(rej) != ReasonBadOccurredAt {
			t.Errorf("%q through Validate: %v, want %s", s, rej, ReasonBadOccurredAt)
		}
	}
}

func TestBirthDates(t *testing.T) {
	china := testNow.In(time.FixedZone("", 8*3600))
	today := china.Format(time.DateOnly)
	tomorrow := china.AddDate(0, 0, 1).Format(time.DateOnly)
	if today != "2025-06-16" {
		t.Fatalf("today in UTC+8 is %s", today)
	}
	tests := []struct {
		date string
		ok   bool
	}{
		{"1900-01-01", true}, {"1899-12-31", false}, {today, true}, {tomorrow, false},
		{testNow.Format(time.DateOnly), true}, {"2099-01-01", false}, {"1990-02-30", false}, {"1990-2-11", false},
		{"0000-01-01", false},
	}
	for _, tt := range tests {
		// person.birth_date
		_, rej := verdict(event(set(with("person", `{"birth_date":"`+tt.date+`"}`), "documents", `[`+doc("passport", "E1234567")+`]`)))
		if want := map[bool]string{true: "", false: ReasonBadBirthDate}[tt.ok]; reasonOf(rej) != want {
			t.Errorf("person.birth_date %s: %v, want %q", tt.date, rej, want)
		}
		if len(tt.date) != 10 || tt.date[4] != '-' || tt.date[7] != '-' {
			continue
		}
		// The same date inside a residence permit and a mainland ID.
		ymd := strings.ReplaceAll(tt.date, "-", "")
		for _, d := range []string{doc("residence_permit", rp("810000", tt.date, "001")), doc("mainland_id", gbNumber("440305"+ymd+"001"))} {
			_, rej := verdict(event(set(with("documents", "["+d+"]"), "person", "null")))
			if want := map[bool]string{true: "", false: documents.ReasonBirthDate}[tt.ok]; reasonOf(rej) != want {
				t.Errorf("embedded %s in %s: %v, want %q", tt.date, d, rej, want)
			}
		}
	}
}

// gbNumber completes 17 digits with their check character.
func gbNumber(first17 string) string { return first17 + gbCheck(first17) }

func TestMainlandIDProvince(t *testing.T) {
	for n := range 100 {
		p := fmt.Sprintf("%02d", n)
		id := gbNumber(p + "0101" + "19900211" + "001")
		_, rej := verdict(event(with("documents", "["+doc("mainland_id", id)+"]")))
		want := ""
		if !documents.IsProvince(p) {
			want = documents.ReasonPrefix
		}
		if reasonOf(rej) != want {
			t.Errorf("mainland ID with prefix %s: %v, want %q", p, rej, want)
		}
	}
}

func TestEventTypes(t *testing.T) {
	type attrs = map[string]string
	mk := func(typ, agency string, a attrs) []byte {
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		return event(set(set(with("type", fmt.Sprintf("%q", typ)), "agency", fmt.Sprintf("%q", agency)), "attrs", string(b)))
	}
	tests := []struct {
		typ, agency string
		attrs       attrs
		reason      string
		detail      string
	}{
		{eventtypes.SocialSecurityCardIssued, "mohrss", attrs{"form": "electronic", "channel": "wechat"}, "", ""},
		{eventtypes.SocialSecurityCardIssued, "mohrss", attrs{"form": "physical", "channel": "counter", "batch": "7"}, "", ""},
		{eventtypes.SocialSecurityCardIssued, "nhsa", attrs{"form": "electronic"}, ReasonAgencyNotAllowed, "mohrss"},
		{eventtypes.SocialSecurityCardIssued, "mohrss", attrs{"channel": "alipay"}, ReasonMissingAttr, "attrs.form"},
		{eventtypes.SocialSecurityCardIssued, "mohrss", attrs{"form": "plastic"}, ReasonBadAttr, "attrs.form"},
		{eventtypes.DriverQualificationRegistered, "mot", attrs{"outcome": "accepted"}, "", ""},
		{eventtypes.DriverQualificationRegistered, "mot", attrs{"outcome": "rejected", "reason": "document_type_not_supported"}, "", ""},
		{eventtypes.DriverQualificationRegistered, "mot", attrs{"outcome": "rejected"}, ReasonMissingAttr, "attrs.reason"},
		{eventtypes.DriverQualificationRegistered, "mot", attrs{}, ReasonMissingAttr, "attrs.outcome"},
		{eventtypes.DriverQualificationRegistered, "platform", attrs{"outcome": "accepted"}, ReasonAgencyNotAllowed, "mot"},
		{eventtypes.InsuranceOffsiteFiled, "nhsa", attrs{"outcome": "accepted"}, "", ""},
		{eventtypes.InsuranceOffsiteFiled, "nhsa", attrs{"outcome": "passed"}, ReasonBadAttr, "attrs.outcome"},
		{eventtypes.InsuranceOffsiteFiled, "nhsa", attrs{"outcome": "rejected", "reason": ""}, ReasonMissingAttr, "attrs.reason"},
		{eventtypes.InsuranceOffsiteFiled, "mohrss", attrs{"outcome": "accepted"}, ReasonAgencyNotAllowed, "nhsa"},
		{eventtypes.CodeActivated, "nhsa", attrs{"channel": "fax"}, ReasonBadAttr, "attrs.channel"},
		{eventtypes.IdentityVerified, "nhsa", attrs{"outcome": "maybe"}, ReasonBadAttr, "attrs.outcome"},
	}
	for _, a := range eventtypes.Agencies() {
		tests = append(tests, struct {
			typ, agency string
			attrs       attrs
			reason      string
			detail      string
		}{eventtypes.IdentityVerified, a, attrs{"relying_party": a + "_app", "outcome": "rejected", "reason": "document_type_not_supported"}, "", ""})
	}
	for _, tt := range tests {
		ev, rej := verdict(mk(tt.typ, tt.agency, tt.attrs))
		if reasonOf(rej) != tt.reason || (rej != nil && !strings.Contains(rej.Detail, tt.detail)) {
			t.Errorf("%s from %s %v: %v, want %q naming %q", tt.typ, tt.agency, tt.attrs, rej, tt.reason, tt.detail)
			continue
		}
		if rej == nil && (ev.Type != tt.typ || ev.Agency != tt.agency || len(ev.Attrs) != len(tt.attrs) || len(ev.Documents) != 1) {
			t.Errorf("%s from %s: event %+v", tt.typ, tt.agency, ev)
		}
	}
}

func TestReadChunksBOM(t *testing.T) {
	read := func(input string) []string {
		var lines []string
		err := readChunks(context.Background(), strings.NewReader(input), "t", func(c *chunk) bool {
			for _, l := range c.lines {
				lines = append(lines, fmt.Sprintf("%d:%s", l.n, l.raw))
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		return lines
	}
	if got := fmt.Sprint(read(utf8BOM + "{}\n\n{}\r\n")); got != "[1:{} 2: 3:{}]" { // a blank line is a line too
		t.Errorf("BOM at the start: %s", got)
	}
	if got := fmt.Sprint(read("{}\n" + utf8BOM + "{}\n")); got != "[1:{} 2:"+utf8BOM+"{}]" {
		t.Errorf("BOM on line 2 must stay: %s", got)
	}
	if got := fmt.Sprint(read(utf8BOM)); got != "[]" {
		t.Errorf("only a BOM: %s", got)
	}
}
