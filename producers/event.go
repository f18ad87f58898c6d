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
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/idlink/idlink/documents"
	"github.com/idlink/idlink/schemas"
)

// MaxLineBytes is the longest event line accepted (512 KiB). Its event, or
// its dead letter, then fits in one message the writers send
// (pipeline.MaxBatchBytes, under the broker's default message.max.bytes);
// valid events are a few hundred bytes.
const MaxLineBytes = 512 << 10

// Event types of the contract.
const (
	TypeResidencePermitIssued  = "residence_permit.issued"
	TypeResidencePermitRevoked = "residence_permit.revoked"
	TypeTravelPermitIssued     = "travel_permit.issued"
	TypeInsuranceEnrolled      = "insurance.enrolled"
	TypeCodeActivated          = "insurance.code_activated"
	TypeIdentityVerified       = "identity.verified"
	TypeLinkRetracted          = "link.retracted"
)

// agenciesByType lists which agencies may publish each event type; nil means
// any agency.
var agenciesByType = map[string][]string{
	TypeResidencePermitIssued:  {"mps"},
	TypeResidencePermitRevoked: {"mps"},
	TypeTravelPermitIssued:     {"nia"},
	TypeInsuranceEnrolled:      {"nhsa"},
	TypeCodeActivated:          {"nhsa"},
	TypeIdentityVerified:       {"nia", "platform"},
	TypeLinkRetracted:          nil,
}

var knownAgencies = map[string]bool{"mps": true, "nia": true, "nhsa": true, "mot": true, "mohrss": true, "platform": true}

// attrValues restricts attribute values where the contract enumerates them.
var attrValues = map[string]map[string][]string{
	TypeInsuranceEnrolled: {"scheme": {"urban_rural", "employee"}},
	TypeCodeActivated:     {"channel": {"online", "offline"}},
	TypeIdentityVerified:  {"outcome": {"passed", "rejected"}},
}

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

// Parse decodes one JSON line into an Input.
func Parse(line []byte) (*Input, *Rejection) {
	if len(line) > MaxLineBytes {
		return nil, &Rejection{Reason: ReasonLineTooLong, Detail: fmt.Sprintf("line is %d bytes, the limit is %d", len(line), MaxLineBytes)}
	}
	var in Input
	// Unmarshal also rejects anything after the object.
	if err := json.Unmarshal(line, &in); err != nil {
		return nil, &Rejection{Reason: ReasonBadJSON, Detail: jsonDetail(err)}
	}
	return &in, nil
}

// jsonDetail describes a JSON error without echoing input values.
func jsonDetail(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("syntax error at byte %d", e.Offset)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("field %q must be a %s, not %s", e.Field, e.Type, e.Value)
	}
	return "not a JSON object"
}

// Validate checks in against the contract and returns the pseudonymised event.
// now bounds dates that may not lie in the future.
func Validate(in *Input, ps *Pseudonymizer) (*schemas.Event, *Rejection) {
	rej := func(reason, format string, a ...any) (*schemas.Event, *Rejection) {
		return nil, &Rejection{EventID: in.EventID, Reason: reason, Detail: fmt.Sprintf(format, a...)}
	}
	switch {
	case in.EventID == "":
		return rej(ReasonMissingEventID, "event_id is required")
	case utf8.RuneCountInString(in.EventID) > 64 || !utf8.ValidString(in.EventID):
		return rej(ReasonBadEventID, "event_id must be 1-64 characters")
	}
	allowed, ok := agenciesByType[in.Type]
	if !ok {
		return rej(ReasonUnknownType, "type %q is not one of %s", clip(in.Type), strings.Join(eventTypes(), ", "))
	}
	switch {
	case in.Agency == "":
		return rej(ReasonMissingAgency, "agency is required")
	case !knownAgencies[in.Agency]:
		return rej(ReasonUnknownAgency, "agency %q is not one of mps, nia, nhsa, mot, mohrss, platform", clip(in.Agency))
	case allowed != nil && !contains(allowed, in.Agency):
		return rej(ReasonAgencyNotAllowed, "%s events come from %s, not %s", in.Type, strings.Join(allowed, " or "), in.Agency)
	}
	at, err := time.Parse(time.RFC3339Nano, in.OccurredAt)
	if err != nil || !hasOffset(in.OccurredAt) {
		return rej(ReasonBadOccurredAt, "occurred_at must be RFC 3339 with an offset, like 2025-03-14T09:30:00+08:00")
	}
	if in.Region != "" && !regionRE.MatchString(in.Region) {
		return rej(ReasonBadRegion, "region must be a 6-digit administrative division code")
	}
	var birth string
	if in.Person != nil && in.Person.BirthDate != "" {
		d, err := time.Parse("2006-01-02", in.Person.BirthDate)
		if err != nil || d.Year() < 1900 {
			return rej(ReasonBadBirthDate, "person.birth_date must be a date YYYY-MM-DD")
		}
		birth = in.Person.BirthDate
	}
	min := 1
	if in.Type == TypeLinkRetracted {
		min = 0
	}
	switch {
	case len(in.Documents) < min:
		return rej(ReasonNoDocuments, "%s needs at least one document", in.Type)
	case len(in.Documents) > 8:
		return rej(ReasonTooManyDocuments, "an event names at most 8 documents, this one %d", len(in.Documents))
	}
	for k, vals := range attrValues[in.Type] {
		if v, ok := in.Attrs[k]; ok && !contains(vals, v) {
			return rej(ReasonBadAttr, "attrs.%s must be one of %s", k, strings.Join(vals, ", "))
		}
	}
	if in.Type == TypeLinkRetracted && in.Attrs["retracts"] == "" {
		return rej(ReasonMissingAttr, "link.retracted needs attrs.retracts, the event_id it withdraws")
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
		v, err := documents.Validate(t, d.Number)
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

// hasOffset reports whether an RFC 3339 timestamp ends in Z or ±hh:mm.
func hasOffset(s string) bool {
	if strings.HasSuffix(s, "Z") || strings.HasSuffix(s, "z") {
		return true
	}
	if len(s) < 6 {
		return false
	}
	c := s[len(s)-6]
	return (c == '+' || c == '-') && s[len(s)-3] == ':'
}

func eventTypes() []string {
	out := make([]string, 0, len(agenciesByType))
	for t := range agenciesByType {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

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

// Redact returns a copy of an event line that is safe to publish: when it
// parses, every document number is replaced by its token (or masked if its
// type is unknown); otherwise every digit is masked.
func Redact(line []byte, in *Input, ps *Pseudonymizer) []byte {
	if len(line) > 64<<10 {
		line = line[:64<<10]
	}
	if in == nil {
		return []byte(maskDigits(string(line)))
	}
	var generic map[string]any
	if err := json.Unmarshal(line, &generic); err != nil {
		return []byte(maskDigits(string(line)))
	}
	if docs, ok := generic["documents"].([]any); ok {
		for _, x := range docs {
			d, ok := x.(map[string]any)
			if !ok {
				continue
			}
			ts, _ := d["type"].(string)
			num, _ := d["number"].(string)
			if t, ok := documents.ParseType(ts); ok && num != "" {
				d["number"] = "token:" + ps.Token(t, documents.Normalize(t, num))
			} else {
				d["number"] = maskDigits(num)
			}
		}
	} else if _, ok := generic["documents"]; ok {
		generic["documents"] = maskDigits(fmt.Sprint(generic["documents"]))
	}
	out, err := json.Marshal(generic)
	if err != nil {
		return []byte(maskDigits(string(line)))
	}
	return out
}
