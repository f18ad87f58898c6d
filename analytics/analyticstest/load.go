package analyticstest

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/idlink/idlink/analytics"
)

var insertValues = regexp.MustCompile(`(?s)^INSERT INTO (\w+) \(([^)]*)\) VALUES\s*(.*)$`)

// LoadSQL runs a SQL script (statements split like migrations). Because
// clickhouse-go v2 hangs on 18.16 when an INSERT carries its data inline
// (the server waits for data blocks), `INSERT INTO t (cols) VALUES (...), ...`
// statements are parsed here and sent as column-named batches; anything else
// is executed as is. Values may be 'strings', numbers and ['string', ...]
// arrays; DateTime strings are read as UTC.
func LoadSQL(ctx context.Context, s *analytics.Store, script string) error {
	for i, st := range analytics.SplitStatements(script) {
		m := insertValues.FindStringSubmatch(st)
		if m == nil {
			if err := s.Conn().Exec(ctx, st); err != nil {
				return fmt.Errorf("statement %d: %w", i+1, err)
			}
			continue
		}
		rows, err := parseTuples(m[3])
		if err != nil {
			return fmt.Errorf("statement %d: %w", i+1, err)
		}
		if err := sendRows(ctx, s, "INSERT INTO "+m[1]+" ("+m[2]+")", rows); err != nil {
			return fmt.Errorf("statement %d: %w", i+1, err)
		}
	}
	return nil
}

func sendRows(ctx context.Context, s *analytics.Store, insert string, rows [][]any) error {
	b, err := s.Conn().PrepareBatch(ctx, insert)
	if err != nil {
		return fmt.Errorf("preparing %s: %w", insert, err)
	}
	defer b.Close()
	cols := b.Columns()
	for r, row := range rows {
		if len(row) != len(cols) {
			return fmt.Errorf("row %d has %d values for %d columns", r+1, len(row), len(cols))
		}
		vals := make([]any, len(row))
		for i, v := range row {
			if vals[i], err = convert(string(cols[i].Type()), v); err != nil {
				return fmt.Errorf("row %d column %s: %w", r+1, cols[i].Name(), err)
			}
		}
		if err := b.Append(vals...); err != nil {
			return fmt.Errorf("row %d: %w", r+1, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("sending %s: %w", insert, err)
	}
	return nil
}

func convert(typ string, v any) (any, error) {
	str, isStr := v.(string)
	switch typ {
	case "String":
		if !isStr {
			return nil, fmt.Errorf("want a string, got %v", v)
		}
		return str, nil
	case "DateTime":
		return time.ParseInLocation(time.DateTime, str, time.UTC)
	case "Date":
		return time.ParseInLocation(time.DateOnly, str, time.UTC)
	case "Array(String)":
		a, ok := v.([]string)
		if !ok {
			return nil, fmt.Errorf("want an array of strings, got %v", v)
		}
		return a, nil
	}
	num, ok := v.(literalNumber)
	if !ok {
		return nil, fmt.Errorf("want a number for %s, got %v", typ, v)
	}
	switch typ {
	case "UInt8", "UInt16", "UInt32", "UInt64":
		n, err := strconv.ParseUint(string(num), 10, 64)
		switch typ {
		case "UInt8":
			return uint8(n), err
		case "UInt16":
			return uint16(n), err
		case "UInt32":
			return uint32(n), err
		}
		return n, err
	case "Int8", "Int16", "Int32", "Int64":
		n, err := strconv.ParseInt(string(num), 10, 64)
		switch typ {
		case "Int8":
			return int8(n), err
		case "Int16":
			return int16(n), err
		case "Int32":
			return int32(n), err
		}
		return n, err
	}
	return nil, fmt.Errorf("column type %s is not supported by LoadSQL", typ)
}

// literalNumber is a numeric literal as written.
type literalNumber string

// parseTuples reads "(v, v, ...), (...)".
func parseTuples(s string) ([][]any, error) {
	p := &parser{s: s}
	var rows [][]any
	for {
		p.skip(",")
		if p.eof() {
			return rows, nil
		}
		if !p.take('(') {
			return nil, p.errf("want '('")
		}
		var row []any
		for {
			p.skip(",")
			if p.take(')') {
				break
			}
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			row = append(row, v)
		}
		rows = append(rows, row)
	}
}

type parser struct {
	s string
	i int
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

func (p *parser) errf(format string, a ...any) error {
	end := min(p.i+20, len(p.s))
	return fmt.Errorf("VALUES at %q: %s", p.s[p.i:end], fmt.Sprintf(format, a...))
}

func (p *parser) skip(extra string) {
	for !p.eof() && (strings.ContainsRune(" \t\r\n", rune(p.s[p.i])) || strings.ContainsRune(extra, rune(p.s[p.i]))) {
		p.i++
	}
}

func (p *parser) take(c byte) bool {
	p.skip("")
	if !p.eof() && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *parser) value() (any, error) {
	p.skip("")
	if p.eof() {
		return nil, p.errf("value expected")
	}
	switch c := p.s[p.i]; {
	case c == '\'':
		return p.str()
	case c == '[':
		p.i++
		out := []string{}
		for {
			p.skip(",")
			if p.take(']') {
				return out, nil
			}
			s, err := p.str()
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.i
		p.i++
		for !p.eof() && (p.s[p.i] >= '0' && p.s[p.i] <= '9') {
			p.i++
		}
		return literalNumber(p.s[start:p.i]), nil
	}
	return nil, p.errf("unsupported value")
}

func (p *parser) str() (string, error) {
	p.skip("")
	if !p.take('\'') {
		return "", p.errf("want a quoted string")
	}
	var b strings.Builder
	for !p.eof() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\' && !p.eof():
			b.WriteByte(p.s[p.i])
			p.i++
		case c == '\'' && !p.eof() && p.s[p.i] == '\'':
			b.WriteByte('\'')
			p.i++
		case c == '\'':
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", p.errf("unterminated string")
}
