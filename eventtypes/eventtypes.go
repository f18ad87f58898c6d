// Package eventtypes is the registry of agency event types and agencies
// (CONTRACT.md §1 and the README's "Event types"): the one place that says
// which agencies exist, which of them may publish each event type, which
// attrs each type takes (required or optional, with the allowed values where
// the contract fixes them) and whether its documents are linked.
//
// Producer validation, the simulator, `idlink produce --help`, the README
// table and the Kafka topics all derive from it; adding an event type is one
// entry in types below plus its tests. It does no I/O and holds no mutable
// state: every function returns values or fresh copies.
package eventtypes

import (
	"slices"
	"strings"
)

// Agency codes of the contract.
const (
	MPS      = "mps"      // public security
	NIA      = "nia"      // immigration
	NHSA     = "nhsa"     // medical insurance
	MOT      = "mot"      // transport
	MOHRSS   = "mohrss"   // social security
	Platform = "platform" // an internet platform doing real-name checks
)

// Event type names.
const (
	ResidencePermitIssued         = "residence_permit.issued"
	ResidencePermitRevoked        = "residence_permit.revoked"
	TravelPermitIssued            = "travel_permit.issued"
	InsuranceEnrolled             = "insurance.enrolled"
	CodeActivated                 = "insurance.code_activated"
	IdentityVerified              = "identity.verified"
	SocialSecurityCardIssued      = "social_security_card.issued"
	DriverQualificationRegistered = "driver_qualification.registered"
	InsuranceOffsiteFiled         = "insurance.offsite_filed"
	LinkRetracted                 = "link.retracted"
)

// agencyNames describes each agency, in contract order.
var agencyNames = [...]struct{ code, name string }{
	{MPS, "public security"},
	{NIA, "immigration"},
	{NHSA, "medical insurance"},
	{MOT, "transport"},
	{MOHRSS, "social security"},
	{Platform, "internet platform doing real-name checks"},
}

// Agencies returns the agency codes in contract order (a new slice).
func Agencies() []string {
	out := make([]string, len(agencyNames))
	for i, a := range agencyNames {
		out[i] = a.code
	}
	return out
}

// IsAgency reports whether s is exactly an agency code.
func IsAgency(s string) bool {
	for _, a := range agencyNames {
		if a.code == s {
			return true
		}
	}
	return false
}

// AgencyName returns what an agency is ("public security"), or "".
func AgencyName(code string) string {
	for _, a := range agencyNames {
		if a.code == code {
			return a.name
		}
	}
	return ""
}

// Attr describes one attr key of an event type.
type Attr struct {
	// Key is the attr's key in the event's attrs map.
	Key string
	// Required: an event without this attr (or with it empty) is invalid.
	Required bool
	// RequiredWhen, if set, makes the attr required when another attr of
	// the same event has the given value (reason when outcome is rejected).
	RequiredWhen *Condition
	// Values are the allowed values; nil means any string.
	Values []string
	// Examples are typical values of an open attr, for documentation only.
	Examples []string
	// Doc says what the attr means, in a few words.
	Doc string
}

// Condition is "attr Key has value Value".
type Condition struct{ Key, Value string }

// Type describes one event type.
type Type struct {
	// Name is the type as events spell it.
	Name string
	// Agencies may publish it; nil means any agency.
	Agencies []string
	// AgencyNote says in words who publishes it when Agencies is nil.
	AgencyNote string
	// Links: the event's documents are linked as belonging to one person,
	// so it needs at least one document. A type that does not link
	// (link.retracted) may name none.
	Links bool
	// Attrs are the attr keys the contract names for it, in contract
	// order; other keys are kept as they are (forward compatible).
	Attrs []Attr
	// Doc says what the event records.
	Doc string
}

var (
	outcomeAccepted = []string{"accepted", "rejected"}
	rejected        = &Condition{Key: "outcome", Value: "rejected"}
)

// types is the registry, in contract order.
var types = [...]Type{
	{Name: ResidencePermitIssued, Agencies: []string{MPS}, Links: true,
		Doc: "a residence permit issued (or renewed with the same number)"},
	{Name: ResidencePermitRevoked, Agencies: []string{MPS}, Links: true,
		Attrs: []Attr{{Key: "reason", Examples: []string{"settled_on_mainland", "renounced"}, Doc: "why it was revoked"}},
		Doc:   "a residence permit revoked"},
	{Name: TravelPermitIssued, Agencies: []string{NIA}, Links: true,
		Doc: "a travel permit issued"},
	{Name: InsuranceEnrolled, Agencies: []string{NHSA}, Links: true,
		Attrs: []Attr{{Key: "scheme", Values: []string{"urban_rural", "employee"}, Doc: "the medical-insurance scheme"}},
		Doc:   "a medical-insurance enrolment"},
	{Name: CodeActivated, Agencies: []string{NHSA}, Links: true,
		Attrs: []Attr{{Key: "channel", Values: []string{"online", "offline"}, Doc: "where the medical-insurance code was activated"}},
		Doc:   "a medical-insurance code activated"},
	{Name: IdentityVerified, AgencyNote: "any (nia, platform, and every agency for its own online services)", Links: true,
		Attrs: []Attr{
			{Key: "relying_party", Examples: []string{"douyin", "nhsa_app"}, Doc: "the platform or service that asked"},
			{Key: "outcome", Values: []string{"passed", "rejected"}, Doc: "the result of the check"},
			{Key: "reason", Examples: []string{"document_type_not_supported"}, Doc: "why it was rejected"},
		},
		Doc: "a real-name verification"},
	{Name: SocialSecurityCardIssued, Agencies: []string{MOHRSS}, Links: true,
		Attrs: []Attr{
			{Key: "form", Required: true, Values: []string{"electronic", "physical"}, Doc: "the card issued"},
			{Key: "channel", Examples: []string{"wechat", "alipay", "state_council_app", "counter"}, Doc: "where it was applied for"},
		},
		Doc: "a social-security card issued"},
	{Name: DriverQualificationRegistered, Agencies: []string{MOT}, Links: true,
		Attrs: []Attr{
			{Key: "outcome", Required: true, Values: outcomeAccepted, Doc: "whether the registration was accepted"},
			{Key: "reason", RequiredWhen: rejected, Examples: []string{"document_type_not_supported"}, Doc: "why it was rejected"},
		},
		Doc: "a registration for the ride-hailing driver qualification exam"},
	{Name: InsuranceOffsiteFiled, Agencies: []string{NHSA}, Links: true,
		Attrs: []Attr{
			{Key: "outcome", Required: true, Values: outcomeAccepted, Doc: "whether the filing was accepted"},
			{Key: "reason", RequiredWhen: rejected, Examples: []string{"document_type_not_supported"}, Doc: "why it was rejected"},
		},
		Doc: "an off-site medical-treatment filing"},
	{Name: LinkRetracted, AgencyNote: "any", Links: false,
		Attrs: []Attr{{Key: "retracts", Required: true, Doc: "the event_id of an earlier event whose document links were wrong"}},
		Doc:   "withdraws the links of an earlier event"},
}

// All returns every event type in contract order (deep copies).
func All() []Type {
	out := make([]Type, len(types))
	for i := range types {
		out[i] = types[i].clone()
	}
	return out
}

// Names returns every event type name in contract order.
func Names() []string {
	out := make([]string, len(types))
	for i := range types {
		out[i] = types[i].Name
	}
	return out
}

// Lookup returns the type named exactly name (a deep copy) and true, or
// false if there is none.
func Lookup(name string) (Type, bool) {
	t := find(name)
	if t == nil {
		return Type{}, false
	}
	return t.clone(), true
}

// find returns the registry entry named name, or nil; callers must not
// modify it.
func find(name string) *Type {
	for i := range types {
		if types[i].Name == name {
			return &types[i]
		}
	}
	return nil
}

func (t *Type) clone() Type {
	c := *t
	c.Agencies = slices.Clone(t.Agencies)
	c.Attrs = make([]Attr, len(t.Attrs))
	for i, a := range t.Attrs {
		a.Values = slices.Clone(a.Values)
		a.Examples = slices.Clone(a.Examples)
		if a.RequiredWhen != nil {
			w := *a.RequiredWhen
			a.RequiredWhen = &w
		}
		c.Attrs[i] = a
	}
	if t.Attrs == nil {
		c.Attrs = nil
	}
	return c
}

// MayPublish reports whether agency may publish events of type t. It does
// not check that agency exists (see IsAgency).
func (t Type) MayPublish(agency string) bool {
	return t.Agencies == nil || slices.Contains(t.Agencies, agency)
}

// Publishers says in words who may publish t: "mps", "nia or platform",
// or the AgencyNote of a type any agency may publish.
func (t Type) Publishers() string {
	if t.Agencies == nil {
		return t.AgencyNote
	}
	return strings.Join(t.Agencies, " or ")
}

// MinDocuments is the fewest documents an event of type t names: 1 if it
// links documents, else 0. The most is MaxDocuments for every type.
func (t Type) MinDocuments() int {
	if t.Links {
		return 1
	}
	return 0
}

// MaxDocuments is the most documents one event may name.
const MaxDocuments = 8

// AttrProblem is what CheckAttrs found wrong with one attr.
type AttrProblem struct {
	// Key is the attr at fault.
	Key string
	// Missing: a required attr is absent or empty; otherwise its value is
	// not one of Allowed.
	Missing bool
	// Allowed are the allowed values (when not Missing).
	Allowed []string
	// When is the condition that made the attr required, or nil.
	When *Condition
}

// CheckAttrs checks attrs against t: every required attr present and not
// empty, every attr with fixed values holding one of them. Keys t does not
// name are allowed and not checked. It returns the first problem in the
// order of t.Attrs, or nil.
func (t Type) CheckAttrs(attrs map[string]string) *AttrProblem {
	for _, a := range t.Attrs {
		v, ok := attrs[a.Key]
		switch {
		case (!ok || v == "") && a.Required:
			return &AttrProblem{Key: a.Key, Missing: true}
		case (!ok || v == "") && a.RequiredWhen != nil && attrs[a.RequiredWhen.Key] == a.RequiredWhen.Value:
			return &AttrProblem{Key: a.Key, Missing: true, When: a.RequiredWhen}
		case ok && a.Values != nil && !slices.Contains(a.Values, v):
			return &AttrProblem{Key: a.Key, Allowed: slices.Clone(a.Values)}
		}
	}
	return nil
}
