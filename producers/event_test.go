package producers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode"

	"github.com/idlink/idlink/documents"
	"github.com/idlink/idlink/schemas"
)

// gbCheck computes the GB 11643 (ISO 7064 MOD 11-2) check character.
func gbCheck(first17 string) string {
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(first17[i]-'0') * w
	}
	return string("10X98765432"[sum%11])
}

func rp(prefix, birth, seq string) string {
	s := prefix + strings.ReplaceAll(birth, "-", "") + seq
	return s + gbCheck(s)
}

// hkidCheck computes the HKID check character for letters+6 digits.
func hkidCheck(s string) string {
	if len(s) == 7 {
		s = " " + s
	}
	sum := 0
	for i, c := range s {
		v := 0
		switch {
		case c == ' ':
			v = 36
		case c >= 'A' && c <= 'Z':
			v = int(c-'A') + 10
		default:
			v = int(c - '0')
		}
		sum += v * (9 - i)
	}
	r := (11 - sum%11) % 11
	if r == 10 {
		return "A"
	}
	return fmt.Sprint(r)
}

func line(typ, agency, docs, extra string) []byte {
	return []byte(fmt.Sprintf(`{"event_id":"e-1","type":%q,"agency":%q,"occurred_at":"2025-03-14T09:30:00+08:00","region":"440700","person":{"name":"LIN Wai","birth_date":"1990-02-11"},"documents":[%s]%s}`, typ, agency, docs, extra))
}

func doc(t, n string) string { return fmt.Sprintf(`{"type":%q,"number":%q}`, t, n) }

func TestValidate(t *testing.T) {
	goodRP := rp("820000", "1990-02-11", "001")
	if goodRP != "820000199002110013" {
		t.Fatalf("check helper disagrees with the contract's example: %s", goodRP)
	}
	badRP := goodRP[:17] + map[bool]string{true: "1", false: "2"}[goodRP[17] != '1']
	hk := "A123456"
	hkid := hk + "(" + hkidCheck(hk) + ")"
	tests := []struct {
		name   string
		line   []byte
		reason string
		docs   int
	}{
		{"contract example", line("insurance.code_activated", "nhsa", doc("residence_permit", goodRP), `,"attrs":{"channel":"offline"}`), "", 1},
		{"two documents", line("residence_permit.issued", "mps", doc("residence_permit", goodRP)+","+doc("mainland_travel_permit", "M12345678 01"), ""), "", 2},
		{"hkid with brackets", line("identity.verified", "platform", doc("hkid", strings.ToLower(hkid)), `,"attrs":{"relying_party":"bank","outcome":"rejected","reason":"document_type_not_supported"}`), "", 1},
		{"same document twice counts once", line("travel_permit.issued", "nia", doc("taiwan_travel_permit", "12345678")+","+doc("taiwan_travel_permit", "1234567801"), ""), "", 1},
		{"retraction without documents", []byte(`{"event_id":"r1","type":"link.retracted","agency":"mps","occurred_at":"2025-03-14T09:30:00Z","documents":[],"attrs":{"retracts":"e-1"}}`), "", 0},
		{"bad check digit", line("residence_permit.issued", "mps", doc("residence_permit", badRP), ""), documents.ReasonCheckDigit, 0},
		{"bad hkid check", line("identity.verified", "nia", doc("hkid", hk+"("+map[bool]string{true: "1", false: "2"}[hkidCheck(hk) != "1"]+")"), ""), documents.ReasonCheckDigit, 0},
		{"rp prefix", line("residence_permit.issued", "mps", doc("residence_permit", rp("440300", "1990-02-11", "001")), ""), documents.ReasonPrefix, 0},
		{"rp birth date differs", line("residence_permit.issued", "mps", doc("residence_permit", rp("810000", "1991-02-11", "001")), ""), ReasonBirthDateMismatch, 0},
		{"unknown type", line("insurance.cancelled", "nhsa", doc("passport", "E1234567"), ""), ReasonUnknownType, 0},
		{"unknown agency", line("insurance.enrolled", "nasa", doc("passport", "E1234567"), ""), ReasonUnknownAgency, 0},
		{"agency not allowed", line("insurance.enrolled", "mps", doc("passport", "E1234567"), ""), ReasonAgencyNotAllowed, 0},
		{"no offset", []byte(`{"event_id":"e","type":"travel_permit.issued","agency":"nia","occurred_at":"2025-03-14T09:30:00","documents":[{"type":"passport","number":"E1234567"}]}`), ReasonBadOccurredAt, 0},
		{"bad region", []byte(`{"event_id":"e","type":"travel_permit.issued","agency":"nia","occurred_at":"2025-03-14T09:30:00Z","region":"44","documents":[{"type":"passport","number":"E1234567"}]}`), ReasonBadRegion, 0},
		{"bad birth date", []byte(`{"event_id":"e","type":"travel_permit.issued","agency":"nia","occurred_at":"2025-03-14T09:30:00Z","person":{"birth_date":"1990-02-30"},"documents":[{"type":"passport","number":"E1234567"}]}`), ReasonBadBirthDate, 0},
		{"missing event id", []byte(`{"type":"travel_permit.issued","agency":"nia","occurred_at":"2025-03-14T09:30:00Z","documents":[{"type":"passport","number":"E1234567"}]}`), ReasonMissingEventID, 0},
		{"event id too long", []byte(`{"event_id":"` + strings.Repeat("x", 65) + `","type":"travel_permit.issued","agency":"nia","occurred_at":"2025-03-14T09:30:00Z","documents":[{"type":"passport","number":"E1234567"}]}`), ReasonBadEventID, 0},
		{"missing agency", []byte(`{"event_id":"e","type":"travel_permit.issued","occurred_at":"2025-03-14T09:30:00Z","documents":[{"type":"passport","number":"E1234567"}]}`), ReasonMissingAgency, 0},
		{"no documents", line("travel_permit.issued", "nia", "", ""), ReasonNoDocuments, 0},
		{"nine documents", line("travel_permit.issued", "nia", strings.TrimSuffix(strings.Repeat(doc("passport", "E1234567")+",", 9), ","), ""), ReasonTooManyDocuments, 0},
		{"unknown document type", line("travel_permit.issued", "nia", doc("driving_licence", "E1234567"), ""), documents.ReasonUnknownType, 0},
		{"bad channel", line("insurance.code_activated", "nhsa", doc("passport", "E1234567"), `,"attrs":{"channel":"fax"}`), ReasonBadAttr, 0},
		{"retraction without target", []byte(`{"event_id":"r1","type":"link.retracted","agency":"mps","occurred_at":"2025-03-14T09:30:00Z","documents":[]}`), ReasonMissingAttr, 0},
		{"malformed json", []byte(`{"event_id":"e",`), ReasonBadJSON, 0},
		{"wrong json type", []byte(`{"event_id":5}`), ReasonBadJSON, 0},
		{"two values", []byte(`{} {}`), ReasonBadJSON, 0},
	}
	ps := NewPseudonymizer([]byte("test-key"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, rj := Parse(tt.line)
			if rj == nil {
				var ev *schemas.Event
				ev, rj = Validate(in, ps)
				if rj == nil {
					if len(ev.Documents) != tt.docs {
						t.Fatalf("%d documents, want %d", len(ev.Documents), tt.docs)
					}
					for _, d := range ev.Documents {
						if len(d.Token) != 64 || strings.ContainsAny(d.Token, "GHMXghmx") {
							t.Fatalf("token %q is not an HMAC-SHA256 hex digest", d.Token)
						}
					}
				}
			}
			got := ""
			if rj != nil {
				got = rj.Reason
				if strings.Contains(rj.Error(), "1990021") || strings.Contains(rj.Error(), "123456") {
					t.Fatalf("rejection leaks a number: %s", rj.Error())
				}
			}
			if got != tt.reason {
				t.Fatalf("reason %q, want %q (%v)", got, tt.reason, rj)
			}
		})
	}
}

func TestToken(t *testing.T) {
	ps := NewPseudonymizer([]byte("k"))
	a := ps.Token(documents.Passport, "E1234567")
	if a != ps.Token(documents.Passport, "E1234567") {
		t.Fatal("token not deterministic")
	}
	if a == ps.Token(documents.HKID, "E1234567") {
		t.Fatal("token ignores the type")
	}
	if a == NewPseudonymizer([]byte("other")).Token(documents.Passport, "E1234567") {
		t.Fatal("token ignores the key")
	}
	// HMAC-SHA256("k", "passport:E1234567"), computed independently.
	mac := hmac.New(sha256.New, []byte("k"))
	mac.Write([]byte("passport:E1234567"))
	if want := hex.EncodeToString(mac.Sum(nil)); a != want {
		t.Fatalf("token %s, want %s", a, want)
	}
}

// TestRedact: the dead-letter copy of a line holds no document number,
// whatever the line's shape (every case below was a line whose copy once
// carried its number verbatim); known documents' numbers become their
// tokens, and the contract's other fields are kept.
func TestRedact(t *testing.T) {
	ps := NewPseudonymizer([]byte("k"))
	head := `{"event_id":"k1","type":"travel_permit.issued","agency":"nia","occurred_at":"2025-01-01T00:00:00Z"`
	cases := []struct {
		name, line string
		secret     []string // numbers that must not survive
		keep       []string // what must survive
	}{
		{"valid with an unknown type", string(line("residence_permit.issued", "mps", doc("residence_permit", "820000199002110019")+","+doc("fax", "H99887766"), "")),
			[]string{"820000199002110019", "99887766", "H99887766"}, []string{`"event_id":"e-1"`, `"name":"LIN Wai"`, "token:" + ps.Token(documents.ResidencePermit, "820000199002110019")}},
		{"key in the wrong case", head + `,"Documents":[{"type":"mainland_travel_permit","number":"H87654321"}]}`, []string{"H87654321", "87654321"}, []string{`"event_id":"k1"`}},
		{"truncated line", head + `,"documents":[{"type":"passport","number":"ABCDEFGH"}]`, []string{"ABCDEFGH"}, nil},
		{"a document's other key", head + `,"documents":[{"type":"passport","number":"ABCDEFGH","Number":"E7654321"}],"person":{"birth_date":"bad"}}`,
			[]string{"ABCDEFGH", "E7654321", "7654321"}, []string{"token:" + ps.Token(documents.Passport, "ABCDEFGH"), `"birth_date":"bad"`}},
		{"documents as an object", head + `,"documents":{"type":"passport","number":"QWERTYU"}}`, []string{"QWERTYU"}, []string{`"agency":"nia"`}},
		{"unknown document type", head + `,"documents":[{"type":"passprt","number":"ASDFGHJ"}]}`, []string{"ASDFGHJ"}, []string{`"type":"passprt"`}},
		{"duplicate documents", head + `,"documents":[{"type":"passport","number":"ZXCVBNM"}],"documents":[]}`, []string{"ZXCVBNM"}, nil},
		{"number in a person's unknown key", head + `,"documents":[],"person":{"passport":"QAZWSXED","name":"LIN Wai"}}`, []string{"QAZWSXED"}, []string{`"name":"LIN Wai"`}},
		{"number as a number", head + `,"documents":[{"type":"taiwan_travel_permit","number":12345678}]}`, []string{"12345678"}, nil},
		{"not an object", `["H87654321"]`, []string{"H87654321"}, nil},
		{"invalid UTF-8", head + `,"documents":[{"type":"passport","number":"PLMOKN` + "\xff" + `"}]}`, []string{"PLMOKN"}, nil},
		{"invalid JSON and UTF-8", head + `,"documents":[{"type":"passport","number":"PLMOKN` + "\xff" + `"}]`, []string{"PLMOKN"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := string(Redact([]byte(c.line), ps))
			for _, s := range c.secret {
				if strings.Contains(out, s) {
					t.Errorf("the copy keeps %q: %s", s, out)
				}
			}
			for _, s := range c.keep {
				if !strings.Contains(out, s) {
					t.Errorf("the copy lost %q: %s", s, out)
				}
			}
			checkRedacted(t, []byte(out))
		})
	}
}

// checkRedacted fails unless out (Redact's result) holds letters and digits
// only where Redact keeps them: the contract's fields and their keys, attrs,
// document types, and numbers turned into tokens.
func checkRedacted(t *testing.T, out []byte) {
	t.Helper()
	masked := func(s string) bool {
		return !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsNumber(r) })
	}
	var top map[string]any
	if err := json.Unmarshal(out, &top); err != nil {
		if !masked(string(out)) {
			t.Fatalf("a copy that is not a JSON object keeps letters or digits: %q", out)
		}
		return
	}
	fail := func(where string, v any) { t.Fatalf("%s keeps letters or digits: %v in %q", where, v, out) }
	// Masked values are strings: whatever Redact does not keep is masked
	// JSON text.
	maskedValue := func(where string, v any) {
		if s, ok := v.(string); !ok || !masked(s) {
			fail(where, v)
		}
	}
	object := func(where string, v any, keep func(k string, v any) bool) {
		m, ok := v.(map[string]any)
		if !ok {
			maskedValue(where, v)
			return
		}
		for k, e := range m {
			if !keep(k, e) {
				if !masked(k) {
					fail(where+" key", k)
				}
				maskedValue(where+"."+k, e)
			}
		}
	}
	isString := func(v any) bool { _, ok := v.(string); return ok }
	object("line", top, func(k string, v any) bool {
		switch k {
		case "event_id", "type", "agency", "occurred_at", "region":
			return isString(v)
		case "person":
			object("person", v, func(k string, v any) bool { return (k == "name" || k == "birth_date") && isString(v) })
			return true
		case "attrs":
			object("attrs", v, func(_ string, v any) bool { return isString(v) })
			return true
		case "documents":
			list, ok := v.([]any)
			if !ok {
				return false
			}
			for _, d := range list {
				object("document", d, func(k string, v any) bool {
					s, _ := v.(string)
					switch k {
					case "type":
						return isString(v)
					case "number":
						tok, ok := strings.CutPrefix(s, "token:")
						return ok && len(tok) == 64 && strings.Trim(tok, "0123456789abcdef") == ""
					}
					return false
				})
			}
			return true
		}
		return false
	})
}
