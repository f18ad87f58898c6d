package simulator

import (
	"github.com/idlink/idlink/documents"
	"github.com/idlink/idlink/eventtypes"
)

// The services where residence permits still fail: social-security cards
// (mohrss), the ride-hailing driver qualification exam registration (mot),
// off-site medical-treatment filing (nhsa) and every agency's own online
// services verifying identities.
//
// Their events are made from everyday events (enrolments and platform
// verifications) by service, which draws only from gen.svc, a random stream
// of its own: the documents, times and event_ids of every event, and every
// draw from gen.r, stay as they were without these types, so the persons
// and conflicts the resolver must end with do not depend on them.

// ownServices are the agencies' own online services that verify
// identities, and the per-mille chance that each rejects a residence
// permit as a document type it does not support.
var ownServices = []struct {
	agency, relyingParty string
	rejectsRP            int
}{
	{eventtypes.NHSA, "nhsa_app", 200},
	{eventtypes.MOHRSS, "mohrss_app", 60},
	{eventtypes.MPS, "mps_online", 30},
	{eventtypes.MOT, "mot_app", 120},
	{eventtypes.NIA, "nia_app", 10},
}

var (
	appChannels    = []string{"wechat", "wechat", "alipay", "alipay", "state_council_app"}
	examRejections = []string{"document_expired", "driving_record"}
	filingReasons  = []string{"missing_referral", "outside_coverage"}
)

// service may turn the filler event d about person p into an event of one of
// the services above, at realistic low rates: of all events about 1.5%
// social-security cards, 0.9% off-site filings, 1.2% driver registrations
// and 2.4% verifications by an agency's own service.
func (g *gen) service(d *draft, p int) {
	k := g.svc.IntN(1000)
	holds := documents.Type("")
	if len(d.docs) > 0 {
		holds = d.docs[0].doc.Type
	}
	rp := holds == documents.ResidencePermit
	travel := holds == documents.MainlandTravelPermit || holds == documents.TaiwanTravelPermit
	outcome := func(rejectRP, rejectTravel, rejectOther int, others []string) []Attr {
		n := g.svc.IntN(1000)
		switch {
		case rp && n < rejectRP, travel && n < rejectTravel:
			return []Attr{{"outcome", "rejected"}, {"reason", docTypeUnsupp}}
		case n < rejectOther:
			return []Attr{{"outcome", "rejected"}, {"reason", pick(g.svc, others)}}
		}
		return []Attr{{"outcome", "accepted"}}
	}
	switch {
	case d.typ == eventtypes.InsuranceEnrolled && k < 100:
		d.typ, d.agency = eventtypes.SocialSecurityCardIssued, eventtypes.MOHRSS
		// Electronic cards are applied for in apps, where residence
		// permits often fail: their holders go to the counter more.
		electronic := 75
		if rp {
			electronic = 45
		}
		form, channel := "physical", "counter"
		if g.svc.IntN(100) < electronic {
			form, channel = "electronic", pick(g.svc, appChannels)
		} else if g.svc.IntN(100) < 15 {
			channel = pick(g.svc, appChannels) // a physical card ordered online
		}
		d.attrs = append(d.attrs[:0], Attr{"form", form}, Attr{"channel", channel})
	case d.typ == eventtypes.InsuranceEnrolled && k < 160:
		d.typ = eventtypes.InsuranceOffsiteFiled
		d.attrs = append(d.attrs[:0], outcome(350, 150, 30, filingReasons)...)
	case d.typ == eventtypes.IdentityVerified && d.agency == eventtypes.Platform && k < 40:
		d.typ, d.agency = eventtypes.DriverQualificationRegistered, eventtypes.MOT
		d.attrs = append(d.attrs[:0], outcome(550, 100, 20, examRejections)...)
	case d.typ == eventtypes.IdentityVerified && d.agency == eventtypes.Platform && k < 120:
		s := pick(g.svc, ownServices)
		d.agency = s.agency
		attrs := []Attr{{"relying_party", s.relyingParty}, {"outcome", "passed"}}
		n := g.svc.IntN(1000)
		switch {
		case rp && n < s.rejectsRP:
			attrs = append(attrs[:1], Attr{"outcome", "rejected"}, Attr{"reason", docTypeUnsupp})
		case n >= 980:
			attrs = append(attrs[:1], Attr{"outcome", "rejected"}, Attr{"reason", pick(g.svc, otherRejections)})
		}
		d.attrs = append(d.attrs[:0], attrs...)
	}
}

// notAllowed returns the agencies that may not publish typ, in contract
// order; none for a type every agency may publish.
func notAllowed(typ string) []string {
	t, ok := eventtypes.Lookup(typ)
	if !ok {
		return nil
	}
	var out []string
	for _, a := range eventtypes.Agencies() {
		if !t.MayPublish(a) {
			out = append(out, a)
		}
	}
	return out
}

// restrictedTypes returns the event types only some agencies may publish.
func restrictedTypes() []string {
	var out []string
	for _, t := range eventtypes.All() {
		if t.Agencies != nil {
			out = append(out, t.Name)
		}
	}
	return out
}
