package analytics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/analytics/analyticstest"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestMigrateIdempotent(t *testing.T) {
	ctx := ctxT(t)
	cfg := analyticstest.Config(t)
	s := analyticstest.Store(t, cfg) // migrated once
	all, err := analytics.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for pass := 2; pass <= 3; pass++ {
		// A new process opening the same database must find nothing to do.
		s2, err := analytics.Open(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		applied, err := s2.Migrate(ctx)
		s2.Close()
		if err != nil {
			t.Fatalf("migrate pass %d: %v", pass, err)
		}
		if len(applied) != 0 {
			t.Fatalf("migrate pass %d applied %d migrations again", pass, len(applied))
		}
	}
	done, err := s.AppliedVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != len(all) {
		t.Fatalf("recorded versions %v, want all %d migrations", done, len(all))
	}
	var n uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM schema_migrations FINAL").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if int(n) != len(all) {
		t.Fatalf("schema_migrations holds %d rows, want %d", n, len(all))
	}
	rows, err := s.Conn().Query(ctx, "SELECT name FROM system.tables WHERE database = '"+s.Database()+"' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	want := []string{
		"activation_exceptions", "activation_exceptions_from_events", "activation_exceptions_now",
		"activation_rows", "activation_rows_from_events",
		"audit_lookups", // 0005
		"conflicts_now",
		"doc_person",
		"document_activity",
		"document_persons", "document_persons_from_changes", "document_persons_now", // 0006
		"document_state", "document_state_from_changes", "document_state_from_events",
		"documents_now",
		"event_doc_types",
		"event_documents", "event_documents_now",
		"event_rows", "event_rows_from_events", "events",
		"identity_changes", "persons_now", "province_codes", "report_activations", "report_event_doc_types",
		"schema_migrations", "service_outcomes", "service_outcomes_from_events",
	}
	if !reflect.DeepEqual(tables, want) {
		t.Fatalf("tables %v, want %v", tables, want)
	}
}

// TestFixtureReports loads sqlcheck/fixture.sql into the local stack's
// ClickHouse (18.16) and compares every report with sqlcheck/expected.json,
// which check.py also holds current ClickHouse to.
func TestFixtureReports(t *testing.T) {
	ctx := ctxT(t)
	s := analyticstest.Store(t, analyticstest.Config(t))
	fixture, err := os.ReadFile("sqlcheck/fixture.sql")
	if err != nil {
		t.Fatal(err)
	}
	if err := analyticstest.LoadSQL(ctx, s, string(fixture)); err != nil {
		t.Fatalf("loading sqlcheck/fixture.sql: %v", err)
	}
	expected := readExpected(t, "sqlcheck/expected.json")
	names := analytics.ReportNames()
	if got := sortedKeys(expected); !reflect.DeepEqual(got, sorted(names)) {
		t.Fatalf("expected.json covers %v, reports are %v", got, names)
	}
	compareReports(ctx, t, s, expected)
}

// TestUnknownChannels adds sqlcheck/fixture_channels.sql (activations with a
// channel the contract does not name, or none) to the fixture and compares
// the reports in sqlcheck/expected_channels.json, as check.py does.
func TestUnknownChannels(t *testing.T) {
	ctx := ctxT(t)
	s := analyticstest.Store(t, analyticstest.Config(t))
	for _, f := range []string{"sqlcheck/fixture.sql", "sqlcheck/fixture_channels.sql"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := analyticstest.LoadSQL(ctx, s, string(b)); err != nil {
			t.Fatalf("loading %s: %v", f, err)
		}
	}
	compareReports(ctx, t, s, readExpected(t, "sqlcheck/expected_channels.json"))
}

// TestServiceReports adds sqlcheck/fixture_services.sql (outcomes of
// several services, activations with regions, one more person) to the
// fixtures before it, as check.py does, and compares the reports in
// sqlcheck/expected_services.json: through Store.Report and with each
// report's file run as is by clickhouse-client.
func TestServiceReports(t *testing.T) {
	ctx := ctxT(t)
	cfg := analyticstest.Config(t)
	s := analyticstest.Store(t, cfg)
	for _, f := range []string{"sqlcheck/fixture.sql", "sqlcheck/fixture_channels.sql", "sqlcheck/fixture_services.sql"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := analyticstest.LoadSQL(ctx, s, string(b)); err != nil {
			t.Fatalf("loading %s: %v", f, err)
		}
	}
	expected := readExpected(t, "sqlcheck/expected_services.json")
	compareReports(ctx, t, s, expected)
	for _, name := range sortedKeys(expected) {
		t.Run(name+"/clickhouse-client", func(t *testing.T) {
			query, err := os.ReadFile("reports/" + name + ".sql")
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.CommandContext(ctx, "clickhouse-client", "--host", host(t, cfg.ClickHouseAddr), "--port", port(t, cfg.ClickHouseAddr),
				"--user", cfg.ClickHouseUser, "--database", s.Database(), "--format", "TabSeparatedWithNames")
			cmd.Args = append(cmd.Args, "--password", cfg.ClickHousePassword)
			if cfg.ClickHouseTLS.On() {
				cmd.Args = append(cmd.Args, "--secure", "--config-file", clientTLSConfig(t, cfg.ClickHouseTLS.CAFile))
			}
			cmd.Stdin = bytes.NewReader(query)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("clickhouse-client < reports/%s.sql: %v: %s", name, err, stderr.String())
			}
			if want := expectedTSV(t, expected[name]); string(out) != want {
				t.Fatalf("clickhouse-client < reports/%s.sql:\n got\n%s\n want\n%s", name, out, want)
			}
		})
	}
}

// expectedTSV renders expected rows (a JSON array of objects) the way
// clickhouse-client prints them with --format TabSeparatedWithNames: a
// header line of column names, then one line per row; numbers as JSON
// wrote them (no string in these fixtures needs escaping).
func expectedTSV(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var rows []json.RawMessage
	if err := dec.Decode(&rows); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i, r := range rows {
		keys, vals := objectInOrder(t, r)
		if i == 0 {
			b.WriteString(strings.Join(keys, "\t") + "\n")
		}
		b.WriteString(strings.Join(vals, "\t") + "\n")
	}
	return b.String()
}

// objectInOrder returns a JSON object's keys in the order written and its
// values as text: strings unquoted, numbers as written.
func objectInOrder(t *testing.T, raw json.RawMessage) (keys, vals []string) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("want a JSON object, got %s", raw)
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		v, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		vals = append(vals, fmt.Sprint(v))
	}
	return keys, vals
}

// clientTLSConfig writes a clickhouse-client configuration that verifies the
// server's certificate against caFile (the client's own default trusts only
// the system's roots) and returns its path.
func clientTLSConfig(t *testing.T, caFile string) string {
	t.Helper()
	if caFile == "" {
		t.Fatal("CLICKHOUSE_SECURE=true without CLICKHOUSE_TLS_CA_FILE: clickhouse-client would trust only the system's roots")
	}
	path := filepath.Join(t.TempDir(), "clickhouse-client.xml")
	xml := `<config><openSSL><client><caConfig>` + caFile + `</caConfig><loadDefaultCAFile>false</loadDefaultCAFile>` +
		`<verificationMode>strict</verificationMode><invalidCertificateHandler><name>RejectCertificateHandler</name></invalidCertificateHandler>` +
		`</client></openSSL></config>`
	if err := os.WriteFile(path, []byte(xml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func host(t *testing.T, addr string) string {
	t.Helper()
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("CLICKHOUSE_ADDR=%s: %v", addr, err)
	}
	return h
}

func port(t *testing.T, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("CLICKHOUSE_ADDR=%s: %v", addr, err)
	}
	return p
}

func readExpected(t *testing.T, path string) map[string]json.RawMessage {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var expected map[string]json.RawMessage
	if err := json.Unmarshal(raw, &expected); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return expected
}

// compareReports runs every report in expected and compares its JSON with
// the expected text after normalising whitespace: key order and
// number-vs-string matter.
func compareReports(ctx context.Context, t *testing.T, s *analytics.Store, expected map[string]json.RawMessage) {
	t.Helper()
	for _, name := range sortedKeys(expected) {
		t.Run(name, func(t *testing.T) {
			rows, err := s.Report(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(rows)
			if err != nil {
				t.Fatal(err)
			}
			if want := compactJSON(t, expected[name]); string(got) != want {
				t.Fatalf("report %s on ClickHouse 18.16:\n got  %s\n want %s", name, got, want)
			}
		})
	}
}

func TestReportUnknown(t *testing.T) {
	ctx := ctxT(t)
	s := analyticstest.Store(t, analyticstest.Config(t))
	for _, name := range []string{"", "nope", "Verifications"} {
		_, err := s.Report(ctx, name)
		var ue *analytics.UnknownReportError
		if !errors.As(err, &ue) {
			t.Fatalf("Report(%q): want UnknownReportError, got %v", name, err)
		}
		for _, n := range analytics.ReportNames() {
			if !strings.Contains(err.Error(), n) {
				t.Fatalf("error %q does not list %s", err, n)
			}
		}
	}
}

func TestEmptyReportsAreEmptyArrays(t *testing.T) {
	ctx := ctxT(t)
	s := analyticstest.Store(t, analyticstest.Config(t))
	for _, name := range analytics.ReportNames() {
		rows, err := s.Report(ctx, name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b, _ := json.Marshal(rows); string(b) != "[]" {
			t.Fatalf("%s on an empty database: %s, want []", name, b)
		}
	}
}

func TestOpenUnreachable(t *testing.T) {
	cfg := analyticstest.Config(t)
	cfg.ClickHouseAddr = "127.0.0.1:1"
	cfg.Timeout = 2 * time.Second
	start := time.Now()
	_, err := analytics.Open(ctxT(t), cfg)
	if !errors.Is(err, analytics.ErrClickHouseUnreachable) {
		t.Fatalf("want ErrClickHouseUnreachable, got %v", err)
	}
	for _, s := range []string{"CLICKHOUSE_ADDR=127.0.0.1:1", "make up"} {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not mention %q", err, s)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %s to give up", d)
	}
}

// TestSQLOnCurrentClickHouse runs sqlcheck/check.py: every migration and
// report on current ClickHouse (chdb), compared with expected.json.
func TestSQLOnCurrentClickHouse(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("python3", "-c", "import chdb").Run(); err != nil {
		t.Fatalf("python3 cannot import chdb (%v): run analytics/sqlcheck/install.sh (make test does)", err)
	}
	cmd := exec.Command("python3", "analytics/sqlcheck/check.py")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	t.Logf("check.py:\n%s", out)
	if err != nil {
		t.Fatalf("analytics SQL fails on current ClickHouse: %v", err)
	}
}

func TestRowJSON(t *testing.T) {
	tests := []struct {
		name string
		row  analytics.Row
		want string
	}{
		{"column order kept", analytics.Row{Columns: []string{"z", "a", "m"}, Values: []any{"x", uint64(2), int64(-1)}}, `{"z":"x","a":2,"m":-1}`},
		{"escaping", analytics.Row{Columns: []string{`q"`}, Values: []any{"<a>\n"}}, `{"q\"":"\u003ca\u003e\n"}`},
		{"missing value", analytics.Row{Columns: []string{"a"}}, `{"a":null}`},
		{"empty", analytics.Row{}, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.row)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Fatalf("got %s, want %s", b, tt.want)
			}
		})
	}
}

func TestLocalDate(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2025, 3, 15, 1, 0, 0, 0, time.FixedZone("", 8*3600)), "2025-03-15"}, // 2025-03-14 UTC
		{time.Date(2025, 3, 14, 23, 0, 0, 0, time.FixedZone("", -5*3600)), "2025-03-14"},
		{time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), "1970-01-01"},
		{time.Time{}, "1970-01-01"},
	}
	for _, tt := range tests {
		if got := analytics.LocalDate(tt.in).Format(time.DateOnly); got != tt.want {
			t.Errorf("LocalDate(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func compactJSON(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func sorted(ss []string) []string {
	out := append([]string(nil), ss...)
	sort.Strings(out)
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestMigrateRefusesOlderSchema: a database whose schema_migrations records
// a version under another name (made by migrations idlink no longer has) is
// an error naming the fix, for the writer and for the analyst alike.
func TestMigrateRefusesOlderSchema(t *testing.T) {
	ctx := ctxT(t)
	cfg := analyticstest.Config(t)
	s := analyticstest.Store(t, cfg)
	b, err := s.Conn().PrepareBatch(ctx, "INSERT INTO schema_migrations (version, name, applied_at)")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Append(uint32(1), "0001_init", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := b.Send(); err != nil {
		t.Fatal(err)
	}
	_, err = s.Migrate(ctx)
	for _, want := range []string{"0001_init", "0001_baseline", "make reset", s.Database()} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Migrate on a database recording 0001_init: %v, want an error mentioning %q", err, want)
		}
	}
	if cfg.ClickHouseAnalystUser != "" {
		if _, err := analytics.OpenReports(ctx, cfg); err == nil || !strings.Contains(err.Error(), "0001_init") {
			t.Fatalf("OpenReports on a database recording 0001_init: %v, want an error naming it", err)
		}
	}
}
