package analytics_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/analytics/analyticstest"
	"github.com/idlink/idlink/pipeline"
)

// analystConfig is a test configuration with the local stack's read-only
// analyst user, which it requires.
func analystConfig(t *testing.T) *pipeline.Config {
	t.Helper()
	cfg := analyticstest.Config(t)
	if cfg.ClickHouseAnalystUser == "" {
		t.Fatal("no CLICKHOUSE_ANALYST_USER in the configuration: the local stack predates access control; run `make reset && make up`")
	}
	return cfg
}

// TestOpenReportsAsAnalyst opens a fresh database for reports: OpenReports
// migrates it as CLICKHOUSE_USER, then reads as the analyst, who may not
// write; the reports answer as they do for the writer.
func TestOpenReportsAsAnalyst(t *testing.T) {
	ctx := ctxT(t)
	cfg := analystConfig(t)
	r, err := analytics.OpenReports(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w := analyticstest.Store(t, cfg) // drops the database at the end
	done, err := w.AppliedVersions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all, err := analytics.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != len(all) {
		t.Fatalf("after OpenReports the database records migrations %v, want all %d", done, len(all))
	}
	err = r.Conn().Exec(ctx, "CREATE TABLE IF NOT EXISTS `"+r.Database()+"`.scratch (n UInt8) ENGINE = Memory")
	var ex *clickhouse.Exception
	if !errors.As(err, &ex) || ex.Code != 164 {
		t.Fatalf("the report store created a table: want exception 164 (readonly), got %v", err)
	}
	fixture, err := os.ReadFile("sqlcheck/fixture.sql")
	if err != nil {
		t.Fatal(err)
	}
	if err := analyticstest.LoadSQL(ctx, w, string(fixture)); err != nil {
		t.Fatal(err)
	}
	compareReports(ctx, t, r, readExpected(t, "sqlcheck/expected.json"))
}

// TestOpenReportsNeedsNoWriter: on a database that is up to date, the
// analyst alone is enough; a database that needs migrating and a writer
// that cannot log in give an error naming the fix.
func TestOpenReportsNeedsNoWriter(t *testing.T) {
	ctx := ctxT(t)
	cfg := analystConfig(t)
	analyticstest.Store(t, cfg) // migrated
	noWriter := *cfg
	noWriter.ClickHousePassword = "not-the-password"
	r, err := analytics.OpenReports(ctx, &noWriter)
	if err != nil {
		t.Fatalf("OpenReports on a migrated database with a wrong CLICKHOUSE_PASSWORD: %v", err)
	}
	r.Close()

	fresh := *analystConfig(t)
	fresh.ClickHousePassword = "not-the-password"
	_, err = analytics.OpenReports(ctx, &fresh)
	if err == nil {
		t.Fatal("OpenReports on a missing database with a wrong CLICKHOUSE_PASSWORD: no error")
	}
	for _, s := range []string{"idlink migrate", "CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD", fresh.ClickHouseDatabase} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

// TestOpenReportsBadAnalyst: a wrong analyst password is an error naming
// the analyst's variables, never a silent fallback to the writer.
func TestOpenReportsBadAnalyst(t *testing.T) {
	ctx := ctxT(t)
	cfg := analystConfig(t)
	analyticstest.Store(t, cfg)
	cfg.ClickHouseAnalystPassword = "not-the-password"
	_, err := analytics.OpenReports(ctx, cfg)
	if err == nil {
		t.Fatal("OpenReports with a wrong CLICKHOUSE_ANALYST_PASSWORD: no error")
	}
	for _, s := range []string{"CLICKHOUSE_ANALYST_USER=" + cfg.ClickHouseAnalystUser, "CLICKHOUSE_ANALYST_PASSWORD"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}
