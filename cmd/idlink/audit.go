package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/documents"
	"github.com/idlink/idlink/producers"
)

// auditEntry is one call of the verification API about a document, as
// `idlink audit --json` prints it.
type auditEntry struct {
	At           time.Time `json:"at"`
	RelyingParty string    `json:"relying_party"`
	KeyID        string    `json:"key_id"`
	Endpoint     string    `json:"endpoint"`
	Status       int       `json:"status"`
	Outcome      string    `json:"outcome"`
	Reason       string    `json:"reason"`
	AuditID      string    `json:"audit_id"`
}

// cmdAudit lists who asked the verification API about one document, and
// when, from the audit the analytics sink landed in ClickHouse.
func cmdAudit(ctx context.Context, a *app, args []string) int {
	fs := a.flags("audit", "--doc-type T --number N [--json]")
	docType := fs.String("doc-type", "", "document type: "+typeNames())
	number := fs.String("number", "", "document number (normalised like the producer does)")
	asJSON := fs.Bool("json", false, "print the calls as one JSON array")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if !a.noArgs(fs) {
		return 2
	}
	if *docType == "" || *number == "" {
		fmt.Fprintln(a.stderr, "idlink audit: pass --doc-type and --number (e.g. --doc-type residence_permit --number 820000199002110013)")
		return 2
	}
	t, ok := documents.ParseType(*docType)
	if !ok {
		fmt.Fprintf(a.stderr, "idlink audit: unknown --doc-type %q: use one of %s\n", *docType, typeNames())
		return 2
	}
	valid, verr := documents.Validate(t, *number)
	if verr != nil {
		fmt.Fprintf(a.stderr, "idlink audit: --number is not a valid %s (%v): check the number\n", t, verr)
		return 2
	}
	cfg, ok := a.config()
	if !ok {
		return 1
	}
	if err := cfg.RequireKey(); err != nil {
		return a.fail(err)
	}
	tok := producers.NewPseudonymizer(cfg.PseudonymKey).Token(t, valid.Number)
	store, err := analytics.OpenReports(ctx, cfg)
	if err != nil {
		return a.fail(err)
	}
	defer store.Close()
	entries, err := auditOf(ctx, store, string(t), tok)
	if err != nil {
		return a.fail(err)
	}
	if *asJSON {
		if err := json.NewEncoder(a.stdout).Encode(entries); err != nil {
			return a.fail(err)
		}
		return 0
	}
	if len(entries) == 0 {
		fmt.Fprintln(a.stdout, "no calls about that document (the audit lists calls once `idlink run` has landed them)")
		return 0
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "AT\tRELYING PARTY\tENDPOINT\tSTATUS\tOUTCOME\tREASON")
	for _, e := range entries {
		rp := e.RelyingParty
		if rp == "" {
			rp = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", e.At.Format("2006-01-02T15:04:05.000000Z07:00"), rp, e.Endpoint, e.Status, e.Outcome, e.Reason)
	}
	if err := tw.Flush(); err != nil {
		return a.fail(err)
	}
	return 0
}

// auditOf reads the calls that named the document (type docType, token tok)
// from audit_lookups, oldest first, each call once. tok is the producer's
// hex token, so it is safe to splice into the query (18.16 takes no bound
// parameters).
func auditOf(ctx context.Context, store *analytics.Store, docType, tok string) ([]auditEntry, error) {
	if strings.Trim(tok, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("token %q is not hex", tok)
	}
	if _, ok := documents.ParseType(docType); !ok {
		return nil, fmt.Errorf("unknown document type %q", docType)
	}
	q := "SELECT audit_id, any(requested_at_us) AS at_us, any(relying_party) AS rp, any(key_id) AS kid, any(endpoint) AS ep, " +
		"any(status) AS st, any(outcome) AS oc, any(reason) AS rs " +
		"FROM audit_lookups WHERE doc_token = '" + tok + "' AND doc_type = '" + docType + "' " +
		"GROUP BY audit_id ORDER BY at_us, audit_id"
	rows, err := store.Conn().Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("reading the audit from ClickHouse database %s: %w", store.Database(), err)
	}
	defer rows.Close()
	out := []auditEntry{}
	for rows.Next() {
		var e auditEntry
		var us uint64
		var status uint16
		if err := rows.Scan(&e.AuditID, &us, &e.RelyingParty, &e.KeyID, &e.Endpoint, &status, &e.Outcome, &e.Reason); err != nil {
			return nil, fmt.Errorf("reading the audit: %w", err)
		}
		e.At, e.Status = time.UnixMicro(int64(us)).UTC(), int(status)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the audit: %w", err)
	}
	return out, nil
}
