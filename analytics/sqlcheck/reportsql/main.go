// Command reportsql writes every report's query, as analytics.ReportSQL
// gives it (range blocks expanded), to DIR/<report>.sql. check.py runs it so
// that current ClickHouse is checked with exactly the SQL idlink sends.
//
// Usage: go run ./analytics/sqlcheck/reportsql DIR
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/idlink/idlink/analytics"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: reportsql DIR (writes DIR/<report>.sql for every report)")
		os.Exit(2)
	}
	for _, name := range analytics.ReportNames() {
		q, err := analytics.ReportSQL(name)
		if err == nil {
			err = os.WriteFile(filepath.Join(os.Args[1], name+".sql"), []byte(q+"\n"), 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
