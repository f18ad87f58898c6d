package eventtypes

import (
	"fmt"
	"strings"
)

// Markdown returns the event-type table of the README's "Event types"
// section: one row per type, in contract order, ending in a newline.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| type | records | agency | links documents | attrs |\n|---|---|---|---|---|\n")
	for i := range types {
		t := &types[i]
		agency := t.AgencyNote
		if t.Agencies != nil {
			agency = "`" + strings.Join(t.Agencies, "`, `") + "`"
		}
		links := "yes (1-8 documents)"
		if !t.Links {
			links = fmt.Sprintf("no (0-%d documents)", MaxDocuments)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", t.Name, t.Doc, agency, links, attrsText(t.Attrs, "`", "—"))
	}
	return b.String()
}

// Text returns the event types for `idlink produce --help`: one line per
// type with its agencies and attrs, in contract order.
func Text() string {
	var b strings.Builder
	b.WriteString("event types (type: agencies; attrs):\n")
	for i := range types {
		t := &types[i]
		fmt.Fprintf(&b, "  %-32s %s; %s\n", t.Name, t.Publishers(), attrsText(t.Attrs, "", "no attrs"))
	}
	b.WriteString("agencies: ")
	for i, a := range agencyNames {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s (%s)", a.code, a.name)
	}
	b.WriteString("\nattrs the table does not name are kept as they are\n")
	return b.String()
}

// attrsText describes attrs in words, quoting keys and values with q; none
// is the text for no attrs.
func attrsText(attrs []Attr, q, none string) string {
	if len(attrs) == 0 {
		return none
	}
	parts := make([]string, len(attrs))
	for i, a := range attrs {
		var notes []string
		switch {
		case a.Required:
			notes = append(notes, "required")
		case a.RequiredWhen != nil:
			notes = append(notes, fmt.Sprintf("required when %s%s%s is %s%s%s", q, a.RequiredWhen.Key, q, q, a.RequiredWhen.Value, q))
		}
		switch {
		case a.Values != nil:
			notes = append(notes, "one of "+q+strings.Join(a.Values, q+", "+q)+q)
		case a.Examples != nil:
			notes = append(notes, "e.g. "+q+strings.Join(a.Examples, q+", "+q)+q)
		}
		s := q + a.Key + q
		if len(notes) > 0 {
			s += " (" + strings.Join(notes, "; ") + ")"
		}
		parts[i] = s
	}
	return strings.Join(parts, ", ")
}
