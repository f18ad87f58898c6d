package simulator

import (
	"math/rand/v2"
	"strconv"

	"github.com/idlink/idlink/documents"
)

// Kind is where a synthetic person comes from, which decides the documents
// they hold.
type Kind uint8

// The kinds of person in the population.
const (
	// HongKong residents hold a Home Return Permit (H + 8 digits), a Hong
	// Kong identity card, usually a residence permit (810000…) and sometimes
	// an HKSAR passport.
	HongKong Kind = iota
	// Macao residents hold a Home Return Permit (M + 8 digits), a Macao
	// identity card, usually a residence permit (820000…) and sometimes a
	// MSAR passport.
	Macao
	// Taiwan residents hold a Taiwan travel permit (8 digits), often a
	// residence permit (830000…) and sometimes a passport.
	Taiwan
	// Foreign nationals hold one passport, or two.
	Foreign
	// Mainland residents hold a mainland ID card and sometimes a passport.
	Mainland
)

var kindNames = [...]string{"hong_kong", "macao", "taiwan", "foreign", "mainland"}

// String returns the kind's name, e.g. "hong_kong".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Doc names one document by type and normalised number (see
// documents.Normalize): the identity of a node in the resolver's graph.
type Doc struct {
	Type   documents.Type
	Number string
}

// Person is one member of the synthetic population: the ground truth of who
// holds which documents.
type Person struct {
	// Kind says where the person comes from.
	Kind Kind
	// Name is the romanised (or, for mainland residents, Chinese) name.
	Name string
	// BirthDate is YYYY-MM-DD; residence permit and mainland ID numbers
	// embed it.
	BirthDate string
	// Region is the 6-digit code of the city the person lives in.
	Region string
	// Docs are the person's documents in a fixed order: residence permit or
	// mainland ID, travel permit, local identity card, passports (those
	// the person holds).
	Docs []Doc
}

// pinfo is what the generator keeps about a person beyond Person.
type pinfo struct {
	rp, tp, local, gb int   // index into Person.Docs, or -1
	passports         []int // indexes into Person.Docs
	birth             date
	regions           []string // plausible event regions
	noBirth           bool     // events never carry person.birth_date
	hasRPEvent        bool     // a residence_permit.issued backbone event links RP and TP
	revoked           bool
	role              uint8 // roleNone, roleMistakenA, roleMistakenB
	first, ready      int64 // first backbone event, end of backbone (seconds from start)
}

const (
	roleNone uint8 = iota
	roleMistakenA
	roleMistakenB
)

type date struct{ y, m, d int }

func (d date) String() string {
	b := make([]byte, 0, 10)
	b = appendPad(b, d.y, 4)
	b = append(b, '-')
	b = appendPad(b, d.m, 2)
	b = append(b, '-')
	b = appendPad(b, d.d, 2)
	return string(b)
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// randomBirth returns a birth date between 1945 and 2006 (inclusive), so
// every person is an adult and every date lies in the past.
func randomBirth(r *rand.Rand) date {
	y := 1945 + r.IntN(62)
	m := 1 + r.IntN(12)
	return date{y, m, 1 + r.IntN(daysIn(y, m))}
}

// otherBirth returns a valid date near d but different from it.
func otherBirth(r *rand.Rand, d date) date {
	for {
		o := date{d.y, d.m, d.d}
		switch r.IntN(3) {
		case 0: // day typo
			o.d = 1 + r.IntN(daysIn(o.y, o.m))
		case 1: // month typo
			o.m = 1 + r.IntN(12)
			if o.d > daysIn(o.y, o.m) {
				o.d = daysIn(o.y, o.m)
			}
		default: // year typo
			o.y = d.y - 5 + r.IntN(11)
			if o.y > 2006 {
				o.y = 2006
			}
			if o.d > daysIn(o.y, o.m) {
				o.d = daysIn(o.y, o.m)
			}
		}
		if o != d {
			return o
		}
	}
}

// Region codes (6-digit administrative divisions) where each kind of person
// typically lives.
var (
	regionsHK       = []string{"440300", "440300", "440300", "440100", "441900", "440600", "310000", "110000"}
	regionsMacao    = []string{"440400", "440400", "440400", "440700", "442000", "440100"}
	regionsTaiwan   = []string{"350200", "350200", "350100", "310000", "320500", "320583", "440300", "110000"}
	regionsForeign  = []string{"310000", "310000", "110000", "440300", "440100", "320500", "330100"}
	regionsMainland = []string{"440300", "440400", "440700", "440100", "310000", "110000", "350200", "330100", "510100", "420100"}
	// birthplaces are county-level codes used as mainland ID prefixes.
	birthplaces = []string{"440304", "440305", "440402", "440703", "440106", "110105", "110108", "310115",
		"310104", "350203", "330106", "510107", "420106", "320102", "370202", "610113", "430104", "450103"}
)

// Name parts.
var (
	surnamesHK   = []string{"CHAN", "WONG", "LEE", "CHEUNG", "LAU", "NG", "HO", "LEUNG", "YEUNG", "TSANG", "CHOW", "LAM", "TANG", "KWOK"}
	givenHK      = []string{"Tai Man", "Siu Ming", "Ka Yan", "Wai Kit", "Mei Ling", "Chi Keung", "Hoi Yan", "Ka Ho", "Wing Sze", "Chun Kit", "Lok Yi", "Wai"}
	surnamesMO   = []string{"LEONG", "CHAO", "SOU", "IONG", "LEI", "CHEONG", "HOI", "KUOK", "DOS SANTOS", "DA SILVA"}
	givenMO      = []string{"Kin Fai", "Ian", "Sio Man", "Weng Kei", "Maria", "Carlos", "Hou Ian", "Ka Man", "Chi Meng"}
	surnamesTW   = []string{"CHEN", "LIN", "HUANG", "CHANG", "LEE", "WANG", "WU", "LIU", "TSAI", "YANG", "HSU", "CHENG"}
	givenTW      = []string{"Chih-Hao", "Yi-Ting", "Chia-Hui", "Tsung-Han", "Pei-Shan", "Chun-Chieh", "Ya-Wen", "Cheng-Yu", "Shu-Fen"}
	namesForeign = []string{"SMITH John", "TANAKA Yuki", "KIM Min-jun", "MUELLER Anna", "DUBOIS Claire", "SILVA Pedro",
		"NGUYEN Van An", "PATEL Ravi", "IVANOVA Olga", "GARCIA Lucia", "BROWN Emily", "SATO Haruto", "PARK Ji-woo", "ROSSI Marco"}
	surnamesCN = []string{"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱"}
	givenCN    = []string{"伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇", "军", "杰", "娟", "涛", "明", "超"}
)

// Passport number patterns: L is a random letter, D a random digit, anything
// else literal.
var (
	passportsForeign = []string{
		"5DDDDDDDD", // US
		"1DDDDDDDD", // GB
		"TKDDDDDDD", // JP
		"MDDDDDDDD", // KR
		"CLDDDDDDL", // DE
		"DDLLDDDDD", // FR
		"EDDDDDDDL", // SG
		"ADDDDDDDD", // MY
		"LLDDDDDD",  // CA
		"PADDDDDDD", // AU
		"7DDDDDDDD", // RU
		"LDDDDDDD",  // IN
		"CDDDDDDD",  // VN
	}
	passportHK       = "KDDDDDDDD"
	passportMacao    = "MADDDDDDD"
	passportTaiwan   = "3DDDDDDDD"
	passportMainland = "EDDDDDDDD"
)

// hkidLetters are the single-letter HKID prefixes in common use; two-letter
// prefixes are rarer.
const (
	hkidLetters       = "ACDEGHKMPRVYZ"
	hkidDoubleLetters = "WXYZ"
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// population creates o.Persons persons with unique document numbers.
func (g *gen) population() {
	n := g.o.Persons
	g.ds.Persons = make([]Person, n)
	g.info = make([]pinfo, n)
	seen := make(map[Doc]struct{}, n*3)
	for i := range n {
		p := &g.ds.Persons[i]
		pi := &g.info[i]
		*pi = pinfo{rp: -1, tp: -1, local: -1, gb: -1}
		pi.birth = randomBirth(g.r)
		p.BirthDate = pi.birth.String()
		k := g.r.IntN(100)
		switch {
		case k < 35:
			p.Kind = HongKong
		case k < 47:
			p.Kind = Macao
		case k < 67:
			p.Kind = Taiwan
		case k < 85:
			p.Kind = Foreign
		default:
			p.Kind = Mainland
		}
		add := func(f func() Doc) int {
			for {
				d := f()
				if _, dup := seen[d]; !dup {
					seen[d] = struct{}{}
					p.Docs = append(p.Docs, d)
					return len(p.Docs) - 1
				}
			}
		}
		p.Docs = make([]Doc, 0, 4)
		switch p.Kind {
		case HongKong, Macao:
			prefix, letter, passport := "810000", byte('H'), passportHK
			pi.regions = regionsHK
			p.Name = pick(g.r, surnamesHK) + " " + pick(g.r, givenHK)
			if p.Kind == Macao {
				prefix, letter, passport = "820000", 'M', passportMacao
				pi.regions = regionsMacao
				p.Name = pick(g.r, surnamesMO) + " " + pick(g.r, givenMO)
			}
			if g.r.IntN(100) < 78 {
				pi.rp = add(func() Doc { return Doc{documents.ResidencePermit, gbNumber(g.r, prefix, pi.birth)} })
			}
			pi.tp = add(func() Doc { return Doc{documents.MainlandTravelPermit, homeReturnPermit(g.r, letter)} })
			if p.Kind == HongKong {
				pi.local = add(func() Doc { return Doc{documents.HKID, hkid(g.r)} })
			} else {
				pi.local = add(func() Doc { return Doc{documents.MacaoID, macaoID(g.r)} })
			}
			if g.r.IntN(100) < 25 {
				pi.passports = append(pi.passports, add(func() Doc { return Doc{documents.Passport, pattern(g.r, passport)} }))
			}
		case Taiwan:
			pi.regions = regionsTaiwan
			p.Name = pick(g.r, surnamesTW) + " " + pick(g.r, givenTW)
			if g.r.IntN(100) < 65 {
				pi.rp = add(func() Doc { return Doc{documents.ResidencePermit, gbNumber(g.r, "830000", pi.birth)} })
			}
			pi.tp = add(func() Doc { return Doc{documents.TaiwanTravelPermit, digits(g.r, 8)} })
			if g.r.IntN(100) < 30 {
				pi.passports = append(pi.passports, add(func() Doc { return Doc{documents.Passport, pattern(g.r, passportTaiwan)} }))
			}
		case Foreign:
			pi.regions = regionsForeign
			p.Name = pick(g.r, namesForeign)
			pi.noBirth = g.r.IntN(100) < 30
			n := 1
			if g.r.IntN(100) < 12 {
				n = 2
			}
			for range n {
				pi.passports = append(pi.passports, add(func() Doc { return Doc{documents.Passport, pattern(g.r, pick(g.r, passportsForeign))} }))
			}
		case Mainland:
			pi.regions = regionsMainland
			p.Name = pick(g.r, surnamesCN) + pick(g.r, givenCN)
			if g.r.IntN(2) == 0 {
				p.Name += pick(g.r, givenCN)
			}
			pi.gb = add(func() Doc { return Doc{documents.MainlandID, gbNumber(g.r, pick(g.r, birthplaces), pi.birth)} })
			if g.r.IntN(100) < 12 {
				pi.passports = append(pi.passports, add(func() Doc { return Doc{documents.Passport, pattern(g.r, passportMainland)} }))
			}
		}
		p.Region = pick(g.r, pi.regions)
	}
}

// gbNumber returns an 18-character GB 11643 number (residence permit or
// mainland ID): region prefix, birth date, sequence, MOD 11-2 check char.
func gbNumber(r *rand.Rand, prefix string, birth date) string {
	var b [18]byte
	copy(b[:], prefix)
	appendPad(b[6:6], birth.y, 4)
	appendPad(b[10:10], birth.m, 2)
	appendPad(b[12:12], birth.d, 2)
	appendPad(b[14:14], r.IntN(1000), 3)
	b[17] = gbCheck(b[:17])
	return string(b[:])
}

// gbCheck computes the ISO 7064 MOD 11-2 check character of 17 digits.
func gbCheck(s []byte) byte {
	weights := [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(s[i]-'0') * w
	}
	return "10X98765432"[sum%11]
}

// homeReturnPermit returns H or M and 8 digits.
func homeReturnPermit(r *rand.Rand, letter byte) string {
	var b [9]byte
	b[0] = letter
	fillDigits(r, b[1:])
	return string(b[:])
}

// hkid returns a Hong Kong identity card number (normalised, no brackets)
// with a valid mod-11 check character.
func hkid(r *rand.Rand) string {
	b := make([]byte, 0, 9)
	if r.IntN(100) < 8 {
		b = append(b, hkidDoubleLetters[r.IntN(len(hkidDoubleLetters))])
	}
	b = append(b, hkidLetters[r.IntN(len(hkidLetters))])
	b = append(b, make([]byte, 6)...)
	fillDigits(r, b[len(b)-6:])
	b = append(b, hkidCheck(b))
	return string(b)
}

// hkidCheck computes the check character of 1-2 letters and 6 digits: a
// single letter is padded with a space worth 36, letters count A=10…Z=35,
// weights 9…2, check (11 - sum mod 11) mod 11 with 10 written A.
func hkidCheck(s []byte) byte {
	letters := len(s) - 6
	sum := 0
	if letters == 1 {
		sum = 36 * 9
	}
	w := 7 + letters
	for i, c := range s {
		v := int(c - '0')
		if i < letters {
			v = int(c-'A') + 10
		}
		sum += v * w
		w--
	}
	return "0123456789A"[(11-sum%11)%11]
}

// macaoID returns 1, 5 or 7, 6 digits and a check digit.
func macaoID(r *rand.Rand) string {
	var b [8]byte
	b[0] = "157"[r.IntN(3)]
	fillDigits(r, b[1:])
	return string(b[:])
}

func digits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	fillDigits(r, b)
	return string(b)
}

func fillDigits(r *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
}

func pattern(r *rand.Rand, p string) string {
	b := []byte(p)
	for i, c := range b {
		switch c {
		case 'D':
			b[i] = byte('0' + r.IntN(10))
		case 'L':
			b[i] = byte('A' + r.IntN(26))
		}
	}
	return string(b)
}

// appendPad appends n in decimal, zero-padded to width digits.
func appendPad(b []byte, n, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for n > 0 || i > len(tmp)-width {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, tmp[i:]...)
}
