package analytics

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
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

// ReportSQL returns a report's query: the one statement of
// reports/<name>.sql, exactly as clickhouse-client runs the file.
func ReportSQL(name string) (string, error) {
	if _, err := findReport(name); err != nil {
		return "", err
	}
	b, err := reportsFS.ReadFile("reports/" + name + ".sql")
	if err != nil {
		return "", fmt.Errorf("reading the query of report %s: %w", name, err)
	}
	stmts := SplitStatements(string(b))
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
	out, columns, err := s.query(ctx, doing, query)
	if err != nil {
		return nil, err
	}
	if strings.Join(columns, ",") != strings.Join(r.columns, ",") {
		return nil, fmt.Errorf("%s: query returned columns %v, want %v", doing, columns, r.columns)
	}
	return out, nil
}

// Query runs one SELECT (an analyst's question, a test's oracle) and returns
// its rows, with the columns as the query names them and values as Report
// gives them; arrays come as slices.
func (s *Store) Query(ctx context.Context, query string) ([]Row, error) {
	out, _, err := s.query(ctx, "querying ClickHouse database "+s.db, query)
	return out, err
}

// query runs query and returns its rows and column names; errors start with
// doing.
func (s *Store) query(ctx context.Context, doing, query string) ([]Row, []string, error) {
	rows, err := s.conn.Query(ctx, query)
	if err != nil {
		return nil, nil, s.wrapConnErr(doing, err)
	}
	defer rows.Close()
	columns := rows.Columns()
	types := rows.ColumnTypes()
	out := []Row{}
	for rows.Next() {
		dest := make([]any, len(types))
		for i, t := range types {
			dest[i] = reflect.New(t.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, nil, fmt.Errorf("%s: reading a row: %w", doing, err)
		}
		vals := make([]any, len(dest))
		for i, d := range dest {
			vals[i] = normalize(types[i].DatabaseTypeName(), reflect.ValueOf(d).Elem().Interface())
		}
		out = append(out, Row{Columns: columns, Values: vals})
	}
	if err := rows.Err(); err != nil {
		return nil, nil, s.wrapConnErr(doing, err)
	}
	return out, columns, nil
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
