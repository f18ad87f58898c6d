package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/idlink/idlink/schemas"
)

// Column lists of the INSERTs. ClickHouse 18.16 needs them spelled out for
// clickhouse-go v2 batches.
const (
	insertEventDocuments = "INSERT INTO event_documents (event_id, type, agency, occurred_at, occurred_date, tz_offset_s, region, birth_date, " +
		"channel, scheme, relying_party, outcome, reason, retracts, doc_type, doc_token, produced_at, inserted_at)"
	insertIdentityChanges = "INSERT INTO identity_changes (change_id, kind, event_id, occurred_at, person_id, other_person_ids, reason, " +
		"revision, person_ids, documents, inserted_at)"
	insertDocPerson = "INSERT INTO doc_person (doc_token, doc_type, person_id, revision, change_id, occurred_at, inserted_at)"
)

// The range DateTime and Date hold on every ClickHouse version.
var (
	minTime = time.Unix(0, 0).UTC()
	maxTime = time.Date(2105, 12, 31, 0, 0, 0, 0, time.UTC)
)

// clampTime keeps t inside what DateTime stores; the zero time becomes the
// epoch (e.g. produced_at of events written by a v1 producer).
func clampTime(t time.Time) time.Time {
	switch {
	case t.IsZero() || t.Before(minTime):
		return minTime
	case t.After(maxTime):
		return maxTime
	}
	return t
}

// LocalDate is the calendar date of t at t's own UTC offset (an event's
// occurred_at keeps the offset the agency gave), as midnight UTC.
func LocalDate(t time.Time) time.Time {
	y, m, d := t.Date()
	return clampTime(time.Date(y, m, d, 0, 0, 0, 0, time.UTC))
}

// InsertEvents writes one row per (event, document) to event_documents in a
// single batch; an event naming no document gets one row with empty document
// fields. Writing the same events again changes no report.
func (s *Store) InsertEvents(ctx context.Context, events []*schemas.Event, insertedAt time.Time) error {
	if len(events) == 0 {
		return nil
	}
	n := 0
	for _, e := range events {
		n += max(1, len(e.Documents))
	}
	var (
		eventID, typ, agency, region, birth    = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		channel, scheme, rp, outcome, reason   = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		retracts, docType, docToken            = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		occurredAt, occurredDate, produced, at = make([]time.Time, 0, n), make([]time.Time, 0, n), make([]time.Time, 0, n), make([]time.Time, 0, n)
		offset                                 = make([]int32, 0, n)
	)
	insertedAt = clampTime(insertedAt)
	for _, e := range events {
		_, off := e.OccurredAt.Zone()
		occ, day, prod := clampTime(e.OccurredAt), LocalDate(e.OccurredAt), clampTime(e.ProducedAt)
		docs := e.Documents
		if len(docs) == 0 {
			docs = []schemas.DocumentRef{{}}
		}
		for _, d := range docs {
			eventID = append(eventID, e.EventID)
			typ = append(typ, e.Type)
			agency = append(agency, e.Agency)
			occurredAt = append(occurredAt, occ)
			occurredDate = append(occurredDate, day)
			offset = append(offset, int32(off))
			region = append(region, e.Region)
			birth = append(birth, e.BirthDate)
			channel = append(channel, e.Attrs["channel"])
			scheme = append(scheme, e.Attrs["scheme"])
			rp = append(rp, e.Attrs["relying_party"])
			outcome = append(outcome, e.Attrs["outcome"])
			reason = append(reason, e.Attrs["reason"])
			retracts = append(retracts, e.Attrs["retracts"])
			docType = append(docType, d.Type)
			docToken = append(docToken, d.Token)
			produced = append(produced, prod)
			at = append(at, insertedAt)
		}
	}
	return s.sendColumns(ctx, "event_documents", insertEventDocuments, []any{
		eventID, typ, agency, occurredAt, occurredDate, offset, region, birth,
		channel, scheme, rp, outcome, reason, retracts, docType, docToken, produced, at,
	})
}

// InsertChanges writes identity changes to identity_changes and the person of
// every document they carry to doc_person, one batch per table. Changes with
// a negative revision are the caller's to reject (see ValidChange).
func (s *Store) InsertChanges(ctx context.Context, changes []*schemas.IdentityChange, insertedAt time.Time) error {
	if len(changes) == 0 {
		return nil
	}
	insertedAt = clampTime(insertedAt)
	n := len(changes)
	var (
		changeID, kind, eventID, personID, reason = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		occurredAt, at                            = make([]time.Time, 0, n), make([]time.Time, 0, n)
		others, personIDs                         = make([][]string, 0, n), make([][]string, 0, n)
		revision                                  = make([]uint64, 0, n)
		docCount                                  = make([]uint32, 0, n)
	)
	var (
		dToken, dType, dPerson, dChange []string
		dRevision                       []uint64
		dOccurred, dAt                  []time.Time
	)
	for _, c := range changes {
		occ := clampTime(c.OccurredAt)
		rev := uint64(max(c.Revision, 0))
		ids := make([]string, 0, len(c.Persons))
		docs := 0
		for _, p := range c.Persons {
			ids = append(ids, p.PersonID)
			docs += len(p.Documents)
			for _, d := range p.Documents {
				dToken = append(dToken, d.Token)
				dType = append(dType, d.Type)
				dPerson = append(dPerson, p.PersonID)
				dRevision = append(dRevision, rev)
				dChange = append(dChange, c.ChangeID)
				dOccurred = append(dOccurred, occ)
				dAt = append(dAt, insertedAt)
			}
		}
		other := c.OtherPersonIDs
		if other == nil {
			other = []string{}
		}
		changeID = append(changeID, c.ChangeID)
		kind = append(kind, c.Kind)
		eventID = append(eventID, c.EventID)
		occurredAt = append(occurredAt, occ)
		personID = append(personID, c.PersonID)
		others = append(others, other)
		reason = append(reason, c.Reason)
		revision = append(revision, rev)
		personIDs = append(personIDs, ids)
		docCount = append(docCount, uint32(docs))
		at = append(at, insertedAt)
	}
	// doc_person first: a change recorded in identity_changes is then known
	// to be reflected in the resolution the reports use.
	if len(dToken) > 0 {
		if err := s.sendColumns(ctx, "doc_person", insertDocPerson, []any{
			dToken, dType, dPerson, dRevision, dChange, dOccurred, dAt,
		}); err != nil {
			return err
		}
	}
	return s.sendColumns(ctx, "identity_changes", insertIdentityChanges, []any{
		changeID, kind, eventID, occurredAt, personID, others, reason, revision, personIDs, docCount, at,
	})
}

// ValidChange reports why a decoded change cannot be stored, or "" if it can.
func ValidChange(c *schemas.IdentityChange) string {
	switch {
	case c.ChangeID == "":
		return "change_id is empty"
	case c.Revision < 0:
		return fmt.Sprintf("revision %d is negative", c.Revision)
	}
	for _, p := range c.Persons {
		if p.PersonID == "" {
			return "a person has an empty person_id"
		}
		for _, d := range p.Documents {
			if d.Token == "" || d.Type == "" {
				return "a document has an empty type or token"
			}
		}
	}
	return ""
}

// ValidEvent reports why a decoded event cannot be stored, or "" if it can.
func ValidEvent(e *schemas.Event) string {
	switch {
	case e.EventID == "":
		return "event_id is empty"
	case e.Type == "":
		return "type is empty"
	}
	for _, d := range e.Documents {
		if d.Token == "" || d.Type == "" {
			return "a document has an empty type or token"
		}
	}
	return ""
}

// sendColumns sends one batch whose columns (in the INSERT's order) are given
// as slices of equal length.
func (s *Store) sendColumns(ctx context.Context, table, insert string, cols []any) (err error) {
	doing := "inserting into ClickHouse table " + s.db + "." + table
	var b driver.Batch
	b, err = s.conn.PrepareBatch(ctx, insert)
	if err != nil {
		return s.wrapConnErr(doing, err)
	}
	defer b.Close()
	for i, c := range cols {
		if err := b.Column(i).Append(c); err != nil {
			return fmt.Errorf("%s: column %d: %w", doing, i, err)
		}
	}
	if err := b.Send(); err != nil {
		return s.wrapConnErr(doing, err)
	}
	return nil
}
