package analytics

import (
	"io/fs"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"testing/fstest"
)

func TestSplitStatements(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"one", "SELECT 1;\n", []string{"SELECT 1"}},
		{"no final semicolon", "SELECT 1", []string{"SELECT 1"}},
		{"two multi-line", "CREATE TABLE a (\n  x UInt8\n) ENGINE = Memory;\n\nSELECT 2 ;  \n", []string{"CREATE TABLE a (\n  x UInt8\n) ENGINE = Memory", "SELECT 2"}},
		{"comments dropped", "-- head\nSELECT 1; \n  -- tail only\n", []string{"SELECT 1"}},
		{"semicolon inside a line does not split", "SELECT ';' AS x, 1\n;\n", []string{"SELECT ';' AS x, 1"}},
		{"crlf", "SELECT 1;\r\nSELECT 2;\r\n", []string{"SELECT 1", "SELECT 2"}},
		{"only comments", "-- nothing\n\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SplitStatements(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLoadMigrations(t *testing.T) {
	ok := "CREATE TABLE IF NOT EXISTS x (a UInt8) ENGINE = Memory;\n"
	tests := []struct {
		name    string
		files   map[string]string
		wantErr string
		want    []int
	}{
		{"sorted", map[string]string{"m/0002_b.sql": ok, "m/0000_a.sql": ok, "m/0001_c.sql": ok}, "", []int{0, 1, 2}},
		{"bad name", map[string]string{"m/0000_a.sql": ok, "m/1_x.sql": ok}, "name must be", nil},
		{"duplicate version", map[string]string{"m/0000_a.sql": ok, "m/0001_a.sql": ok, "m/0001_b.sql": ok}, "share version", nil},
		{"empty", map[string]string{"m/0000_a.sql": ok, "m/0001_a.sql": "-- nothing\n"}, "no statements", nil},
		{"no 0000", map[string]string{"m/0001_a.sql": ok}, "0000", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for k, v := range tt.files {
				fsys[k] = &fstest.MapFile{Data: []byte(v)}
			}
			ms, err := loadMigrations(fsys, "m")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want error containing %q, got %v", tt.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, m := range ms {
				got = append(got, m.Version)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("versions %v, want %v", got, tt.want)
			}
		})
	}
}

func TestEmbeddedMigrations(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		for _, st := range m.Statements {
			up := strings.ToUpper(st)
			if strings.HasPrefix(up, "CREATE") && !strings.Contains(up, "IF NOT EXISTS") {
				t.Errorf("%s: CREATE without IF NOT EXISTS is not idempotent:\n%s", m.Name, st)
			}
			for _, bad := range []string{"LOWCARDINALITY", "DATETIME64", "NULLABLE", "SIMPLEAGGREGATEFUNCTION", " OVER (", " OVER(", "DATE32"} {
				if strings.Contains(up, bad) {
					t.Errorf("%s uses %s, which ClickHouse 18.16 lacks", m.Name, bad)
				}
			}
		}
	}
}

// TestReportFiles checks that reports/*.sql and the Go list agree.
func TestReportFiles(t *testing.T) {
	files, err := fs.Glob(reportsFS, "reports/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range files {
		got = append(got, strings.TrimSuffix(strings.TrimPrefix(f, "reports/"), ".sql"))
	}
	want := ReportNames()
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("report files %v, report names %v", got, want)
	}
	for _, name := range ReportNames() {
		q, err := ReportSQL(name)
		if err != nil {
			t.Fatal(err)
		}
		up := strings.ToUpper(q)
		for _, bad := range []string{" OVER (", " OVER(", "LOWCARDINALITY", "?", "{", "@"} {
			if strings.Contains(up, bad) {
				t.Errorf("report %s uses %q (no window functions or bound parameters on 18.16)", name, bad)
			}
		}
	}
}

// TestPlainReports checks that every report file is plain SQL: one
// statement, no template lines, sent by idlink exactly as the file holds it
// (as clickhouse-client runs it).
func TestPlainReports(t *testing.T) {
	for _, name := range ReportNames() {
		b, err := reportsFS.ReadFile("reports/" + name + ".sql")
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "--@") {
				t.Errorf("reports/%s.sql line %d: %q looks like a template line; reports are plain SQL", name, i+1, line)
			}
		}
		q, err := ReportSQL(name)
		if err != nil {
			t.Fatal(err)
		}
		if stmts := SplitStatements(string(b)); len(stmts) != 1 || stmts[0] != q {
			t.Errorf("reports/%s.sql: ReportSQL differs from the file's one statement", name)
		}
	}
}

// TestInsertColumnsMatchFixture ties the Go INSERT column lists to
// sqlcheck/fixture.sql, which check.py runs on current ClickHouse and
// TestFixtureReports on 18.16.
func TestInsertColumnsMatchFixture(t *testing.T) {
	b, err := os.ReadFile("sqlcheck/fixture.sql")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`INSERT INTO \w+ \([^)]*\)`)
	have := map[string]bool{}
	for _, m := range re.FindAllString(string(b), -1) {
		have[m] = true
	}
	for _, q := range []string{insertEventDocuments, insertIdentityChanges, insertDocPerson} {
		if !have[q] {
			t.Errorf("fixture.sql has no INSERT with the sink's column list %q", q)
		}
	}
}
