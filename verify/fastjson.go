package verify

// fastVerifyIn reads the usual verify body without reflection: one object
// with "document" (an object of string "type" and "number") and optionally
// "person" (an object of strings "name" and "birth_date"), each key at most
// once, strings of printable ASCII without escapes, JSON white space
// anywhere. It reports false for any other body, which json.Unmarshal then
// reads (and, if it is not valid, describes): for a body it accepts, the
// result is the one json.Unmarshal gives (TestFastVerifyIn, FuzzFastVerifyIn).
func fastVerifyIn(body []byte) (verifyIn, bool) {
	p := fastParser{s: string(body)}
	var in verifyIn
	ok := p.object(func(key string) bool {
		switch {
		case key == "document" && in.Document == nil:
			d := &docIn{}
			in.Document = d
			return p.object(func(key string) bool {
				switch {
				case key == "type" && d.Type == nil:
					d.Type = p.str()
					return d.Type != nil
				case key == "number" && d.Number == nil:
					d.Number = p.str()
					return d.Number != nil
				}
				return false
			})
		case key == "person" && in.Person == nil:
			in.Person = &personIn{}
			return p.object(func(key string) bool {
				switch {
				case key == "name" && in.Person.Name == nil:
					in.Person.Name = p.str()
					return in.Person.Name != nil
				case key == "birth_date" && in.Person.BirthDate == nil:
					in.Person.BirthDate = p.str()
					return in.Person.BirthDate != nil
				}
				return false
			})
		}
		return false
	})
	p.space()
	if !ok || p.i != len(p.s) {
		return verifyIn{}, false
	}
	return in, true
}

// fastParser reads a JSON text from s at i.
type fastParser struct {
	s string
	i int
}

func (p *fastParser) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// object reads an object, calling member for each key with the parser
// before the key's value (after the colon); member reads the value and
// reports whether it could.
func (p *fastParser) object(member func(key string) bool) bool {
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != '{' {
		return false
	}
	p.i++
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '}' {
		p.i++
		return true
	}
	for {
		p.space()
		k := p.str()
		if k == nil {
			return false
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return false
		}
		p.i++
		p.space()
		if !member(*k) {
			return false
		}
		p.space()
		if p.i >= len(p.s) {
			return false
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return true
		default:
			return false
		}
	}
}

// str reads a string of printable ASCII without escapes, or returns nil.
func (p *fastParser) str() *string {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return nil
	}
	for j := p.i + 1; j < len(p.s); j++ {
		switch c := p.s[j]; {
		case c == '"':
			v := p.s[p.i+1 : j]
			p.i = j + 1
			return &v
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil
		}
	}
	return nil
}
