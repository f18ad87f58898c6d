package schemas

// Hand-written decoders for the current writer schemas of agency_event and
// identity_change. Decoding through goavro builds a map[string]any per record
// (and one per array item) and copies every string; these read the Avro
// binary body straight into Event and IdentityChange.
//
// They apply only to a message whose fingerprint is the one they were written
// for, and only while that schema is the subject's writer schema (see
// Codec.add); every other message (an older writer version, another subject,
// an unknown fingerprint) takes the goavro path, which resolves schemas.
//
// They accept and reject exactly what goavro does (FuzzFastDecodeEvent and
// FuzzFastDecodeChange check it), including goavro's limits: a block count
// above maxBlockCount is an error, and a string may not claim more bytes than
// the message holds. No allocation is sized by a count a message declares
// beyond what the remaining bytes could hold.
//
// Allocation: the body is copied once into a string and every decoded string
// is a substring of it, so a decoded value keeps its whole message body (a
// few hundred bytes) alive while any of its strings is referenced. The
// record and its usual short lists share one allocation (eventBlock,
// changeBlock); an Event's Attrs map is the only other allocation of a
// typical event, and the documents of all persons of a change share one
// array.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"
)

// Fingerprints (CRC-64-AVRO of the canonical form) of the schemas the fast
// decoders were written for: agency_event v2 and identity_change v1.
// TestFastDecodersMatchWriterSchemas fails when a new writer version is
// embedded, as a reminder to update the decoders (until then, the fast path
// is off for that subject and goavro decodes everything).
const (
	fastEventFingerprint  uint64 = 0xfb9f09b084eec48a
	fastChangeFingerprint uint64 = 0x5f083ed8c199a5d5
)

const soeHeaderLen = 10 // 0xC3 0x01 and the 8-byte little-endian fingerprint

// soeFingerprint returns the fingerprint of a single-object encoded message,
// or false when b is not one.
func soeFingerprint(b []byte) (uint64, bool) {
	if len(b) < soeHeaderLen || b[0] != 0xC3 || b[1] != 0x01 {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[2:soeHeaderLen]), true
}

// errShort is what every read past the end of a body reports.
var errShort = errors.New("short buffer")

// avroReader reads Avro binary from a string holding a copy of the body.
type avroReader struct {
	s   string
	pos int
}

// long reads a zig-zag varint exactly as goavro does: it never fails on an
// over-long encoding (bits beyond the 64th are dropped), only on a short
// buffer.
func (r *avroReader) long() (int64, error) {
	var v uint64
	var shift uint
	for r.pos < len(r.s) {
		b := r.s[r.pos]
		r.pos++
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return int64(v>>1) ^ -int64(v&1), nil
		}
		shift += 7
	}
	return 0, errShort
}

// int reads an Avro int as goavro does: a varint of any length whose value
// is truncated to 32 bits.
func (r *avroReader) int() (int32, error) {
	var v uint64
	var shift uint
	for r.pos < len(r.s) {
		b := r.s[r.pos]
		r.pos++
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return int32(uint32(v>>1)) ^ -int32(v&1), nil
		}
		shift += 7
	}
	return 0, errShort
}

func (r *avroReader) string() (string, error) {
	n, err := r.long()
	if err != nil {
		return "", err
	}
	if n < 0 {
		return "", fmt.Errorf("negative size: %d", n)
	}
	if n > int64(len(r.s)-r.pos) {
		return "", errShort
	}
	s := r.s[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return s, nil
}

// blockCount reads the item count of an array or map block (a negative count
// is followed by the block's byte size, which is skipped), with goavro's cap.
func (r *avroReader) blockCount() (int, error) {
	n, err := r.long()
	if err != nil {
		return 0, err
	}
	if n < 0 {
		if n == math.MinInt64 {
			return 0, fmt.Errorf("block count %d", n)
		}
		n = -n
		if _, err := r.long(); err != nil {
			return 0, fmt.Errorf("block size: %w", err)
		}
	}
	if n > maxBlockCount {
		return 0, fmt.Errorf("block count exceeds MaxBlockCount: %d > %d", n, maxBlockCount)
	}
	return int(n), nil
}

// capFor bounds a slice or map capacity taken from a declared count by how
// many items of at least minSize bytes the rest of the body could hold.
func (r *avroReader) capFor(count, minSize int) int {
	return min(count, (len(r.s)-r.pos)/minSize)
}

// fastErr wraps an error of a fast decoder the way decode wraps goavro's.
func fastErr(subject Subject, number int, field string, err error) error {
	return fmt.Errorf("decoding %s v%d: field %q: %w", subject, number, field, err)
}

// eventBlock is an Event allocated together with room for its documents.
type eventBlock struct {
	e    Event
	docs [2]DocumentRef
}

// decodeEventFast decodes the body of an agency_event v2 message.
func decodeEventFast(body []byte) (*Event, error) {
	fail := func(field string, err error) (*Event, error) {
		return nil, fastErr(SubjectAgencyEvent, 2, field, err)
	}
	r := avroReader{s: string(body)}
	// Most events name one or two documents: one allocation holds both the
	// event and their slice (a longer list gets a slice of its own).
	blk := new(eventBlock)
	e := &blk.e
	var err error
	if e.EventID, err = r.string(); err != nil {
		return fail("event_id", err)
	}
	if e.Type, err = r.string(); err != nil {
		return fail("type", err)
	}
	if e.Agency, err = r.string(); err != nil {
		return fail("agency", err)
	}
	occurred, err := r.long()
	if err != nil {
		return fail("occurred_at_us", err)
	}
	off, err := r.int()
	if err != nil {
		return fail("tz_offset_s", err)
	}
	e.OccurredAt = time.UnixMicro(occurred).In(time.FixedZone("", int(off)))
	if e.Region, err = r.string(); err != nil {
		return fail("region", err)
	}
	if e.BirthDate, err = r.string(); err != nil {
		return fail("birth_date", err)
	}
	for {
		n, err := r.blockCount()
		if err != nil {
			return fail("documents", err)
		}
		if n == 0 {
			break
		}
		if e.Documents == nil {
			if n <= len(blk.docs) {
				e.Documents = blk.docs[:0:len(blk.docs)]
			} else {
				// A DocumentRef takes at least 3 bytes (three string lengths).
				e.Documents = make([]DocumentRef, 0, r.capFor(n, 3))
			}
		}
		for range n {
			var d DocumentRef
			if d.Type, err = r.string(); err != nil {
				return fail("documents", err)
			}
			if d.Token, err = r.string(); err != nil {
				return fail("documents", err)
			}
			if d.BirthDate, err = r.string(); err != nil {
				return fail("documents", err)
			}
			e.Documents = append(e.Documents, d)
		}
	}
	for {
		n, err := r.blockCount()
		if err != nil {
			return fail("attrs", err)
		}
		if n == 0 {
			break
		}
		if e.Attrs == nil {
			// An entry takes at least 2 bytes (two string lengths).
			e.Attrs = make(map[string]string, r.capFor(n, 2))
		}
		for range n {
			k, err := r.string()
			if err != nil {
				return fail("attrs", err)
			}
			v, err := r.string()
			if err != nil {
				return fail("attrs", err)
			}
			// A key seen before leaves the size unchanged (goavro fails on
			// it too; the event is dropped either way).
			had := len(e.Attrs)
			if e.Attrs[k] = v; len(e.Attrs) == had {
				return fail("attrs", fmt.Errorf("duplicate key: %q", k))
			}
		}
	}
	produced, err := r.long()
	if err != nil {
		return fail("produced_at_us", err)
	}
	e.ProducedAt = fromMicros(produced)
	if rest := len(r.s) - r.pos; rest != 0 {
		return nil, fmt.Errorf("decoding %s v2: %d trailing bytes", SubjectAgencyEvent, rest)
	}
	return e, nil
}

// changeBlock is an IdentityChange allocated together with room for the ids
// and persons most changes carry (longer lists get slices of their own).
type changeBlock struct {
	ch      IdentityChange
	others  [1]string
	persons [2]PersonState
}

// decodeChangeFast decodes the body of an identity_change v1 message.
func decodeChangeFast(body []byte) (*IdentityChange, error) {
	fail := func(field string, err error) (*IdentityChange, error) {
		return nil, fastErr(SubjectIdentityChange, 1, field, err)
	}
	r := avroReader{s: string(body)}
	blk := new(changeBlock)
	ch := &blk.ch
	var err error
	if ch.ChangeID, err = r.string(); err != nil {
		return fail("change_id", err)
	}
	if ch.Kind, err = r.string(); err != nil {
		return fail("kind", err)
	}
	if ch.EventID, err = r.string(); err != nil {
		return fail("event_id", err)
	}
	occurred, err := r.long()
	if err != nil {
		return fail("occurred_at_us", err)
	}
	ch.OccurredAt = time.UnixMicro(occurred).UTC()
	if ch.PersonID, err = r.string(); err != nil {
		return fail("person_id", err)
	}
	for {
		n, err := r.blockCount()
		if err != nil {
			return fail("other_person_ids", err)
		}
		if n == 0 {
			break
		}
		if ch.OtherPersonIDs == nil {
			if n <= len(blk.others) {
				ch.OtherPersonIDs = blk.others[:0:len(blk.others)]
			} else {
				ch.OtherPersonIDs = make([]string, 0, r.capFor(n, 1))
			}
		}
		for range n {
			s, err := r.string()
			if err != nil {
				return fail("other_person_ids", err)
			}
			ch.OtherPersonIDs = append(ch.OtherPersonIDs, s)
		}
	}
	if ch.Reason, err = r.string(); err != nil {
		return fail("reason", err)
	}
	if ch.Revision, err = r.long(); err != nil {
		return fail("revision", err)
	}
	// The documents of every person share one backing array.
	var docs []PersonDocument
	for {
		n, err := r.blockCount()
		if err != nil {
			return fail("persons", err)
		}
		if n == 0 {
			break
		}
		if ch.Persons == nil {
			if n <= len(blk.persons) {
				ch.Persons = blk.persons[:0:len(blk.persons)]
			} else {
				// A PersonState takes at least 2 bytes (an id length and
				// an empty documents array).
				ch.Persons = make([]PersonState, 0, r.capFor(n, 2))
			}
		}
		for range n {
			var p PersonState
			if p.PersonID, err = r.string(); err != nil {
				return fail("persons", err)
			}
			if p.Documents, err = r.personDocuments(&docs); err != nil {
				return fail("persons", err)
			}
			ch.Persons = append(ch.Persons, p)
		}
	}
	if rest := len(r.s) - r.pos; rest != 0 {
		return nil, fmt.Errorf("decoding %s v1: %d trailing bytes", SubjectIdentityChange, rest)
	}
	return ch, nil
}

// personDocuments reads a PersonState's documents array, appending them to
// *pool, and returns them (nil when there are none) as a slice of *pool that
// later appends cannot overwrite.
func (r *avroReader) personDocuments(pool *[]PersonDocument) ([]PersonDocument, error) {
	start := len(*pool)
	for {
		n, err := r.blockCount()
		if err != nil {
			return nil, fmt.Errorf("documents: %w", err)
		}
		if n == 0 {
			break
		}
		if *pool == nil {
			// A PersonDocument takes at least 2 bytes (two string lengths).
			*pool = make([]PersonDocument, 0, r.capFor(n, 2))
		}
		for range n {
			var d PersonDocument
			if d.Type, err = r.string(); err != nil {
				return nil, fmt.Errorf("documents: %w", err)
			}
			if d.Token, err = r.string(); err != nil {
				return nil, fmt.Errorf("documents: %w", err)
			}
			*pool = append(*pool, d)
		}
	}
	if len(*pool) == start {
		return nil, nil
	}
	return (*pool)[start:len(*pool):len(*pool)], nil
}
