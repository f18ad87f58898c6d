package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/idlink/idlink/analytics"
)

// cmdStats prints one analytics report from ClickHouse, read as the analyst
// user when CLICKHOUSE_ANALYST_USER is set (analytics.OpenReports). Flags may come
// before or after the report name: `stats --json R` and `stats R --json`.
func cmdStats(ctx context.Context, a *app, args []string) int {
	names := strings.Join(analytics.ReportNames(), ", ")
	fs := a.flags("stats", "REPORT [--json]\n\nREPORT is one of: "+names)
	asJSON := fs.Bool("json", false, "print the rows as one JSON array of objects")
	var positional []string
	for rest := args; ; {
		if code, ok := a.parse(fs, rest); !ok {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	switch {
	case len(positional) == 0:
		fmt.Fprintf(a.stderr, "idlink stats: name a report, e.g. `idlink stats %s --json`; reports: %s\n", analytics.ReportNames()[0], names)
		return 2
	case len(positional) > 1:
		fmt.Fprintf(a.stderr, "idlink stats: one report at a time, got %q; reports: %s\n", positional, names)
		return 2
	}
	report := positional[0]
	columns, err := analytics.ReportColumns(report)
	if err != nil {
		fmt.Fprintf(a.stderr, "idlink stats: %v\n", err)
		return 2
	}
	cfg, ok := a.config()
	if !ok {
		return 1
	}
	// Reads as CLICKHOUSE_ANALYST_USER when set; a fresh database gets its
	// tables first, so every report answers (empty).
	store, err := analytics.OpenReports(ctx, cfg)
	if err != nil {
		return a.fail(err)
	}
	defer store.Close()
	rows, err := store.Report(ctx, report)
	if err != nil {
		var unknown *analytics.UnknownReportError
		if errors.As(err, &unknown) {
			fmt.Fprintf(a.stderr, "idlink stats: %v\n", err)
			return 2
		}
		return a.fail(err)
	}
	if *asJSON {
		if err := json.NewEncoder(a.stdout).Encode(rows); err != nil {
			return a.fail(fmt.Errorf("writing the report: %w", err))
		}
		return 0
	}
	if err := writeTable(a.stdout, columns, rows); err != nil {
		return a.fail(err)
	}
	return 0
}
