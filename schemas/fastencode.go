package schemas

import "encoding/binary"

// A hand-written encoder for identity changes, the one message idlink writes
// per resolved event and so the one whose encoding cost matters. It writes
// exactly the bytes goavro writes for the schema fastChangeFingerprint names
// (checked by TestEncodeChangeFastMatchesGoavro and FuzzEncodeChange), and
// is used only while that schema is the writer schema.

// appendLong appends an Avro long (zig-zag varint).
func appendLong(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

// appendString appends an Avro string (length, then bytes).
func appendString(b []byte, s string) []byte {
	b = binary.AppendVarint(b, int64(len(s)))
	return append(b, s...)
}

// appendSOE appends the single-object encoding header for fingerprint fp.
func appendSOE(b []byte, fp uint64) []byte {
	b = append(b, 0xC3, 0x01)
	return binary.LittleEndian.AppendUint64(b, fp)
}

// encodeChangeFast encodes ch with the identity_change schema whose
// fingerprint is fastChangeFingerprint.
func encodeChangeFast(ch *IdentityChange) []byte {
	n := soeHeaderLen + 64 + len(ch.ChangeID) + len(ch.Kind) + len(ch.EventID) + len(ch.PersonID) + len(ch.Reason)
	for _, o := range ch.OtherPersonIDs {
		n += len(o) + 2
	}
	for _, p := range ch.Persons {
		n += len(p.PersonID) + 6
		for _, d := range p.Documents {
			n += len(d.Type) + len(d.Token) + 4
		}
	}
	b := make([]byte, 0, n)
	b = appendSOE(b, fastChangeFingerprint)
	b = appendString(b, ch.ChangeID)
	b = appendString(b, ch.Kind)
	b = appendString(b, ch.EventID)
	b = appendLong(b, ch.OccurredAt.UnixMicro())
	b = appendString(b, ch.PersonID)
	if len(ch.OtherPersonIDs) > 0 {
		b = appendLong(b, int64(len(ch.OtherPersonIDs)))
		for _, o := range ch.OtherPersonIDs {
			b = appendString(b, o)
		}
	}
	b = append(b, 0)
	b = appendString(b, ch.Reason)
	b = appendLong(b, ch.Revision)
	if len(ch.Persons) > 0 {
		b = appendLong(b, int64(len(ch.Persons)))
		for _, p := range ch.Persons {
			b = appendString(b, p.PersonID)
			if len(p.Documents) > 0 {
				b = appendLong(b, int64(len(p.Documents)))
				for _, d := range p.Documents {
					b = appendString(b, d.Type)
					b = appendString(b, d.Token)
				}
			}
			b = append(b, 0)
		}
	}
	return append(b, 0)
}
