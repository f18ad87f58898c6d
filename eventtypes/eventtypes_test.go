package eventtypes_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/idlink/idlink/eventtypes"
	"github.com/idlink/idlink/pipeline"
)

func TestCheckAttrs(t *testing.T) {
	tests := []struct {
		typ     string
		attrs   map[string]string
		key     string // "" for no problem
		missing bool
	}{
		{eventtypes.ResidencePermitIssued, nil, "", false},
		{eventtypes.InsuranceEnrolled, map[string]string{"scheme": "employee"}, "", false},
		{eventtypes.InsuranceEnrolled, map[string]string{"scheme": "Employee"}, "scheme", false},
		{eventtypes.InsuranceEnrolled, map[string]string{}, "", false},
		{eventtypes.CodeActivated, map[string]string{"channel": ""}, "channel", false},
		{eventtypes.IdentityVerified, map[string]string{"outcome": "maybe"}, "outcome", false},
		{eventtypes.IdentityVerified, map[string]string{"relying_party": "nhsa_app", "outcome": "rejected"}, "", false},
		{eventtypes.SocialSecurityCardIssued, map[string]string{"form": "electronic", "channel": "wechat"}, "", false},
		{eventtypes.SocialSecurityCardIssued, map[string]string{"form": "electronic", "channel": "a_new_app"}, "", false},
		{eventtypes.SocialSecurityCardIssued, map[string]string{"channel": "counter"}, "form", true},
		{eventtypes.SocialSecurityCardIssued, map[string]string{"form": "paper"}, "form", false},
		{eventtypes.DriverQualificationRegistered, map[string]string{"outcome": "accepted"}, "", false},
		{eventtypes.DriverQualificationRegistered, map[string]string{"outcome": "rejected", "reason": "document_type_not_supported"}, "", false},
		{eventtypes.DriverQualificationRegistered, map[string]string{"outcome": "rejected"}, "reason", true},
		{eventtypes.DriverQualificationRegistered, map[string]string{"outcome": "rejected", "reason": ""}, "reason", true},
		{eventtypes.DriverQualificationRegistered, map[string]string{}, "outcome", true},
		{eventtypes.InsuranceOffsiteFiled, map[string]string{"outcome": "passed"}, "outcome", false},
		{eventtypes.InsuranceOffsiteFiled, map[string]string{"outcome": "rejected"}, "reason", true},
		{eventtypes.InsuranceOffsiteFiled, map[string]string{"outcome": "accepted", "note": "kept"}, "", false},
		{eventtypes.LinkRetracted, map[string]string{"retracts": "e-1"}, "", false},
		{eventtypes.LinkRetracted, map[string]string{"retracts": ""}, "retracts", true},
	}
	for _, tt := range tests {
		typ, ok := eventtypes.Lookup(tt.typ)
		if !ok {
			t.Fatalf("no type %s", tt.typ)
		}
		p := typ.CheckAttrs(tt.attrs)
		switch {
		case tt.key == "" && p != nil:
			t.Errorf("%s %v: problem %+v, want none", tt.typ, tt.attrs, p)
		case tt.key != "" && (p == nil || p.Key != tt.key || p.Missing != tt.missing):
			t.Errorf("%s %v: problem %+v, want key %s missing=%v", tt.typ, tt.attrs, p, tt.key, tt.missing)
		case p != nil && !p.Missing && len(p.Allowed) == 0:
			t.Errorf("%s %v: a bad value without the allowed ones", tt.typ, tt.attrs)
		}
	}
}

func TestPublishers(t *testing.T) {
	tests := []struct {
		typ    string
		agency string
		may    bool
	}{
		{eventtypes.ResidencePermitIssued, eventtypes.MPS, true},
		{eventtypes.ResidencePermitIssued, eventtypes.NIA, false},
		{eventtypes.SocialSecurityCardIssued, eventtypes.MOHRSS, true},
		{eventtypes.SocialSecurityCardIssued, eventtypes.NHSA, false},
		{eventtypes.DriverQualificationRegistered, eventtypes.MOT, true},
		{eventtypes.DriverQualificationRegistered, eventtypes.Platform, false},
		{eventtypes.InsuranceOffsiteFiled, eventtypes.NHSA, true},
		{eventtypes.InsuranceOffsiteFiled, eventtypes.MOHRSS, false},
	}
	for _, tt := range tests {
		typ, _ := eventtypes.Lookup(tt.typ)
		if got := typ.MayPublish(tt.agency); got != tt.may {
			t.Errorf("%s from %s: MayPublish %v, want %v", tt.typ, tt.agency, got, tt.may)
		}
	}
	// identity.verified and link.retracted come from every agency.
	for _, name := range []string{eventtypes.IdentityVerified, eventtypes.LinkRetracted} {
		typ, _ := eventtypes.Lookup(name)
		for _, a := range eventtypes.Agencies() {
			if !typ.MayPublish(a) {
				t.Errorf("%s may not come from %s", name, a)
			}
		}
	}
	// Every agency publishes at least one type of its own, and every
	// restricted type names only known agencies.
	own := map[string]bool{}
	for _, typ := range eventtypes.All() {
		for _, a := range typ.Agencies {
			if !eventtypes.IsAgency(a) {
				t.Errorf("%s names unknown agency %q", typ.Name, a)
			}
			own[a] = true
		}
		if typ.Agencies == nil && typ.AgencyNote == "" {
			t.Errorf("%s: any agency, but no note saying so", typ.Name)
		}
	}
	for _, a := range eventtypes.Agencies() {
		if !own[a] && a != eventtypes.Platform {
			t.Errorf("agency %s has no event type of its own", a)
		}
		if eventtypes.AgencyName(a) == "" {
			t.Errorf("agency %s has no name", a)
		}
	}
}

func TestRegistryIsReadOnly(t *testing.T) {
	a, _ := eventtypes.Lookup(eventtypes.InsuranceEnrolled)
	a.Attrs[0].Values[0] = "changed"
	a.Agencies[0] = "changed"
	b, _ := eventtypes.Lookup(eventtypes.InsuranceEnrolled)
	if b.Attrs[0].Values[0] != "urban_rural" || b.Agencies[0] != eventtypes.NHSA {
		t.Fatalf("a caller changed the registry: %+v", b)
	}
	names := eventtypes.Names()
	all := eventtypes.All()
	if len(names) != len(all) {
		t.Fatal("Names and All disagree")
	}
	for i := range all {
		if all[i].Name != names[i] {
			t.Fatalf("Names()[%d] = %s, All()[%d] is %s", i, names[i], i, all[i].Name)
		}
	}
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			t.Fatalf("type %s twice", n)
		}
		seen[n] = true
	}
	if _, ok := eventtypes.Lookup("Identity.Verified"); ok {
		t.Fatal("Lookup folds case")
	}
}

// TestREADMETable checks that the README's event-type table is Markdown()'s.
func TestREADMETable(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- eventtypes.Markdown begin -->\n", "<!-- eventtypes.Markdown end -->"
	_, rest, ok := bytes.Cut(b, []byte(begin))
	table, _, ok2 := bytes.Cut(rest, []byte(end))
	if !ok || !ok2 {
		t.Fatalf("README.md has no %q ... %q block", begin, end)
	}
	if want := eventtypes.Markdown(); string(table) != want {
		t.Fatalf("README.md's event-type table differs from the registry; put this between the markers:\n%s", want)
	}
}

func TestHelpText(t *testing.T) {
	text := eventtypes.Text()
	for _, typ := range eventtypes.All() {
		if !strings.Contains(text, typ.Name+" ") {
			t.Errorf("help text lacks %s", typ.Name)
		}
		for _, a := range typ.Attrs {
			if !strings.Contains(text, a.Key) {
				t.Errorf("help text lacks %s's attr %s", typ.Name, a.Key)
			}
		}
	}
	if !strings.Contains(text, "form (required; one of electronic, physical)") {
		t.Errorf("help text does not describe social_security_card.issued's form:\n%s", text)
	}
}

// TestComposeAgencies sources compose/lib.sh and checks that its agency
// list, the topics it creates and its per-agency Kafka ACLs match the
// registry's agencies and pipeline's topic names.
func TestComposeAgencies(t *testing.T) {
	lib, err := filepath.Abs("../compose/lib.sh")
	if err != nil {
		t.Fatal(err)
	}
	script := `set -eu
source "$1"
printf 'agency %s\n' "${AGENCIES[@]}"
kafka_topics | sed 's/^/topic /'
kafka_acl_calls | sed 's/^/acl /'
`
	cmd := exec.Command("bash", "-c", script, "bash", lib)
	// lib.sh reads the ports file of its STACK_DIR: give it an empty one.
	cmd.Env = append(os.Environ(), "STACK_DIR="+t.TempDir(), "CACHE_DIR="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sourcing compose/lib.sh: %v\n%s", err, out)
	}
	var agencies, topics, acls []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		kind, v, _ := strings.Cut(l, " ")
		switch kind {
		case "agency":
			agencies = append(agencies, v)
		case "topic":
			topics = append(topics, v)
		case "acl":
			acls = append(acls, v)
		}
	}
	if want := eventtypes.Agencies(); !slices.Equal(agencies, want) {
		t.Errorf("compose/lib.sh AGENCIES = %v, the registry has %v", agencies, want)
	}
	if want := (&pipeline.Config{}).Topics().All(); !slices.Equal(sortedCopy(topics), sortedCopy(want)) {
		t.Errorf("compose/lib.sh creates topics %v, idlink uses %v", topics, want)
	}
	// One ACL line per agency: its user writes its own topic and the
	// dead-letter topic, nothing else.
	agencyACLs := map[string]string{}
	for _, a := range acls {
		if rest, ok := strings.CutPrefix(a, "--allow-principal User:agency-"); ok {
			name, _, _ := strings.Cut(rest, " ")
			agencyACLs[name] = a
		}
	}
	if len(agencyACLs) != len(eventtypes.Agencies()) {
		t.Errorf("compose/lib.sh has agency ACLs for %v, want one per agency %v", keys(agencyACLs), eventtypes.Agencies())
	}
	for _, a := range eventtypes.Agencies() {
		acl, ok := agencyACLs[a]
		if !ok {
			t.Errorf("compose/lib.sh has no ACL for agency %s", a)
			continue
		}
		fields := strings.Fields(acl)
		var granted []string
		for i, f := range fields {
			if f == "--topic" && i+1 < len(fields) {
				granted = append(granted, fields[i+1])
			}
		}
		own := (&pipeline.Config{}).Topics().Agency(a)
		if !slices.Contains(granted, own) || !slices.Contains(granted, (&pipeline.Config{}).Topics().DeadLetter()) {
			t.Errorf("agency %s's ACL grants %v, want %s and the dead-letter topic", a, granted, own)
		}
		for _, g := range granted {
			for _, other := range eventtypes.Agencies() {
				if other != a && strings.HasSuffix(g, "events."+other) {
					t.Errorf("agency %s's ACL grants another agency's topic %s", a, g)
				}
			}
		}
	}
}

func sortedCopy(s []string) []string { return slices.Sorted(slices.Values(s)) }

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
