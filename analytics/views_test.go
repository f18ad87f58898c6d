package analytics_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/analytics/analyticstest"
)

// allFixtures are the fixtures of sqlcheck/ in the order check.py loads
// them.
var allFixtures = []string{"sqlcheck/fixture.sql", "sqlcheck/fixture_channels.sql", "sqlcheck/fixture_services.sql", "sqlcheck/fixture_views.sql"}

func loadFixtures(ctx context.Context, t *testing.T, s *analytics.Store, files ...string) {
	t.Helper()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := analyticstest.LoadSQL(ctx, s, string(b)); err != nil {
			t.Fatalf("loading %s: %v", f, err)
		}
	}
}

// TestOracles loads every fixture into the local stack's ClickHouse (18.16)
// and checks each fast path against its plain query in sqlcheck/oracle/: a
// report's file against oracle/<report>.sql, and a view's first statement
// against its second (the view's plain definition over the sink's tables).
// check.py does the same on current ClickHouse.
func TestOracles(t *testing.T) {
	ctx := ctxT(t)
	s := analyticstest.Store(t, analyticstest.Config(t))
	loadFixtures(ctx, t, s, allFixtures...)
	files, err := filepath.Glob("sqlcheck/oracle/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	reports := map[string]bool{}
	for _, n := range analytics.ReportNames() {
		reports[n] = true
	}
	covered := 0
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".sql")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			stmts := analytics.SplitStatements(string(b))
			var fast, plain []analytics.Row
			switch {
			case reports[name] && len(stmts) == 1:
				covered++
				fast, err = s.Report(ctx, name)
				if err == nil {
					plain, err = s.Query(ctx, stmts[0])
				}
			case !reports[name] && len(stmts) == 2:
				fast, err = s.Query(ctx, stmts[0])
				if err == nil {
					plain, err = s.Query(ctx, stmts[1])
				}
			default:
				t.Fatalf("%s holds %d statements: want 1 for a report, 2 (the view, its plain query) otherwise", f, len(stmts))
			}
			if err != nil {
				t.Fatal(err)
			}
			got, want := mustJSON(t, fast), mustJSON(t, plain)
			if got != want {
				t.Fatalf("%s on ClickHouse 18.16: the fast path gives\n %s\nthe plain query\n %s", name, got, want)
			}
			if len(fast) == 0 {
				t.Fatalf("%s: no rows on the fixtures, so nothing is compared", name)
			}
		})
	}
	if covered != len(reports) {
		t.Fatalf("sqlcheck/oracle/ has a plain query for %d of the %d reports", covered, len(reports))
	}
}

// TestAnalystQuestions runs every question of analytics/README.md as the
// read-only analyst on the local stack's ClickHouse (18.16), over all the
// fixtures, and compares its rows with sqlcheck/expected_questions.json
// (worked out by hand from the fixtures' comments). check.py holds current
// ClickHouse to the same answers.
func TestAnalystQuestions(t *testing.T) {
	ctx := ctxT(t)
	cfg := analystConfig(t)
	w := analyticstest.Store(t, cfg)
	loadFixtures(ctx, t, w, allFixtures...)
	r, err := analytics.OpenReports(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	questions, err := analyticstest.Questions(string(readme))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	if len(questions) < 10 {
		t.Fatalf("README.md has %d analyst questions, want at least 10", len(questions))
	}
	expected := readExpected(t, "sqlcheck/expected_questions.json")
	var keys []string
	for k := range expected {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(keys) != len(questions) {
		t.Fatalf("expected_questions.json answers %v, README.md asks %d questions", keys, len(questions))
	}
	for _, q := range questions {
		t.Run(strconv.Itoa(q.Number), func(t *testing.T) {
			want, ok := expected[strconv.Itoa(q.Number)]
			if !ok {
				t.Fatalf("expected_questions.json has no answer to question %d (%s)", q.Number, q.Title)
			}
			rows, err := r.Query(ctx, q.SQL)
			if err != nil {
				t.Fatalf("question %d (%s): %v", q.Number, q.Title, err)
			}
			if got := mustJSON(t, rows); got != compactJSON(t, want) {
				t.Fatalf("question %d (%s) on ClickHouse 18.16:\n got  %s\n want %s", q.Number, q.Title, got, compactJSON(t, want))
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
