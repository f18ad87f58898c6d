package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestStatsServiceReports runs the pipeline through the binary and checks
// the rows of service-acceptance, blocked-but-linked and
// activations-by-region, read as the analyst: `idlink stats` gets a wrong
// CLICKHOUSE_PASSWORD once `idlink run` has migrated the database, so only
// the analyst credential can answer. The douyin rejection (v1) comes before
// the event linking its travel permit to a residence permit (l1): persons
// are those of the resolution as it stands when the report runs.
func TestStatsServiceReports(t *testing.T) {
	c, cfg := newCLI(t)
	if cfg.ClickHouseAnalystUser == "" {
		t.Fatal("no CLICKHOUSE_ANALYST_USER in the configuration: the local stack predates access control; run `make reset && make up`")
	}
	rpX, rpY := gb("82000019900211001"), gb("82000019910203002")
	ev := func(id, typ, agency, day, region, docs, attrs string) string {
		return `{"event_id":"` + id + `","type":"` + typ + `","agency":"` + agency + `","occurred_at":"2025-03-` + day + `T09:00:00+08:00","region":"` + region +
			`","documents":[` + docs + `],"attrs":{` + attrs + `}}`
	}
	d := func(typ, n string) string { return `{"type":"` + typ + `","number":"` + n + `"}` }
	lines := []string{
		ev("v1", "identity.verified", "platform", "01", "440700", d("mainland_travel_permit", "M87654321"), `"relying_party":"douyin","outcome":"rejected","reason":"document_type_not_supported"`),
		ev("l1", "residence_permit.issued", "mps", "02", "440700", d("residence_permit", rpX)+","+d("mainland_travel_permit", "M8765432101"), ``),
		ev("v2", "identity.verified", "platform", "03", "440700", d("residence_permit", rpY), `"relying_party":"douyin","outcome":"passed"`),
		ev("d1", "driver_qualification.registered", "mot", "04", "440700", d("hkid", "A123456(3)"), `"outcome":"rejected","reason":"document_type_not_supported"`),
		ev("o1", "insurance.offsite_filed", "nhsa", "05", "440700", d("residence_permit", rpX), `"outcome":"accepted"`),
		ev("o2", "insurance.offsite_filed", "nhsa", "06", "440700", d("passport", "PA111111"), `"outcome":"rejected","reason":"missing_referral"`),
		ev("a1", "insurance.code_activated", "nhsa", "07", "440700", d("residence_permit", rpX), `"channel":"offline"`),
		ev("a2", "insurance.code_activated", "nhsa", "08", "820000", d("mainland_travel_permit", "M87654321"), `"channel":"online"`),
		ev("a3", "insurance.code_activated", "nhsa", "09", "440300", d("passport", "PA111111"), `"channel":"offline"`),
		ev("a3", "insurance.code_activated", "nhsa", "09", "440300", d("passport", "PA111111"), `"channel":"offline"`),
		strings.Replace(ev("a4", "insurance.code_activated", "nhsa", "10", "", d("hkid", "A1234563"), `"channel":"online"`), `"region":"",`, ``, 1),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if out, stderr, code := c.run(ctx, "produce", "--file", writeEvents(t, c.dir, lines...), "--json"); code != 0 || !strings.Contains(out, `"rejected":0`) {
		t.Fatalf("produce: exit %d, %s %s", code, out, stderr)
	}
	if _, stderr, code := c.run(ctx, "run", "--exit-when-idle"); code != 0 {
		t.Fatalf("run: %d %s", code, stderr)
	}
	analyst := &cli{t: t, bin: c.bin, dir: c.dir, env: append(append([]string(nil), c.env...),
		"CLICKHOUSE_PASSWORD=not-the-password",
		"CLICKHOUSE_ANALYST_USER="+cfg.ClickHouseAnalystUser,
		"CLICKHOUSE_ANALYST_PASSWORD="+cfg.ClickHouseAnalystPassword)}
	want := map[string]string{
		"service-acceptance": `[{"service":"douyin","doc_type":"mainland_travel_permit","passed":0,"rejected":1,"acceptance_rate":0},` +
			`{"service":"douyin","doc_type":"residence_permit","passed":1,"rejected":0,"acceptance_rate":1},` +
			`{"service":"driver_qualification.registered","doc_type":"hkid","passed":0,"rejected":1,"acceptance_rate":0},` +
			`{"service":"insurance.offsite_filed","doc_type":"passport","passed":0,"rejected":1,"acceptance_rate":0},` +
			`{"service":"insurance.offsite_filed","doc_type":"residence_permit","passed":1,"rejected":0,"acceptance_rate":1}]`,
		// v1's person holds rpX since l1; douyin passed a residence permit (v2).
		"blocked-but-linked": `[{"service":"douyin","rejected_doc_type":"mainland_travel_permit","alternative_doc_type":"residence_permit","persons":1}]`,
		// a1 and a3 are two persons in Guangdong; a2 is a1's person; a4 has no region.
		"activations-by-region": `[{"province_code":"","province":"","channel":"online","events":1,"persons":1},` +
			`{"province_code":"44","province":"Guangdong","channel":"offline","events":2,"persons":2},` +
			`{"province_code":"82","province":"Macao","channel":"online","events":1,"persons":1}]`,
	}
	for _, report := range []string{"service-acceptance", "blocked-but-linked", "activations-by-region"} {
		out, stderr, code := analyst.run(ctx, "stats", report, "--json")
		if code != 0 {
			t.Fatalf("stats %s as the analyst: %d %s", report, code, stderr)
		}
		if got := strings.TrimSpace(out); got != want[report] {
			t.Errorf("stats %s:\n got  %s\n want %s", report, got, want[report])
		}
	}

	badAnalyst := &cli{t: t, bin: c.bin, dir: c.dir, env: append(append([]string(nil), analyst.env...), "CLICKHOUSE_ANALYST_PASSWORD=not-the-password")}
	if _, stderr, code := badAnalyst.run(ctx, "stats", "service-acceptance", "--json"); code == 0 || !strings.Contains(stderr, "CLICKHOUSE_ANALYST_PASSWORD") {
		t.Fatalf("stats with a wrong analyst password: exit %d, stderr %q; want a failure naming CLICKHOUSE_ANALYST_PASSWORD", code, stderr)
	}
}
