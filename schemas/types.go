package schemas

import "time"

// Event is a validated, pseudonymised agency event as carried on the agency
// topics. It holds tokens, never raw document numbers.
type Event struct {
	EventID    string
	Type       string
	Agency     string
	OccurredAt time.Time // with the offset the agency gave
	Region     string
	BirthDate  string // person.birth_date, YYYY-MM-DD or ""
	Documents  []DocumentRef
	Attrs      map[string]string
	ProducedAt time.Time // zero when written by a v1 producer
}

// DocumentRef names one document of an event by type and keyed token.
type DocumentRef struct {
	Type      string
	Token     string
	BirthDate string // embedded in residence permit / mainland ID numbers, else ""
}

// Identity change kinds.
const (
	ChangeCreated      = "created"
	ChangeMerged       = "merged"
	ChangeSplit        = "split"
	ChangeConflictHeld = "conflict_held"
	// ChangeConflictReleased: an event held back is no longer held (a
	// retraction re-decided it, or withdrew it).
	ChangeConflictReleased = "conflict_released"
	// ChangeReassigned: documents moved to a person without a change of
	// their own (a late event rewrote the history).
	ChangeReassigned = "reassigned"
)

// IdentityChange is one change of the identity resolution.
type IdentityChange struct {
	ChangeID       string
	Kind           string
	EventID        string
	OccurredAt     time.Time
	PersonID       string
	OtherPersonIDs []string
	Reason         string
	Revision       int64
	Persons        []PersonState
}

// PersonState is a person's whole document set after a change.
type PersonState struct {
	PersonID  string
	Documents []PersonDocument
}

// PersonDocument is one document held by a person.
type PersonDocument struct {
	Type  string
	Token string
}

// DeadLetter is a rejected event with a machine-readable reason.
type DeadLetter struct {
	EventID    string
	Reason     string
	Detail     string
	Stage      string // producer, resolver, sink
	Source     string
	RejectedAt time.Time
	Payload    []byte // redacted: no raw document numbers
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// EncodeEvent writes e with the newest agency_event schema.
func (c *Codec) EncodeEvent(e *Event) ([]byte, error) {
	_, off := e.OccurredAt.Zone()
	docs := make([]any, len(e.Documents))
	for i, d := range e.Documents {
		docs[i] = map[string]any{"type": d.Type, "token": d.Token, "birth_date": d.BirthDate}
	}
	attrs := make(map[string]any, len(e.Attrs))
	for k, v := range e.Attrs {
		attrs[k] = v
	}
	return c.encode(SubjectAgencyEvent, map[string]any{
		"event_id":       e.EventID,
		"type":           e.Type,
		"agency":         e.Agency,
		"occurred_at_us": e.OccurredAt.UnixMicro(),
		"tz_offset_s":    int32(off),
		"region":         e.Region,
		"birth_date":     e.BirthDate,
		"documents":      docs,
		"attrs":          attrs,
		"produced_at_us": micros(e.ProducedAt),
	})
}

// DecodeEvent reads an agency event written with any embedded schema version.
// Messages written with the current writer schema are decoded by a
// hand-written decoder (fastdecode.go), the others through goavro.
func (c *Codec) DecodeEvent(b []byte) (*Event, error) {
	if c.fastEvent {
		if fp, ok := soeFingerprint(b); ok && fp == fastEventFingerprint {
			return decodeEventFast(b[soeHeaderLen:])
		}
	}
	return c.decodeEventGeneric(b)
}

// decodeEventGeneric is DecodeEvent through goavro, for any embedded version.
func (c *Codec) decodeEventGeneric(b []byte) (*Event, error) {
	m, err := c.decode(SubjectAgencyEvent, b)
	if err != nil {
		return nil, err
	}
	off := int(i64(m, "tz_offset_s"))
	e := &Event{
		EventID:    str(m, "event_id"),
		Type:       str(m, "type"),
		Agency:     str(m, "agency"),
		OccurredAt: time.UnixMicro(i64(m, "occurred_at_us")).In(time.FixedZone("", off)),
		Region:     str(m, "region"),
		BirthDate:  str(m, "birth_date"),
		ProducedAt: fromMicros(i64(m, "produced_at_us")),
	}
	for _, x := range list(m, "documents") {
		d, _ := x.(map[string]any)
		e.Documents = append(e.Documents, DocumentRef{Type: str(d, "type"), Token: str(d, "token"), BirthDate: str(d, "birth_date")})
	}
	if am, ok := m["attrs"].(map[string]any); ok && len(am) > 0 {
		e.Attrs = make(map[string]string, len(am))
		for k, v := range am {
			s, _ := v.(string)
			e.Attrs[k] = s
		}
	}
	return e, nil
}

// EncodeChange writes an identity change. While the schema the hand-written
// encoder (fastencode.go) was written for is the writer schema, it is used;
// otherwise goavro encodes.
func (c *Codec) EncodeChange(ch *IdentityChange) ([]byte, error) {
	if c.fastChange {
		return encodeChangeFast(ch), nil
	}
	return c.encodeChangeGeneric(ch)
}

// encodeChangeGeneric is EncodeChange through goavro.
func (c *Codec) encodeChangeGeneric(ch *IdentityChange) ([]byte, error) {
	persons := make([]any, len(ch.Persons))
	for i, p := range ch.Persons {
		docs := make([]any, len(p.Documents))
		for j, d := range p.Documents {
			docs[j] = map[string]any{"type": d.Type, "token": d.Token}
		}
		persons[i] = map[string]any{"person_id": p.PersonID, "documents": docs}
	}
	return c.encode(SubjectIdentityChange, map[string]any{
		"change_id":        ch.ChangeID,
		"kind":             ch.Kind,
		"event_id":         ch.EventID,
		"occurred_at_us":   ch.OccurredAt.UnixMicro(),
		"person_id":        ch.PersonID,
		"other_person_ids": anyStrings(ch.OtherPersonIDs),
		"reason":           ch.Reason,
		"revision":         ch.Revision,
		"persons":          persons,
	})
}

// DecodeChange reads an identity change written with any embedded version.
// Messages written with the current writer schema are decoded by a
// hand-written decoder (fastdecode.go), the others through goavro.
func (c *Codec) DecodeChange(b []byte) (*IdentityChange, error) {
	if c.fastChange {
		if fp, ok := soeFingerprint(b); ok && fp == fastChangeFingerprint {
			return decodeChangeFast(b[soeHeaderLen:])
		}
	}
	return c.decodeChangeGeneric(b)
}

// decodeChangeGeneric is DecodeChange through goavro, for any embedded version.
func (c *Codec) decodeChangeGeneric(b []byte) (*IdentityChange, error) {
	m, err := c.decode(SubjectIdentityChange, b)
	if err != nil {
		return nil, err
	}
	ch := &IdentityChange{
		ChangeID:       str(m, "change_id"),
		Kind:           str(m, "kind"),
		EventID:        str(m, "event_id"),
		OccurredAt:     time.UnixMicro(i64(m, "occurred_at_us")).UTC(),
		PersonID:       str(m, "person_id"),
		OtherPersonIDs: strs(m, "other_person_ids"),
		Reason:         str(m, "reason"),
		Revision:       i64(m, "revision"),
	}
	for _, x := range list(m, "persons") {
		pm, _ := x.(map[string]any)
		p := PersonState{PersonID: str(pm, "person_id")}
		for _, y := range list(pm, "documents") {
			dm, _ := y.(map[string]any)
			p.Documents = append(p.Documents, PersonDocument{Type: str(dm, "type"), Token: str(dm, "token")})
		}
		ch.Persons = append(ch.Persons, p)
	}
	return ch, nil
}

// EncodeDeadLetter writes a dead-letter record.
func (c *Codec) EncodeDeadLetter(d *DeadLetter) ([]byte, error) {
	payload := d.Payload
	if payload == nil {
		payload = []byte{}
	}
	return c.encode(SubjectDeadLetter, map[string]any{
		"event_id":       d.EventID,
		"reason":         d.Reason,
		"detail":         d.Detail,
		"stage":          d.Stage,
		"source":         d.Source,
		"rejected_at_us": micros(d.RejectedAt),
		"payload":        payload,
	})
}

// DecodeDeadLetter reads a dead-letter record.
func (c *Codec) DecodeDeadLetter(b []byte) (*DeadLetter, error) {
	m, err := c.decode(SubjectDeadLetter, b)
	if err != nil {
		return nil, err
	}
	p, _ := m["payload"].([]byte)
	return &DeadLetter{
		EventID:    str(m, "event_id"),
		Reason:     str(m, "reason"),
		Detail:     str(m, "detail"),
		Stage:      str(m, "stage"),
		Source:     str(m, "source"),
		RejectedAt: fromMicros(i64(m, "rejected_at_us")),
		Payload:    p,
	}, nil
}
