package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/idlink/idlink/documents"
	"github.com/idlink/idlink/schemas"
)

// Reasons of a 400 answer, besides the document reasons of package
// documents (unknown_document_type, empty_number, number_too_long,
// bad_format, bad_check_digit, bad_embedded_birth_date, bad_region_prefix).
const (
	ReasonBadJSON          = "bad_json"           // not one JSON object of the documented shape
	ReasonMissingField     = "missing_field"      // a required field is absent or null
	ReasonBadBirthDate     = "bad_birth_date"     // person.birth_date is not a date YYYY-MM-DD from 1900-01-01 to today
	ReasonTooFewDocuments  = "too_few_documents"  // match with fewer than MinMatch documents
	ReasonTooManyDocuments = "too_many_documents" // match with more than MaxMatch documents
)

// The number of documents a match compares.
const (
	MinMatch = 2
	MaxMatch = 8
)

// MaxBody is the largest request body the API reads; a larger one is 413.
const MaxBody = 64 << 10

// badRequest is a 400 answer: a reason, the field it concerns, and words.
// None of them ever holds what the caller sent.
type badRequest struct {
	Reason string
	Field  string
	Detail string
}

func (e *badRequest) Error() string { return e.Reason + ": " + e.Field + ": " + e.Detail }

// docIn is a document as a request names it; nil means absent or null.
type docIn struct {
	Type   *string `json:"type"`
	Number *string `json:"number"`
}

type verifyIn struct {
	Document *docIn    `json:"document"`
	Person   *personIn `json:"person"`
}

type personIn struct {
	Name      *string `json:"name"`
	BirthDate *string `json:"birth_date"`
}

type matchIn struct {
	Documents *[]*docIn `json:"documents"`
}

// doc is a valid document of a request.
type doc struct {
	valid documents.Valid
	token string
}

// decode reads body as one JSON object into v: nothing but white space may
// follow it.
func decode(body []byte, v any) *badRequest {
	if err := json.Unmarshal(body, v); err != nil {
		return jsonError(err)
	}
	return nil
}

// jsonError describes a decoding error without quoting the input.
func jsonError(err error) *badRequest {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return &badRequest{Reason: ReasonBadJSON, Detail: "the body must be a JSON object, not " + te.Value}
		}
		return &badRequest{Reason: ReasonBadJSON, Field: te.Field, Detail: "wrong JSON type: " + te.Value + " where the API takes " + jsonKind(te.Type.Kind().String())}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &badRequest{Reason: ReasonBadJSON, Detail: fmt.Sprintf("malformed JSON at byte %d: the body must be one JSON object", se.Offset)}
	}
	return &badRequest{Reason: ReasonBadJSON, Detail: "the body is not valid JSON"}
}

func jsonKind(k string) string {
	switch k {
	case "ptr", "struct":
		return "an object"
	case "slice":
		return "an array"
	}
	return "a " + k
}

// document validates one document at field (e.g. "documents[1]"), adding
// what may be recorded of it to the audit record: its type if known, its
// token if valid.
func (s *Server) document(d *docIn, field string, rec *schemas.AuditLookup) (doc, *badRequest) {
	if d == nil {
		rec.Documents = append(rec.Documents, schemas.AuditDocument{})
		return doc{}, &badRequest{Reason: ReasonMissingField, Field: field, Detail: "a document is an object with type and number"}
	}
	i := len(rec.Documents)
	rec.Documents = append(rec.Documents, schemas.AuditDocument{})
	if d.Type == nil {
		return doc{}, &badRequest{Reason: ReasonMissingField, Field: field + ".type", Detail: "the document type is required"}
	}
	t, ok := documents.ParseType(*d.Type)
	if !ok {
		return doc{}, &badRequest{Reason: documents.ReasonUnknownType, Field: field + ".type", Detail: "use one of " + typeNames()}
	}
	rec.Documents[i].Type = string(t)
	if d.Number == nil {
		return doc{}, &badRequest{Reason: ReasonMissingField, Field: field + ".number", Detail: "the document number is required"}
	}
	v, err := documents.Validate(t, *d.Number)
	if err != nil {
		var de *documents.Error
		if errors.As(err, &de) {
			return doc{}, &badRequest{Reason: de.Reason, Field: field + ".number", Detail: de.Detail}
		}
		return doc{}, &badRequest{Reason: documents.ReasonFormat, Field: field + ".number"}
	}
	tok := s.token(t, v.Number)
	rec.Documents[i].Token = tok
	return doc{valid: v, token: tok}, nil
}

func typeNames() string {
	var b []byte
	for i, t := range documents.Types() {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, t...)
	}
	return string(b)
}

// parseVerify reads a verify body; birthDate is "" when none was sent.
func (s *Server) parseVerify(body []byte, rec *schemas.AuditLookup) (d doc, birthDate string, bad *badRequest) {
	in, ok := fastVerifyIn(body)
	if !ok {
		if bad := decode(body, &in); bad != nil {
			return doc{}, "", bad
		}
	}
	if in.Document == nil {
		return doc{}, "", &badRequest{Reason: ReasonMissingField, Field: "document", Detail: "the document to verify is required"}
	}
	if d, bad = s.document(in.Document, "document", rec); bad != nil {
		return doc{}, "", bad
	}
	if in.Person != nil && in.Person.BirthDate != nil {
		birthDate = *in.Person.BirthDate
		if !birthDateInRange(birthDate, time.Now()) {
			return doc{}, "", &badRequest{Reason: ReasonBadBirthDate, Field: "person.birth_date", Detail: "a birth date is YYYY-MM-DD, from 1900-01-01 up to today (UTC+8)"}
		}
	}
	return d, birthDate, nil
}

// parseMatch reads a match body.
func (s *Server) parseMatch(body []byte, rec *schemas.AuditLookup) ([]doc, *badRequest) {
	var in matchIn
	if bad := decode(body, &in); bad != nil {
		return nil, bad
	}
	if in.Documents == nil {
		return nil, &badRequest{Reason: ReasonMissingField, Field: "documents", Detail: fmt.Sprintf("the %d to %d documents to compare are required", MinMatch, MaxMatch)}
	}
	ds := *in.Documents
	var first *badRequest
	switch {
	case len(ds) < MinMatch:
		first = &badRequest{Reason: ReasonTooFewDocuments, Field: "documents", Detail: fmt.Sprintf("%d documents: a match compares %d to %d", len(ds), MinMatch, MaxMatch)}
	case len(ds) > MaxMatch:
		first = &badRequest{Reason: ReasonTooManyDocuments, Field: "documents", Detail: fmt.Sprintf("%d documents: a match compares %d to %d", len(ds), MinMatch, MaxMatch)}
	}
	// Every document is checked, so that the audit names all the valid
	// ones even when the call is refused (up to maxAudited).
	out := make([]doc, 0, len(ds))
	for i, d := range ds[:min(len(ds), maxAudited)] {
		v, bad := s.document(d, fmt.Sprintf("documents[%d]", i), rec)
		if bad != nil && first == nil {
			first = bad
		}
		out = append(out, v)
	}
	if first != nil {
		return nil, first
	}
	return out, nil
}

// maxAudited is the most documents of one call the audit names.
const maxAudited = 255

// birthDateInRange reports whether s is a date YYYY-MM-DD from 1900-01-01
// up to today in UTC+8, the producer's rule for person.birth_date.
func birthDateInRange(s string, now time.Time) bool {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return false
	}
	ty, tm, td := now.UTC().Add(8 * time.Hour).Date()
	return !d.Before(time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)) && !d.After(time.Date(ty, tm, td, 0, 0, 0, 0, time.UTC))
}
