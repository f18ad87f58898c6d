package documents

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// fuzzType maps a byte to one of the known types, or to an unknown one.
func fuzzType(i byte) Type {
	types := Types()
	n := int(i) % (len(types) + 1)
	if n == len(types) {
		return Type("unknown_type")
	}
	return types[n]
}

func FuzzValidate(f *testing.F) {
	seeds := []struct {
		typ    byte
		number string
	}{
		{0, "820000199002110013"},
		{0, "82000019900211001x"},
		{0, "810000 20000229-1234"},
		{1, "11010519491231002X"},
		{1, "110105-19491231-002x"},
		{2, "h1234567801"},
		{2, "M-1234-5678"},
		{3, "12345678（02）"},
		{4, "A123456(3)"},
		{4, "ab 987654 (3)"},
		{5, "1234567(8)"},
		{6, "e12-345 678"},
		{7, "E12345678"},
		{6, strings.Repeat("9", MaxInputLen+1)},
		{1, "\xff\xfe（）"},
	}
	for _, s := range seeds {
		f.Add(s.typ, s.number)
	}

	now := time.Now()
	f.Fuzz(func(t *testing.T, ti byte, number string) {
		typ := fuzzType(ti)

		norm := Normalize(typ, number)
		if again := Normalize(typ, norm); again != norm {
			t.Fatalf("Normalize not idempotent: %q -> %q -> %q", number, norm, again)
		}

		v, err := validate(typ, number, now)
		if err != nil {
			var derr *Error
			if !errors.As(err, &derr) {
				t.Fatalf("error %T is not *Error", err)
			}
			if derr.Type != typ {
				t.Fatalf("error type %q, want %q", derr.Type, typ)
			}
			switch derr.Reason {
			case ReasonUnknownType, ReasonEmpty, ReasonFormat, ReasonCheckDigit,
				ReasonBirthDate, ReasonPrefix, ReasonTooLong:
			default:
				t.Fatalf("unknown reason %q", derr.Reason)
			}
			if v != (Valid{}) {
				t.Fatalf("non-zero Valid %+v with error", v)
			}
			msg := err.Error()
			for _, run := range digitRun.FindAllString(number+" "+norm, -1) {
				if strings.Contains(msg, run) {
					t.Fatalf("error %q contains the digits %q", msg, run)
				}
			}
			return
		}

		if v.Type != typ || v.Number != norm {
			t.Fatalf("Valid %+v, want type %q number %q", v, typ, norm)
		}
		if (v.BirthDate != "") != (typ == ResidencePermit || typ == MainlandID) {
			t.Fatalf("BirthDate %q for type %q", v.BirthDate, typ)
		}
		again, err := validate(typ, v.Number, now)
		if err != nil {
			t.Fatalf("normalised number no longer valid: %v", err)
		}
		if again != v {
			t.Fatalf("re-validation gave %+v, want %+v", again, v)
		}
	})
}
