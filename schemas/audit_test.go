package schemas

import (
	"reflect"
	"testing"
	"time"
)

func TestAuditRoundTrip(t *testing.T) {
	c := newCodec(t)
	tests := []struct {
		name string
		in   *AuditLookup
	}{
		{"answered", &AuditLookup{
			AuditID: "a-1", RequestedAt: time.UnixMicro(1741915800123456).UTC(), RelyingParty: "bank", KeyID: "0123456789abcdef",
			Endpoint: "/v1/match", Documents: []AuditDocument{{Type: "hkid", Token: "t1"}, {Type: "passport", Token: "t2"}},
			Status: 200, Outcome: "ok", Latency: 1234 * time.Microsecond,
		}},
		{"refused, nothing known", &AuditLookup{
			AuditID: "a-2", RequestedAt: time.UnixMicro(1).UTC(), Endpoint: "other", Status: 401, Outcome: "unauthorized", Reason: "missing_key",
		}},
		{"invalid documents", &AuditLookup{
			AuditID: "a-3", RequestedAt: time.UnixMicro(2).UTC(), RelyingParty: "bank", Endpoint: "/v1/verify",
			Documents: []AuditDocument{{Type: "", Token: ""}, {Type: "hkid", Token: ""}}, Status: 400, Outcome: "bad_request", Reason: "bad_check_digit",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := c.EncodeAudit(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			out, err := c.DecodeAudit(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tt.in, out) {
				t.Fatalf("round trip changed the record:\n in  %+v\n out %+v", tt.in, out)
			}
			if _, err := c.DecodeEvent(b); err == nil {
				t.Fatal("an audit record decoded as an agency event")
			}
		})
	}
}
