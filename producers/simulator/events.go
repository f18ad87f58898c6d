package simulator

import (
	"github.com/idlink/idlink/documents"
	"github.com/idlink/idlink/eventtypes"
	"github.com/idlink/idlink/producers"
)

// Agencies of the contract, from the event-type registry.
const (
	agencyMPS      = eventtypes.MPS
	agencyNIA      = eventtypes.NIA
	agencyNHSA     = eventtypes.NHSA
	agencyPlatform = eventtypes.Platform
)

// Attribute vocabularies.
var (
	// relyingParties are the platforms that ask for real-name checks.
	relyingParties = []string{"alipay", "wechat_pay", "12306", "ctrip", "bank_boc", "didi", "meituan", "china_mobile"}
	// rejectsRP is, per relying party, the per-mille chance that it rejects
	// a residence permit as a document type it does not support.
	rejectsRP = map[string]int{"ctrip": 300, "bank_boc": 450, "didi": 700, "meituan": 500, "china_mobile": 250}
	// rejectsTP is the same for travel permits.
	rejectsTP = map[string]int{"bank_boc": 150, "didi": 200, "china_mobile": 100}
	// otherRejections are reasons for rejections unrelated to the document
	// type.
	otherRejections = []string{"name_mismatch", "document_expired", "photo_mismatch"}
	// niaRejections are reasons immigration gives when a check fails.
	niaRejections = []string{"document_not_found", "document_expired"}
	revokeReasons = []string{"settled_on_mainland", "fraudulent_application", "renounced", "duplicate_issue"}
	schemes       = []string{"urban_rural", "employee"}
)

const (
	docTypeUnsupp = "document_type_not_supported"
	// Durations in seconds.
	day            int64 = 86400
	hour           int64 = 3600
	retractMaxWait       = 20 * day
)

// doc returns the i-th document of person p written in a random style.
func (g *gen) doc(p, i int) rawDoc {
	x := g.ds.Persons[p].Docs[i]
	rd := rawDoc{typ: string(x.Type), num: x.Number, doc: x}
	k := g.r.IntN(100)
	switch x.Type {
	case documents.HKID, documents.MacaoID:
		if k < 55 {
			rd.style |= stBrackets
		}
		if k%10 == 0 {
			rd.style |= stLower
		}
		if k%25 == 1 {
			rd.style |= stSpaces
		}
	case documents.MainlandTravelPermit, documents.TaiwanTravelPermit:
		if k < 12 {
			rd.style |= stSuffix
			rd.issue = uint8(1 + g.r.IntN(12))
			if k < 4 {
				rd.style |= stDash
			}
		}
		if k%20 == 0 {
			rd.style |= stLower
		}
		if k%33 == 1 {
			rd.style |= stSpaces
		}
	case documents.ResidencePermit, documents.MainlandID:
		if k < 5 {
			rd.style |= stSpaces
		}
		if x.Number[17] == 'X' && k%3 == 0 {
			rd.style |= stLower
		}
	case documents.Passport:
		if k < 5 {
			rd.style |= stLower
		}
	}
	return rd
}

// addDoc appends document i of person p to d.
func (g *gen) addDoc(d *draft, p, i int) { d.docs = append(d.docs, g.doc(p, i)) }

// personBlock fills the optional person block: the name often, the birth
// date half the time (always if must), never the birth date for a person
// whose events carry none.
func (g *gen) personBlock(d *draft, p int, must bool) {
	pi := &g.info[p]
	if must || g.r.IntN(100) < 60 {
		d.name = g.ds.Persons[p].Name
	}
	if !pi.noBirth && (must || g.r.IntN(2) == 0) {
		d.birth = g.ds.Persons[p].BirthDate
	}
}

// region sets the event region: mostly the person's own, sometimes another
// plausible one, sometimes none (platforms seldom give one).
func (g *gen) region(d *draft, p int) {
	k := g.r.IntN(100)
	none := 8
	if d.agency == agencyPlatform {
		none = 70
	}
	switch {
	case k < none:
	case k < none+10:
		d.region = pick(g.r, g.info[p].regions)
	default:
		d.region = g.ds.Persons[p].Region
	}
}

// later returns a time after from (seconds from the start): at least lo and
// at most hi later, clipped to the end of the span where possible.
func (g *gen) later(from, lo, hi int64) int64 {
	if end := g.span - 1; from+hi > end {
		hi = max(end-from, lo)
	}
	return from + lo + g.r.Int64N(hi-lo+1)
}

// backbone emits, for every person, the events that link all of their
// documents. They are never retracted, so each person holds together.
func (g *gen) backbone() {
	for p := range g.ds.Persons {
		pi := &g.info[p]
		pi.first = g.r.Int64N(g.span / 2)
		t := pi.first
		switch g.ds.Persons[p].Kind {
		case HongKong, Macao, Taiwan:
			d := g.newDraft(producers.TypeTravelPermitIssued, agencyNIA, p, t)
			g.addDoc(d, p, pi.tp)
			if pi.local >= 0 {
				g.addDoc(d, p, pi.local)
			}
			g.personBlock(d, p, false)
			g.region(d, p)
			g.emitBackbone(d)
			if pi.rp >= 0 {
				t = g.later(t, hour, 30*day)
				d := g.newDraft(producers.TypeResidencePermitIssued, agencyMPS, p, t)
				g.addDoc(d, p, pi.rp)
				g.addDoc(d, p, pi.tp)
				g.personBlock(d, p, true)
				g.region(d, p)
				g.emitBackbone(d)
				pi.hasRPEvent = true
			}
			if len(pi.passports) > 0 {
				t = g.later(t, hour, 20*day)
				d := g.newDraft(producers.TypeIdentityVerified, agencyNIA, p, t)
				g.addDoc(d, p, pi.tp)
				g.addDoc(d, p, pi.passports[0])
				g.personBlock(d, p, false)
				g.region(d, p)
				d.attrs = append(d.attrs, Attr{"relying_party", pick(g.r, relyingParties)}, Attr{"outcome", "passed"})
				g.emitBackbone(d)
			}
		case Foreign:
			d := g.newDraft(producers.TypeInsuranceEnrolled, agencyNHSA, p, t)
			if len(pi.passports) > 1 {
				d = g.newDraft(producers.TypeIdentityVerified, agencyNIA, p, t)
				d.attrs = append(d.attrs, Attr{"relying_party", pick(g.r, relyingParties)}, Attr{"outcome", "passed"})
			} else {
				d.attrs = append(d.attrs, Attr{"scheme", pick(g.r, schemes)})
			}
			for _, i := range pi.passports {
				g.addDoc(d, p, i)
			}
			g.personBlock(d, p, false)
			g.region(d, p)
			g.emitBackbone(d)
		case Mainland:
			d := g.newDraft(producers.TypeInsuranceEnrolled, agencyNHSA, p, t)
			g.addDoc(d, p, pi.gb)
			d.attrs = append(d.attrs, Attr{"scheme", pick(g.r, schemes)})
			g.personBlock(d, p, false)
			g.region(d, p)
			g.emitBackbone(d)
			if len(pi.passports) > 0 {
				t = g.later(t, hour, 20*day)
				d := g.newDraft(producers.TypeIdentityVerified, agencyNIA, p, t)
				g.addDoc(d, p, pi.gb)
				g.addDoc(d, p, pi.passports[0])
				d.attrs = append(d.attrs, Attr{"relying_party", pick(g.r, relyingParties)}, Attr{"outcome", "passed"})
				g.personBlock(d, p, false)
				g.region(d, p)
				g.emitBackbone(d)
			}
		}
		pi.ready = t + 1
	}
}

func (g *gen) emitBackbone(d *draft) {
	d.backbone = true
	g.emitEvent(d)
}

// primary returns the document a person shows by default: the residence
// permit or travel permit, a passport, or the mainland ID.
func (g *gen) primary(p int) int {
	pi := &g.info[p]
	switch {
	case pi.rp >= 0 && g.r.IntN(100) < 75:
		return pi.rp
	case pi.tp >= 0:
		return pi.tp
	case pi.gb >= 0:
		return pi.gb
	}
	return pick(g.r, pi.passports)
}

// another returns a document of p other than i, or -1 if p has only one.
func (g *gen) another(p, i int) int {
	n := len(g.ds.Persons[p].Docs)
	if n < 2 {
		return -1
	}
	j := g.r.IntN(n - 1)
	if j >= i {
		j++
	}
	return j
}

// filler emits n events of the everyday mix about random persons.
func (g *gen) filler(n int) {
	if len(g.ds.Persons) == 0 {
		return
	}
	// Draw the person of every event first, then emit person by person:
	// the same distribution as drawing per event, with far better memory
	// locality (arrival order is decided later anyway).
	count := make([]int32, len(g.ds.Persons))
	for range n {
		count[g.r.IntN(len(count))]++
	}
	for p, c := range count {
		for range c {
			d := g.fillerDraft(p, true)
			g.service(d, p)
			i := g.emitEvent(d)
			if len(d.docs) > 1 {
				g.linking = append(g.linking, i)
			}
		}
	}
}

// fillerDraft builds an everyday event about person p, after p's backbone
// events. Revocations are made only if mayRevoke.
func (g *gen) fillerDraft(p int, mayRevoke bool) *draft {
	pi := &g.info[p]
	t := g.later(pi.ready, 0, g.span)
	k := g.r.IntN(1000)
	switch {
	case k >= 985 && (pi.rp < 0 || pi.revoked || !mayRevoke):
		k = 600
	case k >= 920 && k < 985 && pi.rp < 0:
		k = 100
	case k >= 850 && k < 920 && pi.tp < 0:
		k = 600
	}
	var d *draft
	switch {
	case k < 300: // medical-insurance code activation
		d = g.newDraft(producers.TypeCodeActivated, agencyNHSA, p, t)
		i := g.primary(p)
		g.addDoc(d, p, i)
		if g.r.IntN(100) < 12 {
			if j := g.another(p, i); j >= 0 {
				g.addDoc(d, p, j)
			}
		}
		// Offline activations are a small share of all (about one in eight),
		// mostly of residence permits, whose online sign-up often fails.
		offline := 4
		switch g.ds.Persons[p].Docs[i].Type {
		case documents.ResidencePermit:
			offline = 25
		case documents.MainlandTravelPermit, documents.TaiwanTravelPermit, documents.Passport:
			offline = 10
		}
		ch := "online"
		if g.r.IntN(100) < offline {
			ch = "offline"
		}
		d.attrs = append(d.attrs, Attr{"channel", ch})
		g.personBlock(d, p, false)
	case k < 450: // enrolment
		d = g.newDraft(producers.TypeInsuranceEnrolled, agencyNHSA, p, t)
		i := g.primary(p)
		g.addDoc(d, p, i)
		if g.r.IntN(100) < 20 {
			if j := g.another(p, i); j >= 0 {
				g.addDoc(d, p, j)
			}
		}
		s := "urban_rural"
		if g.r.IntN(100) < 40 {
			s = "employee"
		}
		d.attrs = append(d.attrs, Attr{"scheme", s})
		g.personBlock(d, p, false)
	case k < 750: // real-name check by a platform
		d = g.newDraft(producers.TypeIdentityVerified, agencyPlatform, p, t)
		i := g.primary(p)
		if g.r.IntN(100) < 25 {
			i = g.r.IntN(len(g.ds.Persons[p].Docs))
		}
		g.addDoc(d, p, i)
		rp := pick(g.r, relyingParties)
		outcome, reason := "passed", ""
		switch g.ds.Persons[p].Docs[i].Type {
		case documents.ResidencePermit:
			if g.r.IntN(1000) < rejectsRP[rp] {
				outcome, reason = "rejected", docTypeUnsupp
			}
		case documents.MainlandTravelPermit, documents.TaiwanTravelPermit:
			if g.r.IntN(1000) < rejectsTP[rp] {
				outcome, reason = "rejected", docTypeUnsupp
			}
		}
		if outcome == "passed" && g.r.IntN(100) < 3 {
			outcome, reason = "rejected", pick(g.r, otherRejections)
		}
		d.attrs = append(d.attrs, Attr{"relying_party", rp}, Attr{"outcome", outcome})
		if reason != "" {
			d.attrs = append(d.attrs, Attr{"reason", reason})
		}
		if g.r.IntN(100) < 40 {
			d.name = g.ds.Persons[p].Name
		}
	case k < 850: // exit-entry document check by immigration for a platform
		d = g.newDraft(producers.TypeIdentityVerified, agencyNIA, p, t)
		i := g.primary(p)
		if pi.tp >= 0 {
			i = pi.tp
		}
		g.addDoc(d, p, i)
		if g.r.IntN(100) < 30 {
			if j := g.another(p, i); j >= 0 {
				g.addDoc(d, p, j)
			}
		}
		outcome := "passed"
		d.attrs = append(d.attrs, Attr{"relying_party", pick(g.r, relyingParties)})
		if g.r.IntN(100) < 3 {
			outcome = "rejected"
			d.attrs = append(d.attrs, Attr{"outcome", outcome}, Attr{"reason", pick(g.r, niaRejections)})
		} else {
			d.attrs = append(d.attrs, Attr{"outcome", outcome})
		}
		g.personBlock(d, p, false)
	case k < 920: // travel permit renewed
		d = g.newDraft(producers.TypeTravelPermitIssued, agencyNIA, p, t)
		x := g.doc(p, pi.tp)
		if g.r.IntN(100) < 50 && x.style&stSuffix == 0 {
			x.style |= stSuffix
			x.issue = uint8(2 + g.r.IntN(10))
		}
		d.docs = append(d.docs, x)
		if pi.local >= 0 && g.r.IntN(2) == 0 {
			g.addDoc(d, p, pi.local)
		}
		g.personBlock(d, p, false)
	case k < 985: // residence permit renewed (same number)
		d = g.newDraft(producers.TypeResidencePermitIssued, agencyMPS, p, t)
		g.addDoc(d, p, pi.rp)
		if g.r.IntN(100) < 85 {
			g.addDoc(d, p, pi.tp)
		}
		g.personBlock(d, p, true)
	default: // residence permit revoked
		d = g.newDraft(producers.TypeResidencePermitRevoked, agencyMPS, p, t)
		g.addDoc(d, p, pi.rp)
		d.attrs = append(d.attrs, Attr{"reason", pick(g.r, revokeReasons)})
		g.personBlock(d, p, false)
		pi.revoked = true
	}
	g.region(d, p)
	return d
}

// mistakenTargets picks up to n pairs (A, B) for mistaken links: B is a
// foreigner whose events never carry a birth date, so linking any document
// of A to B's passport merges the two without a conflict.
func (g *gen) mistakenTargets(n int) [][2]int {
	var pairs [][2]int
	np := len(g.ds.Persons)
	for tries := 0; len(pairs) < n && tries < 20*n; tries++ {
		a, b := g.r.IntN(np), g.r.IntN(np)
		ia, ib := &g.info[a], &g.info[b]
		if a == b || ia.role != roleNone || ib.role != roleNone || !ib.noBirth {
			continue
		}
		ia.role, ib.role = roleMistakenA, roleMistakenB
		pairs = append(pairs, [2]int{a, b})
	}
	return pairs
}

// mistakenLinks emits a mistaken link for each pair and, later, its
// retraction.
func (g *gen) mistakenLinks(pairs [][2]int) {
	for _, ab := range pairs {
		a, b := ab[0], ab[1]
		t := g.later(max(g.info[a].ready, g.info[b].ready), 0, g.span)
		var d *draft
		if g.r.IntN(2) == 0 {
			d = g.newDraft(producers.TypeInsuranceEnrolled, agencyNHSA, a, t)
			d.attrs = append(d.attrs, Attr{"scheme", pick(g.r, schemes)})
		} else {
			d = g.newDraft(producers.TypeIdentityVerified, agencyNIA, a, t)
			d.attrs = append(d.attrs, Attr{"relying_party", pick(g.r, relyingParties)}, Attr{"outcome", "passed"})
		}
		d.other = b
		d.mistaken = true
		g.addDoc(d, a, g.r.IntN(len(g.ds.Persons[a].Docs)))
		g.addDoc(d, b, pick(g.r, g.info[b].passports))
		g.region(d, a)
		g.retract(g.emitEvent(d))
	}
}

// redundantRetractions retracts up to n correct links that other events
// (the backbone) also assert, so no person splits. It returns how many it
// made.
func (g *gen) redundantRetractions(n int) int {
	n = min(n, len(g.linking))
	for i := range n {
		j := i + g.r.IntN(len(g.linking)-i)
		g.linking[i], g.linking[j] = g.linking[j], g.linking[i]
		g.retract(g.linking[i])
	}
	return n
}

// retract emits a link.retracted event withdrawing event i.
func (g *gen) retract(i int) {
	target := &g.events[i]
	at := g.later(g.keys[i].at-g.start, hour, retractMaxWait)
	agency := target.Agency
	if g.r.IntN(10) == 0 {
		agency = pick(g.r, eventtypes.Agencies())
	}
	d := g.newDraft(producers.TypeLinkRetracted, agency, target.Person, at)
	if g.r.IntN(2) == 0 {
		x := target.Docs[0]
		d.docs = append(d.docs, rawDoc{typ: string(x.Type), num: x.Number, doc: x})
	} else {
		d.person = -1
	}
	d.retracts = target.ID
	d.attrs = append(d.attrs, Attr{"retracts", target.ID})
	j := g.emitEvent(d)
	g.events[i].RetractedBy = g.events[j].ID
}

// rpHolders lists the persons whose residence permit is linked by a backbone
// event, in index order.
func (g *gen) rpHolders() []int {
	var out []int
	for p := range g.info {
		if g.info[p].hasRPEvent {
			out = append(out, p)
		}
	}
	return out
}

// maxConflicts returns n, or 0 if fewer than two persons hold a linked
// residence permit (every conflict involves one).
func (g *gen) maxConflicts(n int) int {
	if len(g.rpHolders()) < 2 {
		return 0
	}
	return n
}

// conflicts emits n intended conflicts, alternating between the two kinds.
func (g *gen) conflicts(n int) {
	holders := g.rpHolders()
	if len(holders) < 2 {
		return
	}
	for i := range n {
		p := pick(g.r, holders)
		pi := &g.info[p]
		if i%2 == 1 && (pi.local >= 0 || len(pi.passports) > 0) {
			// A different birth date for a person whose residence permit
			// already fixes it.
			t := g.later(pi.ready, 0, g.span)
			var d *draft
			if g.r.IntN(2) == 0 {
				d = g.newDraft(producers.TypeInsuranceEnrolled, agencyNHSA, p, t)
				d.attrs = append(d.attrs, Attr{"scheme", pick(g.r, schemes)})
			} else {
				d = g.newDraft(producers.TypeIdentityVerified, agencyNIA, p, t)
				d.attrs = append(d.attrs, Attr{"relying_party", pick(g.r, relyingParties)}, Attr{"outcome", "passed"})
			}
			g.addDoc(d, p, pi.tp)
			if pi.local >= 0 {
				g.addDoc(d, p, pi.local)
			} else {
				g.addDoc(d, p, pi.passports[0])
			}
			d.name = g.ds.Persons[p].Name
			d.birth = otherBirth(g.r, pi.birth).String()
			d.conflict = ConflictBirthDate
			g.region(d, p)
			g.emitEvent(d)
			continue
		}
		// Another person's residence permit next to p's travel permit.
		q := pick(g.r, holders)
		for q == p {
			q = pick(g.r, holders)
		}
		t := g.later(max(pi.ready, g.info[q].ready), 0, g.span)
		var d *draft
		if g.r.IntN(2) == 0 {
			d = g.newDraft(producers.TypeResidencePermitIssued, agencyMPS, p, t)
			g.addDoc(d, q, g.info[q].rp)
			g.addDoc(d, p, pi.tp)
		} else {
			d = g.newDraft(producers.TypeInsuranceEnrolled, agencyNHSA, p, t)
			g.addDoc(d, p, pi.tp)
			g.addDoc(d, q, g.info[q].rp)
			d.attrs = append(d.attrs, Attr{"scheme", pick(g.r, schemes)})
		}
		d.name = g.ds.Persons[p].Name
		d.other = q
		d.conflict = ConflictSingleHolder
		g.region(d, p)
		g.emitEvent(d)
	}
}

// duplicates adds n byte-identical copies of random valid lines.
func (g *gen) duplicates(n int) {
	if len(g.events) == 0 {
		return
	}
	for range n {
		g.entries = append(g.entries, entry{kind: entryDup, ref: int32(g.r.IntN(len(g.events)))})
	}
}
