package producers

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth is the deepest nesting of arrays and objects a line may have.
const maxDepth = 1000

// lineParser decodes one event line (RFC 8259 JSON) into an Input, strictly:
// every string is decoded losslessly (a \u escape naming a lone surrogate is
// bad_utf8, as invalid UTF-8 bytes are before it runs), keys match exactly
// (no case folding), a key repeated in one object is duplicate_key, keys the
// contract does not name are skipped after their value is checked. As with
// encoding/json, null for a known field means the field is absent.
type lineParser struct {
	b   []byte
	i   int
	buf []byte // scratch for strings with escapes
}

// parseError is a Rejection without an event_id.
func parseError(reason, format string, a ...any) *Rejection {
	return &Rejection{Reason: reason, Detail: fmt.Sprintf(format, a...)}
}

func (p *lineParser) syntax(what string) *Rejection {
	if p.i >= len(p.b) {
		return parseError(ReasonBadJSON, "syntax error at byte %d: the line ends where %s should be", p.i+1, what)
	}
	return parseError(ReasonBadJSON, "syntax error at byte %d: want %s", p.i+1, what)
}

func (p *lineParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// peek returns the next byte after whitespace, or 0 at the end.
func (p *lineParser) peek() byte {
	p.ws()
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

// input parses the whole line as one event object.
func (p *lineParser) input(in *Input) *Rejection {
	if p.peek() != '{' {
		return parseError(ReasonBadJSON, "not a JSON object")
	}
	err := p.object("", 1, func(key string) *Rejection {
		switch key {
		case "event_id":
			return p.stringField(key, &in.EventID)
		case "type":
			return p.stringField(key, &in.Type)
		case "agency":
			return p.stringField(key, &in.Agency)
		case "occurred_at":
			return p.stringField(key, &in.OccurredAt)
		case "region":
			return p.stringField(key, &in.Region)
		case "person":
			return p.person(in)
		case "documents":
			return p.documents(in)
		case "attrs":
			return p.attrs(in)
		}
		return p.skip(2)
	})
	if err != nil {
		return err
	}
	if p.ws(); p.i != len(p.b) {
		return parseError(ReasonBadJSON, "syntax error at byte %d: more after the object", p.i+1)
	}
	return nil
}

func (p *lineParser) person(in *Input) *Rejection {
	if p.null() {
		return nil
	}
	if p.peek() != '{' {
		return p.typeError("person", "an object")
	}
	in.Person = &Person{}
	return p.object("person.", 2, func(key string) *Rejection {
		switch key {
		case "name":
			return p.stringField("person.name", &in.Person.Name)
		case "birth_date":
			return p.stringField("person.birth_date", &in.Person.BirthDate)
		}
		return p.skip(3)
	})
}

func (p *lineParser) documents(in *Input) *Rejection {
	if p.null() {
		return nil
	}
	if p.peek() != '[' {
		return p.typeError("documents", "an array")
	}
	p.i++
	in.Documents = in.Documents[:0]
	if in.Documents == nil {
		in.Documents = []InputDocument{}
	}
	if p.peek() == ']' {
		p.i++
		return nil
	}
	for n := 0; ; n++ {
		var d InputDocument
		path := "documents[" + strconv.Itoa(n) + "]"
		switch {
		case p.null():
		case p.peek() == '{':
			err := p.object(path+".", 3, func(key string) *Rejection {
				switch key {
				case "type":
					return p.stringField(path+".type", &d.Type)
				case "number":
					return p.stringField(path+".number", &d.Number)
				}
				return p.skip(4)
			})
			if err != nil {
				return err
			}
		default:
			return p.typeError(path, "an object")
		}
		in.Documents = append(in.Documents, d)
		switch p.peek() {
		case ',':
			p.i++
		case ']':
			p.i++
			return nil
		default:
			return p.syntax("',' or ']'")
		}
	}
}

func (p *lineParser) attrs(in *Input) *Rejection {
	if p.null() {
		return nil
	}
	if p.peek() != '{' {
		return p.typeError("attrs", "an object")
	}
	in.Attrs = map[string]string{}
	return p.object("attrs.", 2, func(key string) *Rejection {
		var v string
		if err := p.stringField("attrs."+key, &v); err != nil {
			return err
		}
		in.Attrs[key] = v
		return nil
	})
}

// object parses an object at p.i, calling field for each key with p.i at its
// value; field must consume the value. path, made by the parser itself,
// prefixes keys in details; keys are clipped (digits masked).
func (p *lineParser) object(path string, depth int, field func(key string) *Rejection) *Rejection {
	if depth > maxDepth {
		return parseError(ReasonBadJSON, "nested deeper than %d levels", maxDepth)
	}
	p.i++ // '{'
	if p.peek() == '}' {
		p.i++
		return nil
	}
	var keys []string
	for {
		if p.peek() != '"' {
			return p.syntax("a key in double quotes")
		}
		key, err := p.str()
		if err != nil {
			return err
		}
		for _, k := range keys {
			if k == key {
				return parseError(ReasonDuplicateKey, "duplicate key %q", path+clip(key))
			}
		}
		keys = append(keys, key)
		if p.peek() != ':' {
			return p.syntax("':'")
		}
		p.i++
		p.ws()
		if err := field(key); err != nil {
			return err
		}
		switch p.peek() {
		case ',':
			p.i++
		case '}':
			p.i++
			return nil
		default:
			return p.syntax("',' or '}'")
		}
	}
}

// stringField reads a string or null (leaving *dst as it is) into *dst.
func (p *lineParser) stringField(name string, dst *string) *Rejection {
	if p.null() {
		return nil
	}
	if p.peek() != '"' {
		return p.typeError(name, "a string")
	}
	s, err := p.str()
	if err != nil {
		return err
	}
	*dst = s
	return nil
}

// typeError reports a value of the wrong JSON type; a value that is not JSON
// at all is a syntax error.
func (p *lineParser) typeError(name, want string) *Rejection {
	at := p.i
	if err := p.skip(1); err != nil {
		return err
	}
	got := "a number"
	switch p.b[at] {
	case '"':
		got = "a string"
	case '{':
		got = "an object"
	case '[':
		got = "an array"
	case 't', 'f':
		got = "a boolean"
	}
	return parseError(ReasonBadJSON, "field %q must be %s, not %s", clip(name), want, got)
}

// null consumes a null literal if one is next.
func (p *lineParser) null() bool {
	if p.peek() == 'n' && p.literal("null") {
		return true
	}
	return false
}

func (p *lineParser) literal(word string) bool {
	if len(p.b)-p.i >= len(word) && string(p.b[p.i:p.i+len(word)]) == word {
		p.i += len(word)
		return true
	}
	return false
}

// skip checks and consumes any JSON value.
func (p *lineParser) skip(depth int) *Rejection {
	if depth > maxDepth {
		return parseError(ReasonBadJSON, "nested deeper than %d levels", maxDepth)
	}
	switch c := p.peek(); {
	case c == '"':
		_, err := p.str()
		return err
	case c == '{':
		return p.object("", depth, func(string) *Rejection { return p.skip(depth + 1) })
	case c == '[':
		p.i++
		if p.peek() == ']' {
			p.i++
			return nil
		}
		for {
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			switch p.peek() {
			case ',':
				p.i++
			case ']':
				p.i++
				return nil
			default:
				return p.syntax("',' or ']'")
			}
		}
	case c == 't' && p.literal("true"), c == 'f' && p.literal("false"), c == 'n' && p.literal("null"):
		return nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	}
	return p.syntax("a value")
}

// number consumes a number: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
func (p *lineParser) number() *Rejection {
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.b[p.i] == '-' {
		p.i++
	}
	switch {
	case p.i < len(p.b) && p.b[p.i] == '0':
		p.i++
	case digits() == 0:
		return p.syntax("a digit")
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return p.syntax("a digit")
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		p.i++
		if p.i < len(p.b) && (p.b[p.i] == '+' || p.b[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return p.syntax("a digit")
		}
	}
	return nil
}

// str decodes the string at p.i (its opening quote). The line is valid
// UTF-8 already; escapes are decoded exactly, and one naming a lone UTF-16
// surrogate is bad_utf8, since no UTF-8 string holds it.
func (p *lineParser) str() (string, *Rejection) {
	p.i++ // '"'
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			s := string(p.b[start:p.i])
			p.i++
			return s, nil
		case c == '\\':
			return p.escaped(start)
		case c < 0x20:
			return "", p.syntax("a control character to be escaped")
		}
		p.i++
	}
	return "", p.syntax("a closing '\"'")
}

// escaped continues str from the first backslash.
func (p *lineParser) escaped(start int) (string, *Rejection) {
	buf := append(p.buf[:0], p.b[start:p.i]...)
	defer func() { p.buf = buf[:0] }()
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(buf), nil
		case c < 0x20:
			return "", p.syntax("a control character to be escaped")
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.b) {
			break
		}
		e := p.b[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.syntax("4 hex digits after \\u")
			}
			if utf16.IsSurrogate(r) {
				lo, ok := rune(0), false
				if r < 0xdc00 && p.literal(`\u`) {
					if lo, ok = p.hex4(); !ok {
						return "", p.syntax("4 hex digits after \\u")
					}
				}
				if r = utf16.DecodeRune(r, lo); r == utf8.RuneError {
					return "", parseError(ReasonBadUTF8, "a \\u escape before byte %d names a lone UTF-16 surrogate, which is not a character", p.i+1)
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			p.i--
			return "", p.syntax(`an escape \" \\ \/ \b \f \n \r \t or \u`)
		}
	}
	return "", p.syntax("a closing '\"'")
}

func (p *lineParser) hex4() (rune, bool) {
	if len(p.b)-p.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	p.i += 4
	return r, true
}
