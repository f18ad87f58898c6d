package documents

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// testNow is the fixed "now" of the table tests: 2025-06-15 in China.
var testNow = time.Date(2025, 6, 15, 3, 0, 0, 0, time.UTC)

// withRPCheck appends the GB 11643 check character to 17 digits.
//
// It is written independently of the package: it derives each weight as
// 2^(position-1) mod 11 (ISO 7064 MOD 11-2, positions counted from the right,
// the check character at position 1) and searches for the check value that
// makes the weighted sum of all 18 characters congruent to 1 mod 11.
func withRPCheck(body17 string) string {
	if len(body17) != 17 {
		panic("withRPCheck: want 17 digits")
	}
	sum := 0
	for i := range 17 {
		w := 1
		for range 18 - 1 - i { // position 18-i, weight 2^(17-i)
			w = w * 2 % 11
		}
		sum += int(body17[i]-'0') * w
	}
	for c := range 11 {
		if (sum+c)%11 == 1 {
			if c == 10 {
				return body17 + "X"
			}
			return body17 + string(rune('0'+c))
		}
	}
	panic("unreachable")
}

// withHKIDCheck appends the HKID check character to 1-2 letters and 6 digits.
//
// It searches for the check value that makes the weighted sum of all 9
// positions (weights 9..1, the check at weight 1) divisible by 11, with a
// single letter padded by a space worth 36.
func withHKIDCheck(body string) string {
	padded := body
	if len(body) == 7 {
		padded = " " + body
	}
	if len(padded) != 8 {
		panic("withHKIDCheck: want 1-2 letters and 6 digits")
	}
	sum := 0
	for i, ch := range padded {
		var v int
		switch {
		case ch == ' ':
			v = 36
		case ch >= 'A' && ch <= 'Z':
			v = 10 + strings.IndexRune("ABCDEFGHIJKLMNOPQRSTUVWXYZ", ch)
		default:
			v = int(ch - '0')
		}
		sum += v * (9 - i)
	}
	for c := range 11 {
		if (sum+c)%11 == 0 {
			return body + string("0123456789A"[c])
		}
	}
	panic("unreachable")
}

// withWrongCheck replaces the last character of s by another valid-looking
// check character.
func withWrongCheck(s, alphabet string) string {
	last := s[len(s)-1]
	i := strings.IndexByte(alphabet, last)
	return s[:len(s)-1] + string(alphabet[(i+1)%len(alphabet)])
}

// rpWithCheckX returns an 18-character number with prefix and birth date
// whose check character is X.
func rpWithCheckX(prefix, ymd string) string {
	for seq := range 1000 {
		s := withRPCheck(prefix + ymd + threeDigits(seq))
		if s[17] == 'X' {
			return s
		}
	}
	panic("no sequence gives check X")
}

func threeDigits(n int) string {
	return string([]byte{byte('0' + n/100), byte('0' + n/10%10), byte('0' + n%10)})
}

func TestCheckHelpersAgainstPublicExamples(t *testing.T) {
	tests := []struct{ got, want string }{
		{withRPCheck("11010519491231002"), "11010519491231002X"}, // GB 11643 standard example
		{withRPCheck("44052418800101001"), "440524188001010014"}, // GB 11643 standard example
		{withRPCheck("82000019900211001"), "820000199002110013"}, // CONTRACT.md example
		{withHKIDCheck("A123456"), "A1234563"},                   // A123456(3)
		{withHKIDCheck("G123456"), "G123456A"},                   // G123456(A)
		{withHKIDCheck("AB987654"), "AB9876543"},                 // AB987654(3)
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("helper gave %s, public example is %s", tt.got, tt.want)
		}
	}
}

func TestValidateValid(t *testing.T) {
	rpHK := withRPCheck("810000" + "19800101" + "001")
	rpMO := withRPCheck("820000" + "19900211" + "001")
	rpTW := withRPCheck("830000" + "20000229" + "123")
	rpX := rpWithCheckX("820000", "19851231")
	idX := rpWithCheckX("440305", "19700615")

	tests := []struct {
		name  string
		typ   Type
		in    string
		want  string // normalised number
		birth string
	}{
		{"rp hong kong", ResidencePermit, rpHK, rpHK, "1980-01-01"},
		{"rp macao", ResidencePermit, rpMO, rpMO, "1990-02-11"},
		{"rp contract example", ResidencePermit, "820000199002110013", "820000199002110013", "1990-02-11"},
		{"rp taiwan leap day 2000", ResidencePermit, rpTW, rpTW, "2000-02-29"},
		{"rp lowercase x", ResidencePermit, strings.ToLower(rpX), rpX, "1985-12-31"},
		{"rp spaces dashes", ResidencePermit, rpMO[:6] + " " + rpMO[6:14] + "-" + rpMO[14:], rpMO, "1990-02-11"},
		{"rp earliest year", ResidencePermit, withRPCheck("810000" + "19000101" + "000"), withRPCheck("81000019000101000"), "1900-01-01"},
		{"rp born today", ResidencePermit, withRPCheck("830000" + "20250615" + "001"), withRPCheck("83000020250615001"), "2025-06-15"},
		{"rp leap day 2024", ResidencePermit, withRPCheck("810000" + "20240229" + "001"), withRPCheck("81000020240229001"), "2024-02-29"},

		{"id standard example", MainlandID, "11010519491231002X", "11010519491231002X", "1949-12-31"},
		{"id standard example lowercase", MainlandID, "110105-19491231-002x", "11010519491231002X", "1949-12-31"},
		{"id check X", MainlandID, idX, idX, "1970-06-15"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := validate(tt.typ, tt.in, testNow)
			if err != nil {
				t.Fatalf("validate: %v", err)
			}
			want := Valid{Type: tt.typ, Number: tt.want, BirthDate: tt.birth}
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestValidateValidOtherTypes(t *testing.T) {
	tests := []struct {
		name string
		typ  Type
		in   string
		want string
	}{
		{"mtp H", MainlandTravelPermit, "H12345678", "H12345678"},
		{"mtp M lowercase", MainlandTravelPermit, "m87654321", "M87654321"},
		{"mtp issue count", MainlandTravelPermit, "H1234567801", "H12345678"},
		{"mtp issue count spaced", MainlandTravelPermit, "h 1234 5678 (01)", "H12345678"},
		{"mtp dashes", MainlandTravelPermit, "M-1234-5678", "M12345678"},

		{"taiwan", TaiwanTravelPermit, "12345678", "12345678"},
		{"taiwan issue count", TaiwanTravelPermit, "1234567801", "12345678"},
		{"taiwan issue count bracketed", TaiwanTravelPermit, "12345678(02)", "12345678"},
		{"taiwan full-width brackets", TaiwanTravelPermit, "12345678（03）", "12345678"},

		{"hkid public example", HKID, "A123456(3)", "A1234563"},
		{"hkid public example no brackets", HKID, "A1234563", "A1234563"},
		{"hkid check A", HKID, "G123456(A)", "G123456A"},
		{"hkid two letters", HKID, "AB987654(3)", "AB9876543"},
		{"hkid lowercase spaced", HKID, "ab 987654 (3)", "AB9876543"},
		{"hkid full-width brackets", HKID, "A123456（3）", "A1234563"},
		{"hkid computed", HKID, withHKIDCheck("Z765432"), withHKIDCheck("Z765432")},
		{"hkid computed two letters", HKID, withHKIDCheck("XY000001"), withHKIDCheck("XY000001")},
		{"hkid computed check A lowercase", HKID, strings.ToLower(withHKIDCheck("G123456")), "G123456A"},

		{"macao 1", MacaoID, "1234567(8)", "12345678"},
		{"macao 5", MacaoID, "5215299(8)", "52152998"},
		{"macao 7 full-width", MacaoID, "7000001（0）", "70000010"},
		{"macao any check digit", MacaoID, "12345679", "12345679"},

		{"passport", Passport, "E12345678", "E12345678"},
		{"passport lowercase dashes", Passport, "g12-345 678", "G12345678"},
		{"passport shortest", Passport, "AB123", "AB123"},
		{"passport longest", Passport, strings.Repeat("A1", 10), strings.Repeat("A1", 10)},
		{"passport padded to limit", Passport, strings.Repeat(" ", MaxInputLen-9) + "E12345678", "E12345678"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := validate(tt.typ, tt.in, testNow)
			if err != nil {
				t.Fatalf("validate: %v", err)
			}
			want := Valid{Type: tt.typ, Number: tt.want}
			if got != want {
				t.Errorf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestValidateInvalid(t *testing.T) {
	rp := withRPCheck("820000" + "19900211" + "001")
	id := withRPCheck("440305" + "19900211" + "001")
	tooLong := strings.Repeat("1", MaxInputLen+1)

	tests := []struct {
		name   string
		typ    Type
		in     string
		reason string
	}{
		{"unknown type", Type("id_card"), "12345678", ReasonUnknownType},
		{"type is case-sensitive", Type("Passport"), "E12345678", ReasonUnknownType},
		{"empty type", Type(""), "E12345678", ReasonUnknownType},

		{"rp empty", ResidencePermit, "", ReasonEmpty},
		{"rp only separators", ResidencePermit, " -()（） ", ReasonEmpty},
		{"rp too long", ResidencePermit, tooLong, ReasonTooLong},
		{"rp too long of spaces", ResidencePermit, strings.Repeat(" ", MaxInputLen+1), ReasonTooLong},
		{"rp 17 chars", ResidencePermit, rp[:17], ReasonFormat},
		{"rp 19 chars", ResidencePermit, rp + "0", ReasonFormat},
		{"rp letter inside", ResidencePermit, rp[:10] + "A" + rp[11:], ReasonFormat},
		{"rp check char A", ResidencePermit, rp[:17] + "A", ReasonFormat},
		{"rp X inside", ResidencePermit, "X" + rp[1:], ReasonFormat},
		{"rp mainland prefix", ResidencePermit, withRPCheck("110105" + "19900211" + "001"), ReasonPrefix},
		{"rp prefix 810001", ResidencePermit, withRPCheck("810001" + "19900211" + "001"), ReasonPrefix},
		{"rp prefix 840000", ResidencePermit, withRPCheck("840000" + "19900211" + "001"), ReasonPrefix},
		{"rp bad check", ResidencePermit, withWrongCheck(rp, "0123456789X"), ReasonCheckDigit},
		{"rp bad check X", ResidencePermit, rp[:17] + "X", ReasonCheckDigit},
		{"rp feb 29 non-leap 2023", ResidencePermit, withRPCheck("810000" + "20230229" + "001"), ReasonBirthDate},
		{"rp feb 29 non-leap 1900", ResidencePermit, withRPCheck("810000" + "19000229" + "001"), ReasonBirthDate},
		{"rp feb 30 leap", ResidencePermit, withRPCheck("810000" + "20240230" + "001"), ReasonBirthDate},
		{"rp apr 31", ResidencePermit, withRPCheck("810000" + "19900431" + "001"), ReasonBirthDate},
		{"rp month 13", ResidencePermit, withRPCheck("810000" + "19901301" + "001"), ReasonBirthDate},
		{"rp month 0", ResidencePermit, withRPCheck("810000" + "19900001" + "001"), ReasonBirthDate},
		{"rp day 0", ResidencePermit, withRPCheck("810000" + "19900100" + "001"), ReasonBirthDate},
		{"rp year 1899", ResidencePermit, withRPCheck("810000" + "18991231" + "001"), ReasonBirthDate},
		{"rp tomorrow", ResidencePermit, withRPCheck("830000" + "20250616" + "001"), ReasonBirthDate},
		{"rp next year", ResidencePermit, withRPCheck("830000" + "20260101" + "001"), ReasonBirthDate},

		{"id empty", MainlandID, "", ReasonEmpty},
		{"id too long", MainlandID, tooLong, ReasonTooLong},
		{"id short", MainlandID, id[:16], ReasonFormat},
		{"id hk prefix", MainlandID, withRPCheck("810000" + "19900211" + "001"), ReasonPrefix},
		{"id macao prefix", MainlandID, rp, ReasonPrefix},
		{"id taiwan prefix", MainlandID, withRPCheck("830000" + "19900211" + "001"), ReasonPrefix},
		{"id bad check", MainlandID, withWrongCheck(id, "0123456789X"), ReasonCheckDigit},
		{"id standard example bad check", MainlandID, "110105194912310021", ReasonCheckDigit},
		{"id feb 29 non-leap", MainlandID, withRPCheck("440305" + "19990229" + "001"), ReasonBirthDate},
		{"id year 1880", MainlandID, "440524188001010014", ReasonBirthDate},
		{"id future", MainlandID, withRPCheck("440305" + "20991231" + "001"), ReasonBirthDate},

		{"mtp empty", MainlandTravelPermit, "  ", ReasonEmpty},
		{"mtp too long", MainlandTravelPermit, tooLong, ReasonTooLong},
		{"mtp wrong prefix", MainlandTravelPermit, "X12345678", ReasonPrefix},
		{"mtp wrong prefix with issue count", MainlandTravelPermit, "C1234567801", ReasonPrefix},
		{"mtp no letter", MainlandTravelPermit, "12345678", ReasonFormat},
		{"mtp 7 digits", MainlandTravelPermit, "H1234567", ReasonFormat},
		{"mtp 9 digits", MainlandTravelPermit, "H123456789", ReasonFormat},
		{"mtp 11 digits", MainlandTravelPermit, "H12345678901", ReasonFormat},
		{"mtp two letters", MainlandTravelPermit, "HM12345678", ReasonFormat},

		{"taiwan empty", TaiwanTravelPermit, "", ReasonEmpty},
		{"taiwan too long", TaiwanTravelPermit, tooLong, ReasonTooLong},
		{"taiwan letter prefix", TaiwanTravelPermit, "T12345678", ReasonFormat},
		{"taiwan 7 digits", TaiwanTravelPermit, "1234567", ReasonFormat},
		{"taiwan 9 digits", TaiwanTravelPermit, "123456789", ReasonFormat},
		{"taiwan 11 digits", TaiwanTravelPermit, "12345678901", ReasonFormat},

		{"hkid empty", HKID, "()", ReasonEmpty},
		{"hkid too long", HKID, tooLong, ReasonTooLong},
		{"hkid bad check", HKID, "A123456(4)", ReasonCheckDigit},
		{"hkid bad check computed", HKID, withWrongCheck(withHKIDCheck("AB987654"), "0123456789A"), ReasonCheckDigit},
		{"hkid check A wrong", HKID, "A123456(A)", ReasonCheckDigit},
		{"hkid check B", HKID, "A123456(B)", ReasonFormat},
		{"hkid digit prefix", HKID, "1234567(8)", ReasonFormat},
		{"hkid no letter", HKID, "123456(7)", ReasonFormat},
		{"hkid three letters", HKID, "ABC123456(7)", ReasonFormat},
		{"hkid 5 digits", HKID, "A12345(6)", ReasonFormat},
		{"hkid letter in digits", HKID, "A12B456(3)", ReasonFormat},

		{"macao empty", MacaoID, "", ReasonEmpty},
		{"macao too long", MacaoID, tooLong, ReasonTooLong},
		{"macao prefix 2", MacaoID, "2234567(8)", ReasonPrefix},
		{"macao prefix 0", MacaoID, "0234567(8)", ReasonPrefix},
		{"macao 7 digits", MacaoID, "123456(7)", ReasonFormat},
		{"macao 9 digits", MacaoID, "12345678(9)", ReasonFormat},
		{"macao letter", MacaoID, "A234567(8)", ReasonFormat},

		{"passport empty", Passport, "", ReasonEmpty},
		{"passport too long", Passport, tooLong, ReasonTooLong},
		{"passport 4 chars", Passport, "E123", ReasonFormat},
		{"passport 21 chars", Passport, strings.Repeat("A", 21), ReasonFormat},
		{"passport underscore", Passport, "E1234_5678", ReasonFormat},
		{"passport full-width digit", Passport, "E1234567８", ReasonFormat},
		{"passport non-ascii letter", Passport, "ſ12345678", ReasonFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := validate(tt.typ, tt.in, testNow)
			if err == nil {
				t.Fatalf("validate accepted it: %+v", got)
			}
			if got != (Valid{}) {
				t.Errorf("got %+v with an error, want zero Valid", got)
			}
			var derr *Error
			if !errors.As(err, &derr) {
				t.Fatalf("error %T is not *Error", err)
			}
			if derr.Reason != tt.reason {
				t.Errorf("reason %q (%v), want %q", derr.Reason, err, tt.reason)
			}
			if derr.Type != tt.typ {
				t.Errorf("error type %q, want %q", derr.Type, tt.typ)
			}
			assertNoNumber(t, err.Error(), tt.in, Normalize(tt.typ, tt.in))
		})
	}
}

var digitRun = regexp.MustCompile(`[0-9]{5,}`)

// assertNoNumber fails if msg contains any of the numbers, or any run of 5
// or more digits taken from them.
func assertNoNumber(t *testing.T, msg string, numbers ...string) {
	t.Helper()
	for _, n := range numbers {
		if len(n) >= 5 && strings.Contains(msg, n) {
			t.Errorf("error %q contains the number", msg)
		}
		for _, run := range digitRun.FindAllString(n, -1) {
			if strings.Contains(msg, run) {
				t.Errorf("error %q contains the digits %q", msg, run)
			}
		}
	}
}

func TestValidateUsesToday(t *testing.T) {
	// Two days ahead is in the future in every time zone.
	future := time.Now().AddDate(0, 0, 2).Format("20060102")
	_, err := Validate(ResidencePermit, withRPCheck("810000"+future+"001"))
	var derr *Error
	if !errors.As(err, &derr) || derr.Reason != ReasonBirthDate {
		t.Errorf("future birth date: got %v, want %s", err, ReasonBirthDate)
	}

	past := time.Now().AddDate(-30, 0, 0).Format("20060102")
	if _, err := Validate(ResidencePermit, withRPCheck("810000"+past+"001")); err != nil {
		t.Errorf("birth date 30 years ago: %v", err)
	}
}

func TestValidateTodayIsChinaTime(t *testing.T) {
	tests := []struct {
		name string
		now  time.Time
		ymd  string
		ok   bool
	}{
		{"utc evening is next day in china", time.Date(2025, 6, 15, 20, 0, 0, 0, time.UTC), "20250616", true},
		{"utc morning is same day in china", time.Date(2025, 6, 15, 10, 0, 0, 0, time.UTC), "20250616", false},
		{"other zone converted", time.Date(2025, 6, 15, 23, 0, 0, 0, time.FixedZone("X", -5*3600)), "20250616", true},
		{"new year", time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC), "20260101", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := validate(MainlandID, withRPCheck("440305"+tt.ymd+"001"), tt.now)
			if ok := err == nil; ok != tt.ok {
				t.Errorf("accepted = %v (%v), want %v", ok, err, tt.ok)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		typ  Type
		in   string
		want string
	}{
		{HKID, "a123456(3)", "A1234563"},
		{HKID, "A123456（3）", "A1234563"},
		{HKID, " a-1 2 3 4 5 6 ( 3 ) ", "A1234563"},
		{MainlandTravelPermit, "H1234567801", "H12345678"},
		{MainlandTravelPermit, "m12345678-01", "M12345678"},
		{MainlandTravelPermit, "H12345678", "H12345678"},
		{MainlandTravelPermit, "X1234567801", "X1234567801"}, // not H/M: kept
		{MainlandTravelPermit, "H123456780", "H123456780"},   // 1 extra digit: kept
		{MainlandTravelPermit, "H123456780123", "H123456780123"},
		{TaiwanTravelPermit, "1234567801", "12345678"},
		{TaiwanTravelPermit, "12345678", "12345678"},
		{TaiwanTravelPermit, "123456780", "123456780"},
		{TaiwanTravelPermit, "A234567801", "A234567801"},
		{Passport, "1234567801", "1234567801"}, // suffix rule is per type
		{ResidencePermit, "82000019900211001x", "82000019900211001X"},
		{Passport, "é12345", "é12345"},                                // only ASCII letters change case
		{Passport, "\xff12345", "\uFFFD12345"},                        // invalid UTF-8 becomes U+FFFD
		{Passport, "000\xef \xbc\x88000", "000\uFFFD\uFFFD\uFFFD000"}, // no bracket from fragments
		{Type("unknown"), "ab-c", "ABC"},
		{HKID, "", ""},
	}
	for _, tt := range tests {
		t.Run(string(tt.typ)+"/"+tt.in, func(t *testing.T) {
			got := Normalize(tt.typ, tt.in)
			if got != tt.want {
				t.Errorf("Normalize = %q, want %q", got, tt.want)
			}
			if again := Normalize(tt.typ, got); again != got {
				t.Errorf("Normalize not idempotent: %q then %q", got, again)
			}
		})
	}
}

func TestTypes(t *testing.T) {
	want := []Type{ResidencePermit, MainlandID, MainlandTravelPermit, TaiwanTravelPermit, HKID, MacaoID, Passport}
	got := Types()
	if !slices.Equal(got, want) {
		t.Fatalf("Types() = %v, want %v", got, want)
	}
	got[0] = "changed"
	if Types()[0] != ResidencePermit {
		t.Error("Types() returns a shared slice")
	}
}

func TestParseType(t *testing.T) {
	for _, typ := range Types() {
		if got, ok := ParseType(string(typ)); !ok || got != typ {
			t.Errorf("ParseType(%q) = %q, %v", typ, got, ok)
		}
	}
	for _, s := range []string{"", "HKID", "hkid ", " passport", "id_card", "residence-permit"} {
		if got, ok := ParseType(s); ok || got != "" {
			t.Errorf("ParseType(%q) = %q, %v; want \"\", false", s, got, ok)
		}
	}
}

func TestSingleHolder(t *testing.T) {
	tests := []struct {
		typ  Type
		want bool
	}{
		{ResidencePermit, true},
		{MainlandID, true},
		{MainlandTravelPermit, true},
		{TaiwanTravelPermit, true},
		{HKID, true},
		{MacaoID, true},
		{Passport, false},
		{Type("unknown"), false},
	}
	for _, tt := range tests {
		if got := tt.typ.SingleHolder(); got != tt.want {
			t.Errorf("%q.SingleHolder() = %v, want %v", tt.typ, got, tt.want)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{Type: HKID, Reason: ReasonCheckDigit, Detail: "mod-11 check character does not match"},
			"documents: hkid: bad_check_digit: mod-11 check character does not match"},
		{&Error{Type: Passport, Reason: ReasonEmpty}, "documents: passport: empty_number"},
		{&Error{Type: Type("E12345678"), Reason: ReasonUnknownType}, "documents: unknown_document_type"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	number := withRPCheck("820000" + "19900211" + "001")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Validate(ResidencePermit, number); err != nil {
			b.Fatal(err)
		}
	}
}

// TestProvincePrefix tries every two-digit prefix on a mainland ID with a
// correct check character: exactly the 34 province-level divisions of
// GB/T 2260 pass, every other prefix is bad_region_prefix. Residence permits
// keep their own prefixes, which no mainland ID may use.
func TestProvincePrefix(t *testing.T) {
	// The divisions by kind, as GB/T 2260 lists them.
	want := map[string]bool{}
	for _, group := range [][]string{
		{"11", "12", "31", "50"}, // municipalities
		{"13", "14", "21", "22", "23", "32", "33", "34", "35", "36", "37", "41", "42", "43", "44", "46", "51", "52", "53", "61", "62", "63", "71"}, // provinces
		{"15", "45", "54", "64", "65"}, // autonomous regions
		{"81", "82"},                   // special administrative regions
	} {
		for _, p := range group {
			want[p] = true
		}
	}
	if len(want) != 34 || len(Provinces()) != 34 {
		t.Fatalf("%d divisions in the test, %d in Provinces(), want 34", len(want), len(Provinces()))
	}
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for n := range 100 {
		p := fmt.Sprintf("%02d", n)
		// A county-level code under the prefix (01 01), not a residence
		// permit prefix.
		id := withRPCheck(p + "0101" + "19900211" + "001")
		_, err := validate(MainlandID, id, now)
		var derr *Error
		switch {
		case want[p] && err != nil:
			t.Errorf("prefix %s: %v, want accepted", p, err)
		case !want[p] && (!errors.As(err, &derr) || derr.Reason != ReasonPrefix):
			t.Errorf("prefix %s: %v, want %s", p, err, ReasonPrefix)
		}
		if IsProvince(p) != want[p] {
			t.Errorf("IsProvince(%s) = %v", p, IsProvince(p))
		}
	}
	for _, rp := range []string{"810000", "820000", "830000"} {
		if _, err := validate(ResidencePermit, withRPCheck(rp+"19900211"+"001"), now); err != nil {
			t.Errorf("residence permit %s: %v", rp, err)
		}
		_, err := validate(MainlandID, withRPCheck(rp+"19900211"+"001"), now)
		var derr *Error
		if !errors.As(err, &derr) || derr.Reason != ReasonPrefix {
			t.Errorf("mainland ID with prefix %s: %v, want %s", rp, err, ReasonPrefix)
		}
	}
}
