// Package producers is the agency publishing side of idlink: it parses agency
// events (JSON Lines, CONTRACT.md §1), validates them, replaces raw document
// numbers with keyed tokens, and publishes Avro to Kafka. Rejected events go
// to the dead-letter topic with a machine-readable reason and a redacted copy.
package producers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/idlink/idlink/documents"
	"github.com/idlink/idlink/eventtypes"
	"github.com/idlink/idlink/schemas"
)

// MaxLineBytes is the longest event line accepted (512 KiB). Its event, or
// its dead letter, then fits in one message the writers send
// (pipeline.MaxBatchBytes, under the broker's default message.max.bytes);
// valid events are a few hundred bytes.
const MaxLineBytes = 512 << 10

// Event types, as named by the registry (package eventtypes), which says
// who may publish each and which attrs it takes.
const (
	TypeResidencePermitIssued         = eventtypes.ResidencePermitIssued
	TypeResidencePermitRevoked        = eventtypes.ResidencePermitRevoked
	TypeTravelPermitIssued            = eventtypes.TravelPermitIssued
	TypeInsuranceEnrolled             = eventtypes.InsuranceEnrolled
	TypeCodeActivated                 = eventtypes.CodeActivated
	TypeIdentityVerified              = eventtypes.IdentityVerified
	TypeSocialSecurityCardIssued      = eventtypes.SocialSecurityCardIssued
	TypeDriverQualificationRegistered = eventtypes.DriverQualificationRegistered
	TypeInsuranceOffsiteFiled         = eventtypes.InsuranceOffsiteFiled
	TypeLinkRetracted                 = eventtypes.LinkRetracted
)

// Rejection reasons (machine-readable). Document-number reasons come from the
// documents package (bad_check_digit, bad_format, ...).
const (
	ReasonBadJSON           = "bad_json"
	ReasonLineTooLong       = "line_too_long"
	ReasonMissingEventID    = "missing_event_id"
	ReasonBadEventID        = "bad_event_id"
	ReasonUnknownType       = "unknown_type"
	ReasonMissingAgency     = "missing_agency"
	ReasonUnknownAgency     = "unknown_agency"
	ReasonAgencyNotAllowed  = "agency_not_allowed"
	ReasonBadOccurredAt     = "bad_occurred_at"
	ReasonBadRegion         = "bad_region"
	ReasonBadBirthDate      = "bad_birth_date"
	ReasonNoDocuments       = "no_documents"
	ReasonTooManyDocuments  = "too_many_documents"
	ReasonBirthDateMismatch = "birth_date_mismatch"
	ReasonBadAttr           = "bad_attr"
	ReasonMissingAttr       = "missing_attr"
	// ReasonBadUTF8: the line holds bytes that are not UTF-8, or a \u
	// escape naming a lone UTF-16 surrogate.
	ReasonBadUTF8 = "bad_utf8"
	// ReasonDuplicateKey: one object of the line has a key twice.
	ReasonDuplicateKey = "duplicate_key"
)

// Input is one event as an agency writes it.
type Input struct {
	EventID    string            `json:"event_id"`
	Type       string            `json:"type"`
	Agency     string            `json:"agency"`
	OccurredAt string            `json:"occurred_at"`
	Region     string            `json:"region,omitempty"`
	Person     *Person           `json:"person,omitempty"`
	Documents  []InputDocument   `json:"documents"`
	Attrs      map[string]string `json:"attrs,omitempty"`
}

// Person is the optional person block of an event.
type Person struct {
	Name      string `json:"name,omitempty"`
	BirthDate string `json:"birth_date,omitempty"`
}

// InputDocument is one document with its raw number.
type InputDocument struct {
	Type   string `json:"type"`
	Number string `json:"number"`
}

// Rejection says why an event was not accepted. It never holds a raw number.
type Rejection struct {
	EventID string
	Reason  string
	Detail  string
}

func (r *Rejection) Error() string {
	if r.Detail == "" {
		return r.Reason
	}
	return r.Reason + ": " + r.Detail
}

// Pseudonymizer turns document numbers into keyed tokens: the lower-case hex
// of HMAC-SHA256(key, type + ":" + normalised number). It is not safe for
// concurrent use; make one per goroutine.
type Pseudonymizer struct {
	mac hash.Hash
	buf []byte
}

// NewPseudonymizer returns a Pseudonymizer with the given secret key.
func NewPseudonymizer(key []byte) *Pseudonymizer {
	return &Pseudonymizer{mac: hmac.New(sha256.New, key)}
}

// Token returns the token of a normalised number of type t.
func (p *Pseudonymizer) Token(t documents.Type, normalised string) string {
	p.mac.Reset()
	p.buf = append(append(append(p.buf[:0], t...), ':'), normalised...)
	p.mac.Write(p.buf)
	var sum [sha256.Size]byte
	return hex.EncodeToString(p.mac.Sum(sum[:0]))
}

var regionRE = regexp.MustCompile(`^[0-9]{6}$`)

// Parse decodes one JSON line into an Input. The line must be valid UTF-8
// (else bad_utf8) and one JSON object (else bad_json) with no key twice in
// any object (else duplicate_key); keys match exactly, unknown keys are
// ignored (see lineParser).
func Parse(line []byte) (*Input, *Rejection) {
	if len(line) > MaxLineBytes {
		return nil, &Rejection{Reason: ReasonLineTooLong, Detail: fmt.Sprintf("line is %d bytes, the limit is %d", len(line), MaxLineBytes)}
	}
	if !utf8.Valid(line) {
		return nil, &Rejection{Reason: ReasonBadUTF8, Detail: fmt.Sprintf("byte %d is not UTF-8", firstInvalidUTF8(line)+1)}
	}
	var in Input
	p := lineParser{b: line}
	if rej := p.input(&in); rej != nil {
		return nil, rej
	}
	return &in, nil
}

// firstInvalidUTF8 returns the offset of the first byte of b that does not
// start a valid UTF-8 sequence, or len(b).
func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// Validate checks in against the contract and returns the pseudonymised
// event; "today", which bounds birth dates, is the clock's.
func Validate(in *Input, ps *Pseudonymizer) (*schemas.Event, *Rejection) {
	return ValidateAt(in, ps, time.Now())
}

// ValidateAt is Validate with "today" (in UTC+8) taken from now.
func ValidateAt(in *Input, ps *Pseudonymizer, now time.Time) (*schemas.Event, *Rejection) {
	rej := func(reason, format string, a ...any) (*schemas.Event, *Rejection) {
		return nil, &Rejection{EventID: in.EventID, Reason: reason, Detail: fmt.Sprintf(format, a...)}
	}
	switch {
	case in.EventID == "":
		return rej(ReasonMissingEventID, "event_id is required")
	case utf8.RuneCountInString(in.EventID) > 64 || !utf8.ValidString(in.EventID):
		return rej(ReasonBadEventID, "event_id must be 1-64 characters")
	}
	typ, ok := eventtypes.Lookup(in.Type)
	if !ok {
		return rej(ReasonUnknownType, "type %q is not one of %s", clip(in.Type), strings.Join(eventtypes.Names(), ", "))
	}
	switch {
	case in.Agency == "":
		return rej(ReasonMissingAgency, "agency is required")
	case !eventtypes.IsAgency(in.Agency):
		return rej(ReasonUnknownAgency, "agency %q is not one of %s", clip(in.Agency), strings.Join(eventtypes.Agencies(), ", "))
	case !typ.MayPublish(in.Agency):
		return rej(ReasonAgencyNotAllowed, "%s events come from %s, not %s", in.Type, typ.Publishers(), in.Agency)
	}
	at, ok := parseOccurredAt(in.OccurredAt)
	if !ok {
		return rej(ReasonBadOccurredAt, "occurred_at must be an RFC 3339 date-time with an offset, like 2025-03-14T09:30:00+08:00")
	}
	if in.Region != "" && !regionRE.MatchString(in.Region) {
		return rej(ReasonBadRegion, "region must be a 6-digit administrative division code")
	}
	var birth string
	if in.Person != nil && in.Person.BirthDate != "" {
		if !birthDateInRange(in.Person.BirthDate, now) {
			return rej(ReasonBadBirthDate, "person.birth_date must be a date YYYY-MM-DD from 1900-01-01 up to today in UTC+8")
		}
		birth = in.Person.BirthDate
	}
	switch {
	case len(in.Documents) < typ.MinDocuments():
		return rej(ReasonNoDocuments, "%s needs at least one document", in.Type)
	case len(in.Documents) > eventtypes.MaxDocuments:
		return rej(ReasonTooManyDocuments, "an event names at most %d documents, this one %d", eventtypes.MaxDocuments, len(in.Documents))
	}
	if p := typ.CheckAttrs(in.Attrs); p != nil {
		switch {
		case p.Missing && p.When != nil:
			return rej(ReasonMissingAttr, "%s needs attrs.%s when attrs.%s is %s", in.Type, p.Key, p.When.Key, p.When.Value)
		case p.Missing:
			return rej(ReasonMissingAttr, "%s needs attrs.%s", in.Type, p.Key)
		default:
			return rej(ReasonBadAttr, "attrs.%s must be one of %s", p.Key, strings.Join(p.Allowed, ", "))
		}
	}
	ev := &schemas.Event{
		EventID:    in.EventID,
		Type:       in.Type,
		Agency:     in.Agency,
		OccurredAt: at,
		Region:     in.Region,
		BirthDate:  birth,
		Attrs:      in.Attrs,
		Documents:  make([]schemas.DocumentRef, 0, len(in.Documents)),
	}
	seen := make(map[string]bool, len(in.Documents))
	for i, d := range in.Documents {
		t, ok := documents.ParseType(d.Type)
		if !ok {
			return rej(documents.ReasonUnknownType, "documents[%d]: type %q is not a known document type", i, clip(d.Type))
		}
		v, err := documents.ValidateAt(t, d.Number, now)
		if err != nil {
			reason := documents.ReasonFormat
			if de, ok := err.(*documents.Error); ok {
				reason = de.Reason
			}
			return rej(reason, "documents[%d]: %v", i, err)
		}
		if t == documents.ResidencePermit && birth != "" && v.BirthDate != birth {
			return rej(ReasonBirthDateMismatch, "documents[%d]: the residence permit's embedded birth date differs from person.birth_date", i)
		}
		tok := ps.Token(t, v.Number)
		if seen[tok] {
			continue
		}
		seen[tok] = true
		ev.Documents = append(ev.Documents, schemas.DocumentRef{Type: string(t), Token: tok, BirthDate: v.BirthDate})
	}
	return ev, nil
}

// birthDateInRange reports whether s is a date YYYY-MM-DD from 1900-01-01
// up to today in UTC+8 (the day now falls on there).
func birthDateInRange(s string, now time.Time) bool {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return false
	}
	ty, tm, td := now.UTC().Add(chinaOffset).Date()
	return !d.Before(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)) && !d.After(time.Date(ty, tm, td, 0, 0, 0, 0, time.UTC))
}

// chinaOffset is UTC+8, the zone in which "today" is measured.
const chinaOffset = 8 * time.Hour

// clip shortens user-supplied text quoted in error details and masks digits,
// so a misplaced document number never reaches a log or the dead-letter topic.
func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return maskDigits(s)
}

// maskDigits replaces every ASCII digit with '#'.
func maskDigits(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= '0' && c <= '9' {
			b[i] = '#'
		}
	}
	return string(b)
}

// Redact returns a copy of an event line that is safe to publish on the
// dead-letter topic: it holds no document number, whatever the line's shape.
// When the line is a JSON object, the contract's fields event_id, type,
// agency, occurred_at and region (strings), person's name and birth_date
// (strings) and attrs (a string map) are kept as a valid event publishes
// them; each document's number becomes "token:" and its token when its type
// is known, and is masked otherwise. Every other value is masked: keys the
// contract does not name (in any case), a document's other keys, fields of
// the wrong JSON type. A line that is not a JSON object is masked whole.
// Masking replaces every letter and digit with '#'.
func Redact(line []byte, ps *Pseudonymizer) []byte {
	if len(line) > 64<<10 {
		line = line[:64<<10]
	}
	var generic map[string]any
	if err := json.Unmarshal(line, &generic); err != nil || generic == nil {
		return []byte(maskAll(string(line)))
	}
	out := make(map[string]any, len(generic))
	for k, v := range generic {
		switch k {
		case "event_id", "type", "agency", "occurred_at", "region":
			if s, ok := v.(string); ok {
				out[k] = s
				continue
			}
		case "person":
			if m, ok := v.(map[string]any); ok {
				out[k] = redactObject(m, func(k string, v any) (any, bool) {
					s, ok := v.(string)
					return s, ok && (k == "name" || k == "birth_date")
				})
				continue
			}
		case "attrs":
			if m, ok := v.(map[string]any); ok {
				out[k] = redactObject(m, func(_ string, v any) (any, bool) {
					s, ok := v.(string)
					return s, ok
				})
				continue
			}
		case "documents":
			if list, ok := v.([]any); ok {
				docs := make([]any, len(list))
				for i, x := range list {
					docs[i] = redactDocument(x, ps)
				}
				out[k] = docs
				continue
			}
		}
		addMasked(out, k, v)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return []byte(maskAll(string(line)))
	}
	return b
}

// redactDocument is one element of documents, redacted: its number as a
// token (its type known) or masked, its type kept, anything else masked.
func redactDocument(x any, ps *Pseudonymizer) any {
	d, ok := x.(map[string]any)
	if !ok {
		return maskValue(x)
	}
	ts, _ := d["type"].(string)
	t, known := documents.ParseType(ts)
	return redactObject(d, func(k string, v any) (any, bool) {
		s, ok := v.(string)
		switch {
		case !ok:
			return nil, false
		case k == "type":
			return s, true
		case k == "number" && known && s != "":
			return "token:" + ps.Token(t, documents.Normalize(t, s)), true
		}
		return nil, false
	})
}

// redactObject copies m, keeping what keep says to keep (and how), masking
// the rest.
func redactObject(m map[string]any, keep func(k string, v any) (any, bool)) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if kept, ok := keep(k, v); ok {
			out[k] = kept
			continue
		}
		addMasked(out, k, v)
	}
	return out
}

// addMasked puts v masked under k masked, unless a kept or earlier masked
// entry has that name already.
func addMasked(out map[string]any, k string, v any) {
	mk := maskAll(k)
	if _, taken := out[mk]; !taken {
		out[mk] = maskValue(v)
	}
}

// maskValue is v as JSON text, masked.
func maskValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "#"
	}
	return maskAll(string(b))
}

// maskAll replaces every letter and digit with '#' (and bytes that are not
// UTF-8 with U+FFFD).
func maskAll(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsNumber(r) {
			b.WriteByte('#')
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}
