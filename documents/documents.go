// Package documents decides whether a document number is valid for its
// document type, and what its normalised form is.
//
// It knows the seven document types of the idlink event contract
// (residence permits, mainland ID cards, travel permits, Hong Kong and Macao
// identity cards and passports). It does no I/O, keeps no state and never puts
// a raw document number into an error message.
//
// Typical use:
//
//	v, err := documents.Validate(documents.HKID, "a123456(3)")
//	if err != nil {
//		var derr *documents.Error
//		if errors.As(err, &derr) {
//			deadLetter(derr.Reason)
//		}
//		return
//	}
//	token := pseudonymise(string(v.Type) + ":" + v.Number) // v.Number == "A1234563"
package documents

import (
	"strings"
	"time"
	"unicode/utf8"
)

// Type is a document type name as it appears in event JSON.
type Type string

// The document types of the event contract.
const (
	// ResidencePermit is the Residence Permit for Hong Kong, Macao and Taiwan
	// Residents: 18 characters, region prefix 810000, 820000 or 830000.
	ResidencePermit Type = "residence_permit"
	// MainlandID is the mainland Resident Identity Card (GB 11643):
	// 18 characters, any other region prefix.
	MainlandID Type = "mainland_id"
	// MainlandTravelPermit is the Mainland Travel Permit for Hong Kong and
	// Macao Residents (Home Return Permit): H or M and 8 digits.
	MainlandTravelPermit Type = "mainland_travel_permit"
	// TaiwanTravelPermit is the Mainland Travel Permit for Taiwan Residents:
	// 8 digits.
	TaiwanTravelPermit Type = "taiwan_travel_permit"
	// HKID is the Hong Kong Identity Card: 1-2 letters, 6 digits and a
	// mod-11 check character.
	HKID Type = "hkid"
	// MacaoID is the Macao Resident Identity Card: 8 digits starting with
	// 1, 5 or 7.
	MacaoID Type = "macao_id"
	// Passport is a passport of any country: 5-20 letters and digits.
	Passport Type = "passport"
)

// Types lists every known type in a fixed order. The slice is new on each
// call; the caller may modify it.
func Types() []Type {
	return []Type{
		ResidencePermit,
		MainlandID,
		MainlandTravelPermit,
		TaiwanTravelPermit,
		HKID,
		MacaoID,
		Passport,
	}
}

// ParseType returns the Type named s and true, or "" and false if s is not
// exactly the name of a known type (no case folding, no trimming).
func ParseType(s string) (Type, bool) {
	t := Type(s)
	if !t.known() {
		return "", false
	}
	return t, true
}

// SingleHolder reports whether one person holds at most one number of this
// type. That is true of every known type but Passport (a person may hold
// passports of several countries); it is false for unknown types.
func (t Type) SingleHolder() bool {
	return t.known() && t != Passport
}

func (t Type) known() bool {
	switch t {
	case ResidencePermit, MainlandID, MainlandTravelPermit, TaiwanTravelPermit,
		HKID, MacaoID, Passport:
		return true
	}
	return false
}

// MaxInputLen is the longest number, in bytes, that Validate accepts before
// normalising. Longer input is rejected with ReasonTooLong.
const MaxInputLen = 64

// Reason codes of Error. They are stable and machine-readable: they end up in
// dead-letter records and metrics labels.
const (
	ReasonUnknownType = "unknown_document_type"
	ReasonEmpty       = "empty_number"
	ReasonFormat      = "bad_format"
	ReasonCheckDigit  = "bad_check_digit"
	ReasonBirthDate   = "bad_embedded_birth_date"
	ReasonPrefix      = "bad_region_prefix"
	ReasonTooLong     = "number_too_long"
)

// Valid is a number that passed Validate.
type Valid struct {
	// Type is the document type.
	Type Type
	// Number is the normalised number (see Normalize).
	Number string
	// BirthDate is the birth date embedded in a ResidencePermit or MainlandID
	// number, as "YYYY-MM-DD"; "" for other types.
	BirthDate string
}

// Error is returned by Validate.
type Error struct {
	// Type is the document type the number was checked against.
	Type Type
	// Reason is one of the Reason* codes.
	Reason string
	// Detail says what was wrong in words. It never contains the number,
	// nor any run of five or more digits (not even public region prefixes),
	// so it cannot echo part of one.
	Detail string
}

// Error returns "documents: <type>: <reason>[: <detail>]". It never contains
// the number, so it is safe to log. For ReasonUnknownType the type itself is
// left out as well, since it is untrusted input.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("documents: ")
	if e.Reason != ReasonUnknownType {
		b.WriteString(string(e.Type))
		b.WriteString(": ")
	}
	b.WriteString(e.Reason)
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Normalize returns number in the canonical form used for comparison and
// pseudonymisation: ASCII letters upper-cased; brackets (ASCII and full-width),
// spaces and dashes removed; and for MainlandTravelPermit (H/M + 8 digits) and
// TaiwanTravelPermit (8 digits) an optional trailing 2-digit issue count
// dropped, so "h1234567801" becomes "H12345678" and "1234567801" becomes
// "12345678".
//
// Other characters, including non-ASCII letters, are kept as they are (bytes
// that are not valid UTF-8 become U+FFFD), so the result is only meaningful
// for numbers that Validate accepts. Normalize is idempotent.
func Normalize(t Type, number string) string {
	var b strings.Builder
	b.Grow(len(number))
	for i := 0; i < len(number); {
		r, size := utf8.DecodeRuneInString(number[i:])
		switch {
		case r == ' ', r == '-', r == '(', r == ')', r == '（', r == '）':
			// dropped
		case 'a' <= r && r <= 'z':
			b.WriteByte(byte(r - 'a' + 'A'))
		case r == utf8.RuneError:
			// Invalid UTF-8 (or U+FFFD itself). Writing U+FFFD rather than
			// the raw bytes keeps Normalize idempotent: dropping a space
			// between two fragments must not create a bracket.
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteString(number[i : i+size])
		}
		i += size
	}
	s := b.String()

	switch t {
	case MainlandTravelPermit:
		if len(s) == 11 && (s[0] == 'H' || s[0] == 'M') && allDigits(s[1:]) {
			s = s[:9]
		}
	case TaiwanTravelPermit:
		if len(s) == 10 && allDigits(s) {
			s = s[:8]
		}
	}
	return s
}

// Validate normalises number (see Normalize) and checks it against the format
// of t. It returns the normalised number and, for ResidencePermit and
// MainlandID, the embedded birth date. Any error is an *Error.
//
// An embedded birth date must be a real calendar date from 1900-01-01 up to
// today in China Standard Time (UTC+8). A mainland ID's first two digits
// must name a province-level division of GB/T 2260 (see IsProvince).
func Validate(t Type, number string) (Valid, error) {
	return ValidateAt(t, number, time.Now())
}

// ValidateAt is Validate with "today" taken from now instead of the clock.
func ValidateAt(t Type, number string, now time.Time) (Valid, error) {
	return validate(t, number, now)
}

// validate is ValidateAt; the tests call it by this name.
func validate(t Type, number string, now time.Time) (Valid, error) {
	if !t.known() {
		return Valid{}, &Error{Type: t, Reason: ReasonUnknownType,
			Detail: "want one of " + typeList()}
	}
	if len(number) > MaxInputLen {
		return Valid{}, &Error{Type: t, Reason: ReasonTooLong,
			Detail: "longer than the 64-byte limit"}
	}
	s := Normalize(t, number)
	if s == "" {
		return Valid{}, &Error{Type: t, Reason: ReasonEmpty}
	}

	v := Valid{Type: t, Number: s}
	var err *Error
	switch t {
	case ResidencePermit, MainlandID:
		v.BirthDate, err = checkGB11643(t, s, now)
	case MainlandTravelPermit:
		err = checkMainlandTravelPermit(s)
	case TaiwanTravelPermit:
		err = checkTaiwanTravelPermit(s)
	case HKID:
		err = checkHKID(s)
	case MacaoID:
		err = checkMacaoID(s)
	case Passport:
		err = checkPassport(s)
	}
	if err != nil {
		err.Type = t
		return Valid{}, err
	}
	return v, nil
}

func typeList() string {
	var b strings.Builder
	for i, t := range Types() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(t))
	}
	return b.String()
}
