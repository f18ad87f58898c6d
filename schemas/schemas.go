// Package schemas holds idlink's Avro schemas (embedded .avsc files) and the
// codec that turns Go values into Avro single-object encoded messages and back.
//
// Every message is written in Avro single-object encoding: the two marker bytes
// 0xC3 0x01, the 8-byte little-endian CRC-64-AVRO (Rabin) fingerprint of the
// writer schema's canonical form, then the Avro binary body. A reader looks the
// fingerprint up among every schema version it embeds, decodes with that writer
// schema and fills fields the writer did not know with their defaults, so
// messages written by an older producer stay readable after a compatible change.
package schemas

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"

	"github.com/linkedin/goavro/v2"
)

//go:embed avro/*.avsc
var avscFS embed.FS

// Subject names one family of schemas; each family has numbered versions in
// avro/<subject>.v<N>.avsc and the highest version is the one written.
type Subject string

// The schema families idlink writes.
const (
	SubjectAgencyEvent    Subject = "agency_event"
	SubjectIdentityChange Subject = "identity_change"
	SubjectDeadLetter     Subject = "dead_letter"
	SubjectAuditLookup    Subject = "audit_lookup"
)

// ErrUnknownSchema is returned when a message names a writer schema that this
// binary does not embed (or is not single-object encoded at all).
var ErrUnknownSchema = errors.New("schemas: unknown writer schema")

type version struct {
	subject Subject
	number  int
	codec   *goavro.Codec
}

// Codec encodes and decodes idlink messages. It is safe for concurrent use.
type Codec struct {
	writers  map[Subject]*version
	byFinger map[uint64]*version
	// fastEvent and fastChange are set while the schema a hand-written
	// decoder was written for (fastdecode.go) is its subject's writer schema.
	fastEvent, fastChange bool
}

// Limits on what one message may claim, applied to goavro before decoding:
// goavro sizes an array by the count a message declares, so an unchecked
// hostile count (up to 2^31) would allocate gigabytes before failing.
// idlink's messages hold at most a few thousand items per array (documents
// of a person) and at most a few MiB of bytes (redacted dead-letter payloads).
const (
	maxBlockCount = 1 << 16
	maxBlockSize  = 16 << 20
)

var limitOnce sync.Once

// NewCodec parses every embedded schema version. It fails only if an embedded
// schema is invalid, which is a build defect.
func NewCodec() (*Codec, error) {
	limitOnce.Do(func() {
		// goavro only offers these as package variables; idlink is their
		// one user in the process and sets them once, before any decoding.
		goavro.MaxBlockCount = maxBlockCount
		goavro.MaxBlockSize = maxBlockSize
	})
	c := &Codec{writers: map[Subject]*version{}, byFinger: map[uint64]*version{}}
	files, err := fs.Glob(avscFS, "avro/*.avsc")
	if err != nil {
		return nil, fmt.Errorf("listing embedded schemas: %w", err)
	}
	sort.Strings(files)
	for _, f := range files {
		base := strings.TrimSuffix(strings.TrimPrefix(f, "avro/"), ".avsc")
		var subj string
		var n int
		i := strings.LastIndex(base, ".v")
		if i < 0 {
			return nil, fmt.Errorf("schema file %s: name must be <subject>.v<N>.avsc", f)
		}
		subj = base[:i]
		if _, err := fmt.Sscanf(base[i+2:], "%d", &n); err != nil {
			return nil, fmt.Errorf("schema file %s: bad version: %w", f, err)
		}
		text, err := avscFS.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading schema %s: %w", f, err)
		}
		if err := c.add(Subject(subj), n, string(text)); err != nil {
			return nil, fmt.Errorf("schema %s: %w", f, err)
		}
	}
	for _, s := range []Subject{SubjectAgencyEvent, SubjectIdentityChange, SubjectDeadLetter, SubjectAuditLookup} {
		if c.writers[s] == nil {
			return nil, fmt.Errorf("no embedded schema for %s", s)
		}
	}
	return c, nil
}

// add registers one schema version; the highest version of a subject becomes
// its writer schema. It is used by NewCodec and by tests that register an
// extra version.
func (c *Codec) add(subject Subject, n int, text string) error {
	codec, err := goavro.NewCodec(text)
	if err != nil {
		return fmt.Errorf("parsing: %w", err)
	}
	v := &version{subject: subject, number: n, codec: codec}
	fp := uint64(codec.Rabin)
	if old, ok := c.byFinger[fp]; ok && old.subject != subject {
		return fmt.Errorf("fingerprint collides with %s v%d", old.subject, old.number)
	}
	c.byFinger[fp] = v
	if w := c.writers[subject]; w == nil || w.number < n {
		c.writers[subject] = v
	}
	c.fastEvent = c.writerIs(SubjectAgencyEvent, fastEventFingerprint)
	c.fastChange = c.writerIs(SubjectIdentityChange, fastChangeFingerprint)
	return nil
}

// writerIs reports whether subject's writer schema has fingerprint fp.
func (c *Codec) writerIs(subject Subject, fp uint64) bool {
	w := c.writers[subject]
	return w != nil && uint64(w.codec.Rabin) == fp
}

// WriterVersion reports the schema version written for subject.
func (c *Codec) WriterVersion(subject Subject) int { return c.writers[subject].number }

func (c *Codec) encode(subject Subject, native map[string]any) ([]byte, error) {
	b, err := c.writers[subject].codec.SingleFromNative(nil, native)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", subject, err)
	}
	return b, nil
}

func (c *Codec) decode(subject Subject, b []byte) (map[string]any, error) {
	fp, _, err := goavro.FingerprintFromSOE(b)
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w: %w", subject, ErrUnknownSchema, err)
	}
	v, ok := c.byFinger[fp]
	if !ok {
		return nil, fmt.Errorf("decoding %s: %w: fingerprint %016x", subject, ErrUnknownSchema, fp)
	}
	if v.subject != subject {
		return nil, fmt.Errorf("decoding %s: message is a %s", subject, v.subject)
	}
	native, rest, err := v.codec.NativeFromSingle(b)
	if err != nil {
		return nil, fmt.Errorf("decoding %s v%d: %w", subject, v.number, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("decoding %s v%d: %d trailing bytes", subject, v.number, len(rest))
	}
	m, ok := native.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("decoding %s: record expected, got %T", subject, native)
	}
	return m, nil
}

// Missing fields (written by an older schema) read as the zero value, which is
// each field's declared default.
func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func i64(m map[string]any, k string) int64 {
	switch v := m[k].(type) {
	case int64:
		return v
	case int32:
		return int64(v)
	}
	return 0
}

func list(m map[string]any, k string) []any {
	l, _ := m[k].([]any)
	return l
}

func strs(m map[string]any, k string) []string {
	l := list(m, k)
	if len(l) == 0 {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func anyStrings(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
