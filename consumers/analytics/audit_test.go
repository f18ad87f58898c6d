package analytics_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/analytics/analyticstest"
	"github.com/idlink/idlink/internal/namespace"
	"github.com/idlink/idlink/schemas"
)

// TestAuditLanding hands the sink audit records, an invalid one and a
// message that is not one, twice (a replay), and reads audit_lookups back:
// a row per document asked about, one for a call that named none, the
// invalid records in the dead letters, and nothing doubled by the replay.
func TestAuditLanding(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	cfg := analyticstest.Config(t)
	s := newSink(t, cfg, nil)
	codec := newCodec(t)
	topic := cfg.Topics().AuditLookups()
	tok := func(c byte) string { return strings.Repeat(string(c), 64) }
	records := []*schemas.AuditLookup{
		{AuditID: "a1", RequestedAt: time.UnixMicro(1741915800000001).UTC(), RelyingParty: "bank", KeyID: "k1", Endpoint: "/v1/verify",
			Documents: []schemas.AuditDocument{{Type: "hkid", Token: tok('a')}}, Status: 200, Outcome: "ok", Latency: 900 * time.Microsecond},
		{AuditID: "a2", RequestedAt: time.UnixMicro(1741915800000002).UTC(), RelyingParty: "ride", KeyID: "k2", Endpoint: "/v1/match",
			Documents: []schemas.AuditDocument{{Type: "hkid", Token: tok('a')}, {Type: "passport", Token: tok('b')}, {Type: "", Token: ""}},
			Status:    400, Outcome: "bad_request", Reason: "unknown_document_type"},
		{AuditID: "a3", RequestedAt: time.UnixMicro(1741915800000003).UTC(), Endpoint: "other", Status: 401, Outcome: "unauthorized", Reason: "missing_key"},
	}
	var msgs []kafka.Message
	for i, r := range records {
		b, err := codec.EncodeAudit(r)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Topic: topic, Value: b, Offset: int64(i)})
	}
	bad, err := codec.EncodeAudit(&schemas.AuditLookup{AuditID: "a4", Endpoint: "/v1/verify", Status: 42, Outcome: "ok"})
	if err != nil {
		t.Fatal(err)
	}
	msgs = append(msgs, kafka.Message{Topic: topic, Value: bad, Offset: 10}, kafka.Message{Topic: topic, Value: []byte("garbage"), Offset: 11})
	for pass := 0; pass < 2; pass++ {
		if err := s.Handle(ctx, msgs); err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
	}
	rows, err := s.Store().Conn().Query(ctx, "SELECT audit_id, relying_party, endpoint, status, outcome, reason, documents, doc_index, doc_type, doc_token, latency_us "+
		"FROM audit_lookups GROUP BY audit_id, relying_party, endpoint, status, outcome, reason, documents, doc_index, doc_type, doc_token, latency_us "+
		"ORDER BY audit_id, doc_index")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var id, rp, ep, outcome, reason, typ, token string
		var status uint16
		var n, i uint8
		var lat uint64
		if err := rows.Scan(&id, &rp, &ep, &status, &outcome, &reason, &n, &i, &typ, &token, &lat); err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join([]string{id, rp, ep, strconv.Itoa(int(status)), outcome, reason, strconv.Itoa(int(n)), strconv.Itoa(int(i)), typ, token[:min(len(token), 1)], strconv.Itoa(int(lat))}, " "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"a1 bank /v1/verify 200 ok  1 0 hkid a 900",
		"a2 ride /v1/match 400 bad_request unknown_document_type 3 0 hkid a 0",
		"a2 ride /v1/match 400 bad_request unknown_document_type 3 1 passport b 0",
		"a2 ride /v1/match 400 bad_request unknown_document_type 3 2   0",
		"a3  other 401 unauthorized missing_key 0 0   0",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit_lookups holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	reasons := map[string]int{}
	err = namespace.ReadTopic(ctx, cfg, cfg.Topics().DeadLetter(), func(m kafka.Message) error {
		d, err := codec.DecodeDeadLetter(m.Value)
		if err != nil {
			return err
		}
		reasons[d.Stage+" "+d.Reason]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(reasons) != 2 || reasons["sink invalid"] != 2 || reasons["sink undecodable"] != 2 {
		t.Fatalf("dead letters %v, want the invalid record and the garbage once per pass", reasons)
	}
}
