package identity

import (
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/idlink/idlink/documents"
	"github.com/idlink/idlink/eventtypes"
)

// Every stored cluster names document types by these codes: they never
// change, and a new type takes the next one.
func TestTypeCodesAreFrozen(t *testing.T) {
	want := []string{"residence_permit", "mainland_id", "mainland_travel_permit", "taiwan_travel_permit", "hkid", "macao_id", "passport"}
	for code, name := range want {
		got, ok := typeCode(name)
		if !ok || int(got) != code {
			t.Errorf("typeCode(%s) = %d, %v; stored clusters use %d", name, got, ok, code)
		}
	}
	if len(docTypes) < len(want) {
		t.Fatalf("%d codes, want at least %d", len(docTypes), len(want))
	}
	for _, typ := range documents.Types() {
		if _, ok := typeCode(string(typ)); !ok {
			t.Errorf("document type %s has no stored code: append one to docTypes", typ)
		}
	}
}

// TestEventCodesAreFrozen pins the stored codes of event types and agencies,
// and checks that every registered type and agency has one.
func TestEventCodesAreFrozen(t *testing.T) {
	wantTypes := []string{1: "residence_permit.issued", 2: "residence_permit.revoked", 3: "travel_permit.issued", 4: "insurance.enrolled",
		5: "insurance.code_activated", 6: "identity.verified", 7: "link.retracted", 8: "social_security_card.issued",
		9: "driver_qualification.registered", 10: "insurance.offsite_filed"}
	wantAgencies := []string{1: "mps", 2: "nia", 3: "nhsa", 4: "mot", 5: "mohrss", 6: "platform"}
	for _, tt := range []struct {
		table, want []string
	}{{eventTypes[:], wantTypes}, {agencies[:], wantAgencies}} {
		for c, n := range tt.want {
			if c > 0 && (code(tt.table, n) != byte(c) || name(tt.table, byte(c)) != n) {
				t.Errorf("%s has code %d; stored clusters use %d", n, code(tt.table, n), c)
			}
		}
	}
	for _, n := range eventtypes.Names() {
		if code(eventTypes[:], n) == 0 {
			t.Errorf("event type %s has no stored code: append one to eventTypes", n)
		}
	}
	for _, a := range eventtypes.Agencies() {
		if code(agencies[:], a) == 0 {
			t.Errorf("agency %s has no stored code: append one to agencies", a)
		}
	}
}

// testdata/cluster-v1.hex was written by the encoder as it was before the
// codes were frozen (fcbcc29); it must decode to the same cluster forever.
func TestOldBlobDecodes(t *testing.T) {
	raw, err := os.ReadFile("testdata/cluster-v1.hex")
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := UnmarshalCluster("c1", b)
	if err != nil {
		t.Fatal(err)
	}
	docs := []Doc{
		{Token: tok("R0"), Type: "residence_permit", BirthDate: "1990-01-01"},
		{Token: tok("I1"), Type: "mainland_id", BirthDate: "1985-12-31"},
		{Token: tok("M1"), Type: "mainland_travel_permit"},
		{Token: tok("T1"), Type: "taiwan_travel_permit"},
		{Token: tok("H1"), Type: "hkid"},
		{Token: tok("O1"), Type: "macao_id"},
		{Token: tok("P1"), Type: "passport"},
	}
	events := []Event{
		{ID: "e1", At: 1700000000000000, BirthDate: "1990-01-01", Docs: []int{0, 2, 6}},
		{ID: "e2", At: 1700000000000001, Docs: []int{1, 3, 4, 5}},
		{ID: "r1", At: 1700000000000002, Retract: true, Retracts: "e2", Docs: []int{}},
	}
	if c.Rev != 3 || fmt.Sprint(c.Docs) != fmt.Sprint(docs) || fmt.Sprint(c.Events) != fmt.Sprint(events) {
		t.Fatalf("decoded\n%v\n%v\n%d", c.Docs, c.Events, c.Rev)
	}
	again, err := c.MarshalBinary()
	if err != nil || hex.EncodeToString(again) != hex.EncodeToString(b) {
		t.Fatalf("re-encoding differs (%v)", err)
	}
}
