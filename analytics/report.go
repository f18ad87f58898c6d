package analytics

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/idlink/idlink/documents"
)

//go:embed reports/*.sql
var reportsFS embed.FS

// report is one embedded query, reports/<name>.sql, and its columns.
type report struct {
	name    string
	columns []string
}

// reports lists the reports in the order ReportNames gives them: the seven of
// CONTRACT.md §3 (`idlink stats`), then the dashboard's.
var reports = []report{
	{"activations-by-doc-type", []string{"doc_type", "channel", "events", "persons"}},
	{"enrollments-by-doc-type", []string{"doc_type", "events", "persons"}},
	{"verifications", []string{"relying_party", "doc_type", "outcome", "reason", "events"}},
	{"linked-persons", []string{"doc_types", "persons"}},
	{"service-acceptance", []string{"service", "doc_type", "passed", "rejected", "acceptance_rate"}},
	{"blocked-but-linked", []string{"service", "rejected_doc_type", "alternative_doc_type", "persons"}},
	{"activations-by-region", []string{"province_code", "province", "channel", "events", "persons"}},
	{"activations-over-time", []string{"day", "doc_type", "channel", "events"}},
}

// ReportNames lists the valid report names.
func ReportNames() []string {
	out := make([]string, len(reports))
	for i, r := range reports {
		out[i] = r.name
	}
	return out
}

// UnknownReportError is returned for a report name that does not exist.
type UnknownReportError struct{ Name string }

func (e *UnknownReportError) Error() string {
	if e.Name == "" {
		return "no report named: choose one of " + strings.Join(ReportNames(), ", ")
	}
	return fmt.Sprintf("unknown report %q: choose one of %s", e.Name, strings.Join(ReportNames(), ", "))
}

func findReport(name string) (report, error) {
	for _, r := range reports {
		if r.name == name {
			return r, nil
		}
	}
	return report{}, &UnknownReportError{Name: name}
}

// ReportColumns returns a report's column names, in order.
func ReportColumns(name string) ([]string, error) {
	r, err := findReport(name)
	if err != nil {
		return nil, err
	}
	return append([]string(nil), r.columns...), nil
}

// ReportSQL returns a report's query, its blocks expanded (see
// ExpandBlocks).
func ReportSQL(name string) (string, error) {
	if _, err := findReport(name); err != nil {
		return "", err
	}
	b, err := reportsFS.ReadFile("reports/" + name + ".sql")
	if err != nil {
		return "", fmt.Errorf("reading the query of report %s: %w", name, err)
	}
	text, err := ExpandBlocks(string(b))
	if err != nil {
		return "", fmt.Errorf("report %s: %w", name, err)
	}
	stmts := SplitStatements(text)
	if len(stmts) != 1 {
		return "", fmt.Errorf("report %s: reports/%s.sql must hold exactly one statement, has %d", name, name, len(stmts))
	}
	return stmts[0], nil
}

// Row is one report row. It keeps the report's column order, also in JSON.
// Values are strings, uint64/int64 counts, float64 rates and, for Date
// columns, "YYYY-MM-DD".
type Row struct {
	Columns []string
	Values  []any
}

// Get returns the value of a column, or nil.
func (r Row) Get(column string) any {
	for i, c := range r.Columns {
		if c == column {
			return r.Values[i]
		}
	}
	return nil
}

// MarshalJSON writes the row as an object whose keys follow column order.
func (r Row) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, c := range r.Columns {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := json.Marshal(c)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		var v any
		if i < len(r.Values) {
			v = r.Values[i]
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", c, err)
		}
		buf.Write(b)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// Report runs the named report. Rows come sorted by their non-count columns.
// An unknown name returns an *UnknownReportError listing the valid names.
func (s *Store) Report(ctx context.Context, name string) ([]Row, error) {
	r, err := findReport(name)
	if err != nil {
		return nil, err
	}
	query, err := ReportSQL(name)
	if err != nil {
		return nil, err
	}
	doing := "running report " + name + " on ClickHouse database " + s.db
	rows, err := s.conn.Query(reportContext(ctx), query)
	if err != nil {
		return nil, s.wrapConnErr(doing, err)
	}
	defer rows.Close()
	got := rows.Columns()
	if strings.Join(got, ",") != strings.Join(r.columns, ",") {
		return nil, fmt.Errorf("%s: query returned columns %v, want %v", doing, got, r.columns)
	}
	types := rows.ColumnTypes()
	out := []Row{}
	for rows.Next() {
		dest := make([]any, len(types))
		for i, t := range types {
			dest[i] = reflect.New(t.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("%s: reading a row: %w", doing, err)
		}
		vals := make([]any, len(dest))
		for i, d := range dest {
			vals[i] = normalize(types[i].DatabaseTypeName(), reflect.ValueOf(d).Elem().Interface())
		}
		out = append(out, Row{Columns: r.columns, Values: vals})
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrapConnErr(doing, err)
	}
	return out, nil
}

// reportContext carries the settings every report runs with: the queries
// read "no person" as 0 from an unmatched ANY LEFT JOIN, whatever the
// server's default for join_use_nulls (OpenReports checks that a read-only
// user's queries get it too).
func reportContext(ctx context.Context) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"join_use_nulls": 0}))
}

// normalize turns scanned values into JSON-friendly ones: dates become
// "YYYY-MM-DD", times RFC 3339 in UTC; numbers and strings stay as they are.
func normalize(dbType string, v any) any {
	if t, ok := v.(time.Time); ok {
		if strings.HasPrefix(dbType, "Date") && !strings.HasPrefix(dbType, "DateTime") {
			return t.Format(time.DateOnly)
		}
		return t.UTC().Format(time.RFC3339)
	}
	return v
}

// ExpandBlocks expands the blocks of a report file: the lines between a
// line "--@ranges N" or "--@types" and a line "--@end" become copies of those
// lines joined by UNION ALL.
//
// A range block (N a power of two, 1 to 256) becomes N copies, copy i with
// @lo and @hi replaced by the bounds of the i-th of N equal ranges of UInt64
// (0 to 2^64-1). Reports use it to read a table ordered by a 64-bit hash one
// range per UNION ALL branch, so that 18.16 runs the branches in parallel
// and each branch reads only its part of the table.
//
// A block "--@types COLUMN" becomes one copy per document type of the
// contract (documents.Types), with @type replaced by "COLUMN =
// cityHash64('<type>')" and @name by the quoted type, and one more, for types
// outside the contract, with @type replaced by "COLUMN != <hash> AND ..."
// over those types and @name by the name doc_types gives COLUMN's hash (empty if
// none). It gives each known type a branch of its own, so that a report
// counting per type reads each type's rows in one stream, shared with no
// other type.
func ExpandBlocks(text string) (string, error) {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var out, block []string
	var copies []*strings.Replacer // the open block's, nil outside a block
	indent := ""
	for i, line := range lines {
		t := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(t, "--@ranges") || strings.HasPrefix(t, "--@types"):
			if copies != nil {
				return "", fmt.Errorf("line %d: %s inside a block", i+1, t)
			}
			var err error
			if copies, err = blockCopies(t); err != nil {
				return "", fmt.Errorf("line %d: %w", i+1, err)
			}
			indent, block = line[:len(line)-len(strings.TrimLeft(line, " \t"))], block[:0]
		case t == "--@end":
			if copies == nil {
				return "", fmt.Errorf("line %d: --@end without --@ranges or --@types", i+1)
			}
			if len(block) == 0 {
				return "", fmt.Errorf("line %d: empty block", i+1)
			}
			for k, r := range copies {
				if k > 0 {
					out = append(out, indent+"UNION ALL")
				}
				for _, b := range block {
					out = append(out, r.Replace(b))
				}
			}
			copies = nil
		case copies != nil:
			block = append(block, line)
		default:
			out = append(out, line)
		}
	}
	if copies != nil {
		return "", fmt.Errorf("a block without --@end")
	}
	return strings.Join(out, "\n"), nil
}

// blockCopies returns the replacements of each copy of the block that
// header ("--@ranges N" or "--@types") opens.
func blockCopies(header string) ([]*strings.Replacer, error) {
	if col, ok := strings.CutPrefix(header, "--@types"); ok {
		if col = strings.TrimSpace(col); !identRE.MatchString(col) || !strings.HasPrefix(header, "--@types ") {
			return nil, fmt.Errorf("%q: want --@types COLUMN", header)
		}
		types := documents.Types()
		known := make([]string, len(types))
		copies := make([]*strings.Replacer, 0, len(types)+1)
		for i, t := range types {
			key := "cityHash64('" + string(t) + "')"
			known[i] = col + " != " + key
			copies = append(copies, strings.NewReplacer("@type", col+" = "+key, "@name", "'"+string(t)+"'"))
		}
		// "k != a AND k != b ..." rather than "k NOT IN (a, b, ...)": 18.16
		// skips the granules of the known types for the former, and reads
		// the whole table for the latter. Keys and names come from one
		// scan of doc_types, so that they line up.
		name := "arrayElement(tupleElement((SELECT (groupArray(cityHash64(doc_type)), groupArray(doc_type)) FROM doc_types) AS type_names, 2), " +
			"indexOf(tupleElement(type_names, 1), " + col + "))"
		return append(copies, strings.NewReplacer("@type", strings.Join(known, " AND "), "@name", name)), nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(header, "--@ranges")))
	if err != nil || n < 1 || n > 256 || n&(n-1) != 0 {
		return nil, fmt.Errorf("%q: want --@ranges N with N a power of two from 1 to 256", header)
	}
	shift := uint(64 - bits.TrailingZeros(uint(n)))
	copies := make([]*strings.Replacer, n)
	for k := range copies {
		lo := uint64(k) << shift
		hi := uint64(math.MaxUint64)
		if k+1 < n {
			hi = uint64(k+1)<<shift - 1
		}
		copies[k] = strings.NewReplacer("@lo", strconv.FormatUint(lo, 10), "@hi", strconv.FormatUint(hi, 10))
	}
	return copies, nil
}
