package schemas

import "time"

// AuditLookup is the audit record of one call to the verification API
// (topic audit.lookups). It names documents by type and token only.
type AuditLookup struct {
	AuditID      string
	RequestedAt  time.Time
	RelyingParty string // "" when the call had no known key
	KeyID        string // "" unless the key store knows the key presented
	Endpoint     string // /v1/verify, /v1/match or other
	Documents    []AuditDocument
	Status       int    // HTTP status answered
	Outcome      string // ok, bad_request, unauthorized, ...
	Reason       string // machine-readable reason of a refusal
	Latency      time.Duration
}

// AuditDocument is one document a call asked about. Type is "" for a type
// the contract does not know, Token "" for a number that is not valid.
type AuditDocument struct {
	Type  string
	Token string
}

// EncodeAudit writes an audit record with the newest audit_lookup schema.
func (c *Codec) EncodeAudit(a *AuditLookup) ([]byte, error) {
	docs := make([]any, len(a.Documents))
	for i, d := range a.Documents {
		docs[i] = map[string]any{"type": d.Type, "token": d.Token}
	}
	return c.encode(SubjectAuditLookup, map[string]any{
		"audit_id":        a.AuditID,
		"requested_at_us": micros(a.RequestedAt),
		"relying_party":   a.RelyingParty,
		"key_id":          a.KeyID,
		"endpoint":        a.Endpoint,
		"documents":       docs,
		"status":          int32(a.Status),
		"outcome":         a.Outcome,
		"reason":          a.Reason,
		"latency_us":      a.Latency.Microseconds(),
	})
}

// DecodeAudit reads an audit record written with any embedded version.
func (c *Codec) DecodeAudit(b []byte) (*AuditLookup, error) {
	m, err := c.decode(SubjectAuditLookup, b)
	if err != nil {
		return nil, err
	}
	a := &AuditLookup{
		AuditID:      str(m, "audit_id"),
		RequestedAt:  fromMicros(i64(m, "requested_at_us")),
		RelyingParty: str(m, "relying_party"),
		KeyID:        str(m, "key_id"),
		Endpoint:     str(m, "endpoint"),
		Status:       int(i64(m, "status")),
		Outcome:      str(m, "outcome"),
		Reason:       str(m, "reason"),
		Latency:      time.Duration(i64(m, "latency_us")) * time.Microsecond,
	}
	for _, x := range list(m, "documents") {
		d, _ := x.(map[string]any)
		a.Documents = append(a.Documents, AuditDocument{Type: str(d, "type"), Token: str(d, "token")})
	}
	return a, nil
}
