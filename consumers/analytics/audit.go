package analytics

import (
	"context"
	"fmt"
	"time"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/schemas"
)

// insertAuditLookups names the columns of audit_lookups (migration 0005);
// ClickHouse 18.16 needs them spelled out for clickhouse-go v2 batches.
const insertAuditLookups = "INSERT INTO audit_lookups (audit_id, requested_at, requested_at_us, relying_party, key_id, endpoint, " +
	"status, outcome, reason, latency_us, documents, doc_index, doc_type, doc_token, inserted_at)"

// validAudit reports why a decoded audit record cannot be stored, or "" if
// it can.
func validAudit(a *schemas.AuditLookup) string {
	switch {
	case a.AuditID == "":
		return "audit_id is empty"
	case a.Endpoint == "":
		return "endpoint is empty"
	case a.Status < 100 || a.Status > 599:
		return fmt.Sprintf("status %d is not an HTTP status", a.Status)
	case len(a.Documents) > 255:
		return fmt.Sprintf("%d documents, more than a call may name", len(a.Documents))
	}
	return ""
}

// insertAudit writes audit records to audit_lookups in one batch: a row per
// document asked about, one row with empty document fields for a call that
// named none. Writing the same records again changes no answer of `idlink
// audit`, which groups by audit_id.
func insertAudit(ctx context.Context, store *analytics.Store, records []*schemas.AuditLookup, insertedAt time.Time) error {
	if len(records) == 0 {
		return nil
	}
	b, err := store.Conn().PrepareBatch(ctx, insertAuditLookups)
	if err != nil {
		return fmt.Errorf("inserting into ClickHouse table %s.audit_lookups: %w", store.Database(), err)
	}
	defer b.Close()
	for _, a := range records {
		at := a.RequestedAt.UTC()
		if at.Before(time.Unix(0, 0)) {
			at = time.Unix(0, 0).UTC() // DateTime starts at the epoch
		}
		docs := a.Documents
		if len(docs) == 0 {
			docs = []schemas.AuditDocument{{}}
		}
		for i, d := range docs {
			if err := b.Append(a.AuditID, at, uint64(max(at.UnixMicro(), 0)), a.RelyingParty, a.KeyID, a.Endpoint,
				uint16(a.Status), a.Outcome, a.Reason, uint64(max(a.Latency.Microseconds(), 0)),
				uint8(len(a.Documents)), uint8(i), d.Type, d.Token, insertedAt.UTC()); err != nil {
				return fmt.Errorf("inserting into ClickHouse table %s.audit_lookups: %w", store.Database(), err)
			}
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("inserting into ClickHouse table %s.audit_lookups: %w", store.Database(), err)
	}
	return nil
}
