package identity

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/idlink/idlink/documents"
	"github.com/idlink/idlink/eventtypes"
)

// The cluster blob is a compact binary record, one Redis string per cluster:
// a base segment, then any number of pieces appended to it (Redis APPEND),
// each adding documents and events, so that growing a large cluster writes
// only what is new. A segment is:
//
//	version byte (1 for the base, 2 for a piece)
//	uvarint revision (the cluster's, as of that segment)
//	uvarint #docs, then per doc: 32 token bytes, type byte, uvarint birth day (0 = none)
//	uvarint #events, then per event: flags byte (1 retraction, 2 birth date,
//	    4 sets status active, 8 sets status revoked, 16 type and agency codes),
//	    string id, varint occurred_at µs, [uvarint birth day], uvarint #docs,
//	    uvarint doc index..., [string retracts], [event type code, agency code]
//
// Document indices count every document of the segments before, so a piece
// names documents of the base. Strings are uvarint length + bytes; birth
// days count from 1800-01-01 plus one. A base's revision is never written
// twice for one cluster (every write takes a new one, see Store.NextRevision),
// so the first bytes of a blob name its base: pieces never change them.
const (
	blobVersion  = 1
	pieceVersion = 2
)

var epoch = time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC)

// docTypes is the stored code of every document type: its index. Codes are
// frozen, since every stored cluster holds them: a new type is appended,
// and no entry is ever moved or reused (TestTypeCodesAreFrozen).
var docTypes = [...]documents.Type{
	0: documents.ResidencePermit,
	1: documents.MainlandID,
	2: documents.MainlandTravelPermit,
	3: documents.TaiwanTravelPermit,
	4: documents.HKID,
	5: documents.MacaoID,
	6: documents.Passport,
}

// eventTypes and agencies are the stored codes of event types and agencies,
// frozen like docTypes; code 0 is "not recorded".
var eventTypes = [...]string{
	1:  eventtypes.ResidencePermitIssued,
	2:  eventtypes.ResidencePermitRevoked,
	3:  eventtypes.TravelPermitIssued,
	4:  eventtypes.InsuranceEnrolled,
	5:  eventtypes.CodeActivated,
	6:  eventtypes.IdentityVerified,
	7:  eventtypes.LinkRetracted,
	8:  eventtypes.SocialSecurityCardIssued,
	9:  eventtypes.DriverQualificationRegistered,
	10: eventtypes.InsuranceOffsiteFiled,
}

var agencies = [...]string{
	1: eventtypes.MPS,
	2: eventtypes.NIA,
	3: eventtypes.NHSA,
	4: eventtypes.MOT,
	5: eventtypes.MOHRSS,
	6: eventtypes.Platform,
}

// code returns the index of s in table, or 0.
func code(table []string, s string) byte {
	if s == "" {
		return 0
	}
	for i, t := range table {
		if t == s {
			return byte(i)
		}
	}
	return 0
}

// name returns table[c], or "" for a code the table lacks.
func name(table []string, c byte) string {
	if int(c) < len(table) {
		return table[c]
	}
	return ""
}

func typeCode(t string) (byte, bool) {
	for i, d := range docTypes {
		if string(d) == t {
			return byte(i), true
		}
	}
	return 0, false
}

func dayOf(date string) uint64 {
	if date == "" {
		return 0
	}
	t, err := time.Parse("2006-01-02", date)
	if err != nil || t.Before(epoch) {
		return 0
	}
	return uint64(t.Sub(epoch).Hours()/24) + 1
}

func dateOf(day uint64) string {
	if day == 0 {
		return ""
	}
	return epoch.AddDate(0, 0, int(day-1)).Format("2006-01-02")
}

// ValidToken reports whether tok looks like a document token (64 lower-case
// hex characters, an HMAC-SHA256).
func ValidToken(tok string) bool {
	if len(tok) != 64 {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// MarshalBinary encodes the cluster as one base segment. Tokens must be
// valid (ValidToken) and types known; the resolver rejects anything else
// before it gets here.
func (c *Cluster) MarshalBinary() ([]byte, error) {
	return c.appendSegment(make([]byte, 0, 16+len(c.Docs)*36+len(c.Events)*32), blobVersion, 0, 0)
}

// MarshalPiece encodes, as a piece to append to the blob of the cluster's
// first nDocs documents and nEvents events, the documents and events added
// since, and the cluster's revision.
func (c *Cluster) MarshalPiece(nDocs, nEvents int) ([]byte, error) {
	return c.appendSegment(make([]byte, 0, 16+(len(c.Docs)-nDocs)*36+(len(c.Events)-nEvents)*32), pieceVersion, nDocs, nEvents)
}

// appendSegment appends a segment holding the documents from index docs on
// and the events from index events on.
func (c *Cluster) appendSegment(b []byte, version byte, docs, events int) ([]byte, error) {
	b = append(b, version)
	b = binary.AppendUvarint(b, uint64(c.Rev))
	b = binary.AppendUvarint(b, uint64(len(c.Docs)-docs))
	for _, d := range c.Docs[docs:] {
		var raw [32]byte
		if !decodeToken(&raw, d.Token) {
			return nil, fmt.Errorf("encoding cluster %s: malformed token", c.ID)
		}
		code, ok := typeCode(d.Type)
		if !ok {
			return nil, fmt.Errorf("encoding cluster %s: unknown document type %q", c.ID, d.Type)
		}
		b = append(b, raw[:]...)
		b = append(b, code)
		b = binary.AppendUvarint(b, dayOf(d.BirthDate))
	}
	b = binary.AppendUvarint(b, uint64(len(c.Events)-events))
	for _, e := range c.Events[events:] {
		var flags byte
		if e.Retract {
			flags |= 1
		}
		if e.BirthDate != "" {
			flags |= 2
		}
		switch e.Status {
		case StatusActive:
			flags |= 4
		case StatusRevoked:
			flags |= 8
		}
		tc, ac := code(eventTypes[:], e.Type), code(agencies[:], e.Agency)
		if tc != 0 || ac != 0 {
			flags |= 16
		}
		b = append(b, flags)
		b = appendString(b, e.ID)
		b = binary.AppendVarint(b, e.At)
		if e.BirthDate != "" {
			b = binary.AppendUvarint(b, dayOf(e.BirthDate))
		}
		b = binary.AppendUvarint(b, uint64(len(e.Docs)))
		for _, d := range e.Docs {
			b = binary.AppendUvarint(b, uint64(d))
		}
		if e.Retract {
			b = appendString(b, e.Retracts)
		}
		if flags&16 != 0 {
			b = append(b, tc, ac)
		}
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errCorrupt = errors.New("corrupt cluster record")

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errCorrupt
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if uint64(len(r.b)) < n {
		r.err = errCorrupt
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) byte() byte {
	b := r.bytes(1)
	if b == nil {
		return 0
	}
	return b[0]
}

// UnmarshalCluster decodes a cluster written by MarshalBinary, with any
// pieces appended to it (MarshalPiece).
func UnmarshalCluster(id string, b []byte) (*Cluster, error) {
	if len(b) == 0 || b[0] != blobVersion {
		v := -1
		if len(b) > 0 {
			v = int(b[0])
		}
		return nil, fmt.Errorf("decoding cluster %s: version %d: %w", id, v, errCorrupt)
	}
	c := NewCluster(id)
	r := &reader{b: b}
	c.decodeSegment(r)
	for r.err == nil && len(r.b) > 0 {
		if r.b[0] != pieceVersion {
			return nil, fmt.Errorf("decoding cluster %s: piece version %d: %w", id, r.b[0], errCorrupt)
		}
		c.decodeSegment(r)
	}
	if r.err != nil {
		return nil, fmt.Errorf("decoding cluster %s: %w", id, r.err)
	}
	c.blobLen = len(b)
	c.index()
	return c, nil
}

// AppendPieces decodes pieces appended to the cluster's blob since it was
// read (b holds whole pieces only) into c.
func (c *Cluster) AppendPieces(b []byte) error {
	r := &reader{b: b}
	for r.err == nil && len(r.b) > 0 {
		if r.b[0] != pieceVersion {
			return fmt.Errorf("decoding cluster %s: piece version %d: %w", c.ID, r.b[0], errCorrupt)
		}
		c.decodeSegment(r)
	}
	if r.err != nil {
		return fmt.Errorf("decoding cluster %s: %w", c.ID, r.err)
	}
	c.blobLen += len(b)
	c.index()
	return nil
}

// decodeSegment decodes one segment into c, adding its documents and events.
func (c *Cluster) decodeSegment(r *reader) {
	r.byte() // the version, checked by the caller
	c.Rev = int64(r.uvarint())
	nd := r.uvarint()
	if nd > uint64(len(r.b)) {
		r.err = errCorrupt
		return
	}
	c.Docs = slices.Grow(c.Docs, int(nd))
	for i := uint64(0); i < nd && r.err == nil; i++ {
		tok := hex.EncodeToString(r.bytes(32))
		code := r.byte()
		day := r.uvarint()
		if int(code) >= len(docTypes) {
			r.err = errCorrupt
			break
		}
		c.Docs = append(c.Docs, Doc{Token: tok, Type: string(docTypes[code]), BirthDate: dateOf(day)})
	}
	ne := r.uvarint()
	if ne > uint64(len(r.b)) {
		r.err = errCorrupt
		return
	}
	docs := uint64(len(c.Docs))
	c.Events = slices.Grow(c.Events, int(ne))
	for i := uint64(0); i < ne && r.err == nil; i++ {
		flags := r.byte()
		e := Event{Retract: flags&1 != 0}
		switch {
		case flags&4 != 0:
			e.Status = StatusActive
		case flags&8 != 0:
			e.Status = StatusRevoked
		}
		e.ID = string(r.bytes(r.uvarint()))
		e.At = r.varint()
		if flags&2 != 0 {
			e.BirthDate = dateOf(r.uvarint())
		}
		n := r.uvarint()
		if n > uint64(len(r.b)) {
			r.err = errCorrupt
			break
		}
		e.Docs = make([]int, 0, n)
		for j := uint64(0); j < n; j++ {
			d := r.uvarint()
			if d >= docs {
				r.err = errCorrupt
			}
			e.Docs = append(e.Docs, int(d))
		}
		if e.Retract {
			e.Retracts = string(r.bytes(r.uvarint()))
		}
		if flags&16 != 0 {
			e.Type, e.Agency = name(eventTypes[:], r.byte()), name(agencies[:], r.byte())
		}
		c.Events = append(c.Events, e)
	}
}
