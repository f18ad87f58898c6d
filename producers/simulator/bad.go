package simulator

import (
	"github.com/idlink/idlink/documents"
	"github.com/idlink/idlink/producers"
)

// Fault is what is wrong with an invalid line. Each invalid line has exactly
// one fault, so the producer must reject it with Fault.Reason.
type Fault string

// The faults injected into invalid lines.
const (
	// FaultCheckDigit: a residence permit, mainland ID or HKID number with
	// a wrong check character.
	FaultCheckDigit Fault = "check_digit"
	// FaultRPPrefix: a residence permit with a mainland region prefix, or a
	// mainland ID with a residence permit prefix.
	FaultRPPrefix Fault = "rp_prefix"
	// FaultRPBirthDate: a residence permit whose embedded birth date
	// differs from person.birth_date.
	FaultRPBirthDate Fault = "rp_birth_date"
	// FaultUnknownType: an event type the contract does not know.
	FaultUnknownType Fault = "unknown_type"
	// FaultUnknownAgency: an agency the contract does not know.
	FaultUnknownAgency Fault = "unknown_agency"
	// FaultAgencyNotAllowed: a known agency that may not publish the type.
	FaultAgencyNotAllowed Fault = "agency_not_allowed"
	// FaultNoOffset: occurred_at without a UTC offset.
	FaultNoOffset Fault = "no_offset"
	// FaultMalformedJSON: the line is cut short.
	FaultMalformedJSON Fault = "malformed_json"
	// FaultMissingEventID: no event_id.
	FaultMissingEventID Fault = "missing_event_id"
	// FaultTooManyDocuments: nine documents.
	FaultTooManyDocuments Fault = "too_many_documents"
	// FaultUnknownDocType: a document type the contract does not know.
	FaultUnknownDocType Fault = "unknown_document_type"
	// FaultBadChannel: insurance.code_activated with a channel other than
	// online or offline.
	FaultBadChannel Fault = "bad_channel"
)

// Faults lists every fault, in the order Generate cycles through them.
func Faults() []Fault {
	return []Fault{
		FaultCheckDigit, FaultRPPrefix, FaultRPBirthDate, FaultUnknownType,
		FaultUnknownAgency, FaultAgencyNotAllowed, FaultNoOffset, FaultMalformedJSON,
		FaultMissingEventID, FaultTooManyDocuments, FaultUnknownDocType, FaultBadChannel,
	}
}

// Reason returns the machine-readable reason the producer gives for a line
// with this fault (a producers.Reason* or documents.Reason* code).
func (f Fault) Reason() string {
	switch f {
	case FaultCheckDigit:
		return documents.ReasonCheckDigit
	case FaultRPPrefix:
		return documents.ReasonPrefix
	case FaultRPBirthDate:
		return producers.ReasonBirthDateMismatch
	case FaultUnknownType:
		return producers.ReasonUnknownType
	case FaultUnknownAgency:
		return producers.ReasonUnknownAgency
	case FaultAgencyNotAllowed:
		return producers.ReasonAgencyNotAllowed
	case FaultNoOffset:
		return producers.ReasonBadOccurredAt
	case FaultMalformedJSON:
		return producers.ReasonBadJSON
	case FaultMissingEventID:
		return producers.ReasonMissingEventID
	case FaultTooManyDocuments:
		return producers.ReasonTooManyDocuments
	case FaultUnknownDocType:
		return documents.ReasonUnknownType
	case FaultBadChannel:
		return producers.ReasonBadAttr
	}
	return ""
}

// BadLine is the ground truth of one invalid line.
type BadLine struct {
	// Line is the index in Dataset.Lines.
	Line int
	// EventID is the event_id written on the line ("" when missing).
	EventID string
	// Fault is what is wrong with it.
	Fault Fault
	// Reason is Fault.Reason(): the reason the producer must give.
	Reason string
}

var (
	unknownTypes    = []string{"residence_permit.renewed", "insurance.cancelled", "identity.checked", "travel_permit.lost"}
	unknownAgencies = []string{"police", "customs", "tax", "NHSA", "hospital"}
	unknownDocTypes = []string{"driving_licence", "social_security_card", "id_card", "hk_permanent_id"}
	badChannels     = []string{"kiosk", "app", "counter", "ONLINE"}
)

// bad emits n invalid lines, cycling through Faults so that any n >= 12
// has every fault.
func (g *gen) bad(n int) {
	if len(g.ds.Persons) == 0 {
		return
	}
	faults := Faults()
	g.ds.Bad = make([]BadLine, 0, n)
	for i := range n {
		f := faults[i%len(faults)]
		p := g.r.IntN(len(g.ds.Persons))
		pi := &g.info[p]
		d := g.fillerDraft(p, false)
		switch f {
		case FaultCheckDigit:
			var x rawDoc
			switch {
			case pi.rp >= 0:
				x = g.doc(p, pi.rp)
			case pi.gb >= 0:
				x = g.doc(p, pi.gb)
			case pi.local >= 0 && g.ds.Persons[p].Kind == HongKong:
				x = g.doc(p, pi.local)
			default:
				n := hkid(g.r)
				x = rawDoc{typ: string(documents.HKID), num: n, doc: Doc{documents.HKID, n}}
			}
			chars := "0123456789X"
			if x.typ == string(documents.HKID) {
				chars = "0123456789A"
			}
			last := x.num[len(x.num)-1]
			c := last
			for c == last {
				c = chars[g.r.IntN(len(chars))]
			}
			x.num = x.num[:len(x.num)-1] + string(c)
			d.docs = append(d.docs[:0], x)
		case FaultRPPrefix:
			b := g.info[p].birth
			x := rawDoc{typ: string(documents.ResidencePermit), num: gbNumber(g.r, pick(g.r, birthplaces), b)}
			if g.r.IntN(2) == 0 {
				x = rawDoc{typ: string(documents.MainlandID), num: gbNumber(g.r, pick(g.r, []string{"810000", "820000", "830000"}), b)}
			}
			d.docs = append(d.docs[:0], x)
		case FaultRPBirthDate:
			var x rawDoc
			if pi.rp >= 0 {
				x = g.doc(p, pi.rp)
			} else {
				x = rawDoc{typ: string(documents.ResidencePermit), num: gbNumber(g.r, "810000", pi.birth)}
			}
			d.docs = append(d.docs, x)
			d.birth = otherBirth(g.r, pi.birth).String()
		case FaultUnknownType:
			d.typ = pick(g.r, unknownTypes)
		case FaultUnknownAgency:
			d.agency = pick(g.r, unknownAgencies)
		case FaultAgencyNotAllowed:
			if len(notAllowed(d.typ)) == 0 { // identity.verified: any agency
				d.typ = pick(g.svc, restrictedTypes())
			}
			d.agency = pick(g.r, notAllowed(d.typ))
		case FaultNoOffset:
			d.noOffset = true
		case FaultMalformedJSON:
			d.truncate = true
		case FaultMissingEventID:
			d.noID = true
		case FaultTooManyDocuments:
			docs := g.ds.Persons[p].Docs
			d.docs = d.docs[:0]
			for j := range 9 {
				g.addDoc(d, p, j%len(docs))
			}
		case FaultUnknownDocType:
			d.docs[0].typ = pick(g.r, unknownDocTypes)
		case FaultBadChannel:
			d.typ, d.agency = producers.TypeCodeActivated, agencyNHSA
			d.attrs = append(d.attrs[:0], Attr{"channel", pick(g.r, badChannels)})
		}
		start, end := g.encode(d)
		id := d.id
		if d.noID {
			id = ""
		}
		g.ds.Bad = append(g.ds.Bad, BadLine{EventID: id, Fault: f, Reason: f.Reason()})
		g.badKeys = append(g.badKeys, evKey{at: d.at, key: d.key, start: start, end: end})
		g.entries = append(g.entries, entry{kind: entryBad, ref: int32(len(g.ds.Bad) - 1)})
	}
}
