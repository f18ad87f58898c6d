package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/documents"
	"github.com/idlink/idlink/internal/namespace"
	"github.com/idlink/idlink/internal/stacktest"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/producers/simulator"
	"github.com/idlink/idlink/verify"
)

// TestPrivacy checks CONTRACT.md §5 on the real stack: raw document numbers
// never leave the producer. It publishes a simulator dataset (with invalid
// lines) through `idlink produce`, runs `idlink run --exit-when-idle`, then
// scans every message of every topic in the test's namespace, every Redis key
// and value under its prefix, every row of every table in its ClickHouse
// database and every line the commands logged, for every document number of
// the input: as normalised, as spelled on the line, and the numbers of the
// invalid lines. Nothing may be found. So that the test can fail, it first
// plants numbers in each of those places and requires the scan to find
// exactly those.
func TestPrivacy(t *testing.T) {
	cfg := stacktest.Config(t)
	bin := stacktest.Build(t)
	env := append(stacktest.Env(cfg), "IDLINK_LOG_LEVEL=debug")
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	ds := simulator.Generate(simulator.Options{Seed: 7, Persons: 300, Events: 3000, BadEvents: 120, Duplicates: 30, IDPrefix: "priv-"})
	// Lines of shapes the simulator does not make, each rejected with a
	// number where a parser reading the contract's keys would not look
	// (secrets: those numbers).
	odd, secrets := privacyOddLines()
	input := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(input, append(ds.Bytes(), odd...), 0o600); err != nil {
		t.Fatal(err)
	}
	needles, err := privacyNeedles(ds.Lines)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		needles[s] = privacyNeedle{text: s, what: "number in an odd rejected line"}
	}
	t.Logf("%d input lines hold %d distinct document spellings", len(ds.Lines), len(needles))

	var logs bytes.Buffer // everything idlink wrote to stderr: its logs
	runIdlink := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env, cmd.Dir = env, dir
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		logs.Write(stderr.Bytes())
		if err != nil {
			t.Fatalf("idlink %s: %v\n%s", strings.Join(args, " "), err, privacyTail(stderr.String(), 20))
		}
		return stdout.String()
	}
	out := runIdlink("produce", "--file", input, "--json")
	var produced simulator.Produced
	if err := json.Unmarshal([]byte(out), &produced); err != nil {
		t.Fatalf("idlink produce --json printed %q: %v", out, err)
	}
	if want := ds.ExpectedProduce(); produced.Accepted != want.Accepted || produced.Rejected != want.Rejected+len(secrets) {
		t.Fatalf("produce: accepted %d rejected %d, want %d and %d", produced.Accepted, produced.Rejected, want.Accepted, want.Rejected+len(secrets))
	}
	runIdlink("run", "--exit-when-idle", "--metrics-addr", "off")
	// The verification API: calls about the input's documents, as written,
	// valid and not, then the audit landed and listed.
	answers := privacyAPICalls(t, ctx, &cli{t: t, bin: bin, env: env, dir: dir}, ds.Lines, &logs, runIdlink)
	runIdlink("run", "--exit-when-idle", "--metrics-addr", "off")
	logs.WriteString(runIdlink("audit", "--doc-type", "hkid", "--number", "A123456(3)", "--json"))
	for _, report := range analytics.ReportNames()[:4] {
		logs.WriteString(runIdlink("stats", report, "--json")) // what analysts see
	}
	logs.WriteString(runIdlink("conflicts", "--json"))

	// Plant one input number in each place, so the scan must find something.
	planted := map[string]string{} // where -> number
	plants := privacyPlantable(needles)
	rdb, err := cfg.Redis()
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	plantKey := cfg.RedisPrefix + "privacy-planted"
	if err := rdb.Set(ctx, plantKey, "planted:"+plants[0], 0).Err(); err != nil {
		t.Fatal(err)
	}
	planted["redis "+plantKey] = plants[0]
	plantTopic := cfg.TopicPrefix + "privacy.planted"
	if err := privacyPlantMessage(ctx, cfg, plantTopic, `{"number":"`+plants[1]+`"}`); err != nil {
		t.Fatal(err)
	}
	planted["kafka "+plantTopic] = plants[1]
	store, err := analytics.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := privacyPlantRow(ctx, store, "privacy_planted", "x "+strings.ToLower(plants[2])+" y"); err != nil {
		t.Fatal(err)
	}
	planted["clickhouse privacy_planted"] = plants[2]
	logs.WriteString("\nlevel=INFO msg=planted number=" + plants[3] + "\n")
	planted["logs"] = plants[3]

	sc := &privacyScan{needles: privacyIndex(needles), found: map[string]map[string]bool{}, volume: map[string]int{}}
	if err := sc.kafka(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := sc.redis(ctx, rdb, cfg.RedisPrefix); err != nil {
		t.Fatal(err)
	}
	if err := sc.clickhouse(ctx, store); err != nil {
		t.Fatal(err)
	}
	sc.scan("logs", "logs", logs.Bytes())
	for _, ans := range answers {
		sc.scan("api answers", "api answers", ans)
	}
	t.Logf("scanned: %v", sc.volume)

	// Cover every place that holds data: a scan that read nothing proves nothing.
	topics := cfg.Topics()
	agencyMessages := 0
	for _, tp := range topics.AllAgencies() {
		agencyMessages += sc.volume["kafka "+tp]
	}
	if agencyMessages != produced.Accepted {
		t.Errorf("scanned %d messages on the agency topics, want the %d events published", agencyMessages, produced.Accepted)
	}
	if n := sc.volume["kafka "+topics.DeadLetter()]; n < produced.Rejected {
		t.Errorf("scanned %d dead letters, want at least the %d rejected lines", n, produced.Rejected)
	}
	for _, where := range []string{"kafka " + topics.IdentityChanges(), "redis keys", "clickhouse event_documents", "clickhouse doc_person", "clickhouse identity_changes", "logs",
		"kafka " + topics.AuditLookups(), "clickhouse audit_lookups", "api answers"} {
		if sc.volume[where] == 0 {
			t.Errorf("scanned nothing in %s", where)
		}
	}
	var leaks []string
	for where, nums := range sc.found {
		for n := range nums {
			if planted[where] == n {
				continue
			}
			leaks = append(leaks, fmt.Sprintf("%s holds %q", where, n))
		}
	}
	sort.Strings(leaks)
	for where, n := range planted {
		if !sc.found[where][n] {
			t.Errorf("sanity check: the number planted in %s was not found: the scan is blind there", where)
		}
	}
	if len(leaks) > 0 {
		t.Errorf("%d raw document numbers found outside the producer:\n%s", len(leaks), strings.Join(leaks, "\n"))
	}

	// Remove the plants (the namespace is removed anyway).
	_ = rdb.Del(ctx, plantKey).Err()
	if client, err := cfg.KafkaClient(); err == nil {
		_, _ = client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{plantTopic}})
	}
	_ = store.Conn().Exec(ctx, "DROP TABLE IF EXISTS privacy_planted")
}

// privacyAPICalls creates a key, runs `idlink serve` and asks its
// verification API about the documents of the first lines of the input, as
// written (valid and invalid ones: verify for the first document, match for
// the first two), and returns every answer's body. serve's log goes to logs.
func privacyAPICalls(t *testing.T, ctx context.Context, c *cli, lines [][]byte, logs *bytes.Buffer, runIdlink func(...string) string) [][]byte {
	t.Helper()
	var k struct{ Key string }
	if err := json.Unmarshal([]byte(runIdlink("api-keys", "create", "--relying-party", "privacy_check", "--json")), &k); err != nil {
		t.Fatal(err)
	}
	base, stop := apiServe(t, ctx, c)
	client := apiHTTPClient(t)
	var answers [][]byte
	post := func(path string, body any) {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequestWithContext(ctx, "POST", base+path, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+k.Key)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		ans, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusBadRequest {
			t.Fatalf("POST %s answered %d %s", path, res.StatusCode, ans)
		}
		answers = append(answers, ans)
	}
	calls := 0
	for _, l := range lines {
		var ev struct {
			Documents []map[string]any `json:"documents"`
		}
		if json.Unmarshal(l, &ev) != nil || len(ev.Documents) == 0 {
			continue
		}
		post(verify.PathVerify, map[string]any{"document": ev.Documents[0], "person": map[string]string{"birth_date": "1990-02-11"}})
		if len(ev.Documents) > 1 {
			post(verify.PathMatch, map[string]any{"documents": ev.Documents[:2]})
		}
		if calls++; calls == 60 {
			break
		}
	}
	post(verify.PathVerify, map[string]any{"document": map[string]string{"type": "hkid", "number": "A123456(3)"}})
	code, log := stop()
	logs.WriteString(log)
	if code != 0 {
		t.Fatalf("idlink serve exited %d:\n%s", code, privacyTail(log, 20))
	}
	return answers
}

// TestPrivacyScanRules pins down what the scan of TestPrivacy counts as a
// number found (it needs no stack).
func TestPrivacyScanRules(t *testing.T) {
	needles := map[string]privacyNeedle{}
	for _, n := range []string{"12345678", "H12345678", "820000199002110013", "A1234563"} {
		needles[n] = privacyNeedle{text: n}
	}
	tests := []struct {
		hay  string
		want []string
	}{
		{`{"number":"H12345678"}`, []string{"12345678", "H12345678"}},
		{`num=h12345678 `, []string{"12345678", "H12345678"}},
		{"\x02\x10820000199002110013\x00", []string{"820000199002110013"}},
		{`a1234563`, []string{"A1234563"}},
		{`id 9123456789 at 1741234567890`, nil},                                       // inside longer numbers
		{`token 3fa9c0d2e12345678ab9f4c3e2d1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e0`, nil}, // inside a token
		{`run 820000199002110013 of digits`, []string{"820000199002110013"}},          // all digits: not a token
		{`x12345678y`, []string{"12345678"}},
	}
	for _, tt := range tests {
		sc := &privacyScan{needles: privacyIndex(needles), found: map[string]map[string]bool{}, volume: map[string]int{}}
		sc.scan("t", "t", []byte(tt.hay))
		var got []string
		for n := range sc.found["t"] {
			got = append(got, n)
		}
		sort.Strings(got)
		sort.Strings(tt.want)
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("scan(%q) found %v, want %v", tt.hay, got, tt.want)
		}
	}
}

// privacyNeedle is one document number to look for.
type privacyNeedle struct {
	text string // upper case
	what string // how it was derived, for messages
}

// privacyNumberRE finds "number" members in lines that do not parse.
var privacyNumberRE = regexp.MustCompile(`"number"\s*:\s*"((?:[^"\\]|\\.)*)"`)

// privacyNeedles collects every document number of the input: each
// spelling as written and its normalised form, for valid and invalid lines
// (whose documents may not parse, or name unknown types).
// privacyOddLines returns rejected lines that hide numbers outside the
// contract's document fields, and those numbers.
func privacyOddLines() ([]byte, []string) {
	head := `{"event_id":"priv-odd-%d","type":"travel_permit.issued","agency":"nia","occurred_at":"2025-01-01T00:00:00Z"`
	shapes := []struct{ tail, secret string }{
		{`,"Documents":[{"type":"mainland_travel_permit","number":"H87654321"}]}`, "H87654321"},                                   // a key in the wrong case
		{`,"documents":[{"type":"passport","number":"ABCDEFGH"}]`, "ABCDEFGH"},                                                    // truncated
		{`,"documents":[{"type":"passport","number":"PQRSTUVW","Number":"E7654321"}],"person":{"birth_date":"bad"}}`, "E7654321"}, // a document's other key
		{`,"documents":{"type":"passport","number":"QWERTYUI"}}`, "QWERTYUI"},                                                     // documents as an object
		{`,"documents":[{"type":"passprt","number":"ASDFGHJK"}]}`, "ASDFGHJK"},                                                    // an unknown document type
		{`,"documents":[{"type":"passport","number":"ZXCVBNMA"}],"documents":[]}`, "ZXCVBNMA"},                                    // a duplicate key
	}
	var b []byte
	var secrets []string
	for i, s := range shapes {
		b = fmt.Appendf(b, head+s.tail+"\n", i)
		secrets = append(secrets, s.secret)
	}
	return b, secrets
}

func privacyNeedles(lines [][]byte) (map[string]privacyNeedle, error) {
	out := map[string]privacyNeedle{}
	add := func(s, what string) {
		s = strings.ToUpper(strings.TrimSpace(s))
		if s != "" {
			if _, ok := out[s]; !ok {
				out[s] = privacyNeedle{text: s, what: what}
			}
		}
	}
	addDoc := func(typ, raw string) {
		add(raw, typ+" as written")
		if t, ok := documents.ParseType(typ); ok {
			add(documents.Normalize(t, raw), typ+" normalised")
		} else {
			add(strings.NewReplacer(" ", "", "(", "", ")", "", "-", "").Replace(raw), typ+" without separators")
		}
	}
	for _, l := range lines {
		var ev struct {
			Documents []struct{ Type, Number string }
		}
		if err := json.Unmarshal(l, &ev); err == nil {
			for _, d := range ev.Documents {
				addDoc(d.Type, d.Number)
			}
			continue
		}
		for _, m := range privacyNumberRE.FindAllSubmatch(l, -1) {
			var raw string
			if err := json.Unmarshal([]byte(`"`+string(m[1])+`"`), &raw); err != nil {
				raw = string(m[1])
			}
			addDoc("unparsed", raw)
		}
	}
	for s := range out {
		if len(s) < privacyKey {
			return nil, fmt.Errorf("document number %q is shorter than %d characters: too short to search for without false alarms", s, privacyKey)
		}
	}
	return out, nil
}

// privacyPlantable returns four different input numbers to plant: a
// residence permit, a travel permit, an HKID and a passport if present.
func privacyPlantable(needles map[string]privacyNeedle) []string {
	var out []string
	for _, prefix := range []string{"residence_permit", "mainland_travel_permit", "hkid", "passport", "macao_id", "taiwan_travel_permit"} {
		var cands []string
		for s, n := range needles {
			if strings.HasPrefix(n.what, prefix+" as written") {
				cands = append(cands, s)
			}
		}
		sort.Strings(cands)
		if len(cands) > 0 {
			out = append(out, cands[0])
		}
	}
	return out
}

// privacyKey is the length of the prefix needles are indexed by.
const privacyKey = 6

// privacyIndex indexes needles by their first privacyKey bytes.
func privacyIndex(needles map[string]privacyNeedle) map[string][]string {
	idx := map[string][]string{}
	for s := range needles {
		idx[s[:privacyKey]] = append(idx[s[:privacyKey]], s)
	}
	return idx
}

// privacyScan searches byte strings for needles, case-insensitively.
//
// Two rules keep random data from raising false alarms: a number that
// starts (ends) with a digit must not be preceded (followed) by a digit, so
// a number is not found inside a longer one (a counter, a timestamp); and a
// match lying inside a run of 16 or more hex digits with at least one letter
// A-F is part of a token or an id (HMAC tokens are 64 hex digits), not a
// number. Neither rule hides a number written out as such.
type privacyScan struct {
	needles map[string][]string
	found   map[string]map[string]bool // where -> numbers found
	volume  map[string]int             // place -> items scanned
}

// scan searches b, one item of the place (a topic, "redis values", a
// table, …); numbers found are recorded under where, which may be more
// precise (a Redis key).
func (s *privacyScan) scan(place, where string, b []byte) {
	s.volume[place]++
	if len(b) < privacyKey {
		return
	}
	up := make([]byte, len(b))
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		up[i] = c
	}
	for i := 0; i+privacyKey <= len(up); i++ {
		cands, ok := s.needles[string(up[i:i+privacyKey])]
		if !ok {
			continue
		}
		for _, n := range cands {
			if !bytes.HasPrefix(up[i:], []byte(n)) || !privacyBounded(up, i, i+len(n)) || privacyInToken(up, i, i+len(n)) {
				continue
			}
			if s.found[where] == nil {
				s.found[where] = map[string]bool{}
			}
			s.found[where][n] = true
		}
	}
}

func privacyDigit(c byte) bool { return '0' <= c && c <= '9' }

func privacyHex(c byte) bool { return privacyDigit(c) || ('A' <= c && c <= 'F') }

// privacyBounded reports whether b[i:j] is not part of a longer digit run.
func privacyBounded(b []byte, i, j int) bool {
	if privacyDigit(b[i]) && i > 0 && privacyDigit(b[i-1]) {
		return false
	}
	if privacyDigit(b[j-1]) && j < len(b) && privacyDigit(b[j]) {
		return false
	}
	return true
}

// privacyInToken reports whether b[i:j] lies inside a hex run of at least 16
// characters holding a letter.
func privacyInToken(b []byte, i, j int) bool {
	for k := i; k < j; k++ {
		if !privacyHex(b[k]) {
			return false
		}
	}
	lo, hi := i, j
	for lo > 0 && privacyHex(b[lo-1]) {
		lo--
	}
	for hi < len(b) && privacyHex(b[hi]) {
		hi++
	}
	if hi-lo < 16 {
		return false
	}
	for _, c := range b[lo:hi] {
		if !privacyDigit(c) {
			return true
		}
	}
	return false
}

// kafka scans key, value and headers of every message of every topic in the
// namespace (listed from the broker, so topics idlink made up are included).
func (s *privacyScan) kafka(ctx context.Context, cfg *pipeline.Config) error {
	client, err := cfg.KafkaClient()
	if err != nil {
		return err
	}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return fmt.Errorf("listing topics: %w", err)
	}
	for _, tp := range md.Topics {
		if !strings.HasPrefix(tp.Name, cfg.TopicPrefix) {
			continue
		}
		where := "kafka " + tp.Name
		s.volume[where] += 0
		err := namespace.ReadTopic(ctx, cfg, tp.Name, func(m kafka.Message) error {
			var b bytes.Buffer
			b.Write(m.Key)
			b.WriteByte(0)
			b.Write(m.Value)
			for _, h := range m.Headers {
				b.WriteByte(0)
				b.WriteString(h.Key)
				b.WriteByte(0)
				b.Write(h.Value)
			}
			s.scan(where, where, b.Bytes())
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// redis scans every key under prefix and its value, whatever its type.
func (s *privacyScan) redis(ctx context.Context, rdb redis.UniversalClient, prefix string) error {
	scanNode := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			key := iter.Val()
			s.scan("redis keys", "redis key names", []byte(key))
			where := "redis " + key
			typ, err := c.Type(ctx, key).Result()
			if err != nil {
				return fmt.Errorf("TYPE %q: %w", key, err)
			}
			var parts []string
			switch typ {
			case "string":
				v, err := c.Get(ctx, key).Result()
				if err != nil && !errors.Is(err, redis.Nil) {
					return fmt.Errorf("GET %q: %w", key, err)
				}
				parts = []string{v}
			case "hash":
				m, err := c.HGetAll(ctx, key).Result()
				if err != nil {
					return fmt.Errorf("HGETALL %q: %w", key, err)
				}
				for k, v := range m {
					parts = append(parts, k, v)
				}
			case "list":
				if parts, err = c.LRange(ctx, key, 0, -1).Result(); err != nil {
					return fmt.Errorf("LRANGE %q: %w", key, err)
				}
			case "set":
				if parts, err = c.SMembers(ctx, key).Result(); err != nil {
					return fmt.Errorf("SMEMBERS %q: %w", key, err)
				}
			case "zset":
				zs, err := c.ZRangeWithScores(ctx, key, 0, -1).Result()
				if err != nil {
					return fmt.Errorf("ZRANGE %q: %w", key, err)
				}
				for _, z := range zs {
					parts = append(parts, fmt.Sprint(z.Member), fmt.Sprint(z.Score))
				}
			case "stream":
				xs, err := c.XRange(ctx, key, "-", "+").Result()
				if err != nil {
					return fmt.Errorf("XRANGE %q: %w", key, err)
				}
				for _, x := range xs {
					parts = append(parts, x.ID, fmt.Sprint(x.Values))
				}
			case "none": // expired meanwhile (a lock)
			default:
				return fmt.Errorf("key %q has type %s, which the scan cannot read", key, typ)
			}
			// Each item on its own, so a number cannot straddle two.
			for _, p := range parts {
				s.scan("redis values", where, []byte(p))
			}
		}
		return iter.Err()
	}
	return namespace.ForEachMaster(ctx, rdb, scanNode)
}

// clickhouse scans every row of every table in the store's database, each
// value as text.
// selectList is what SELECT * reads of table (its ordinary columns), with
// aggregate-function states finalized: the driver cannot read a state, and
// its value is what the scan must see.
func selectList(ctx context.Context, store *analytics.Store, table string) (string, error) {
	rows, err := store.Conn().Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = ? AND default_kind NOT IN ('MATERIALIZED', 'ALIAS')",
		store.Database(), table)
	if err != nil {
		return "", fmt.Errorf("listing the columns of %s: %w", table, err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return "", fmt.Errorf("listing the columns of %s: %w", table, err)
		}
		col := "`" + name + "`"
		if strings.HasPrefix(typ, "AggregateFunction(") {
			col = "finalizeAggregation(" + col + ")"
		}
		cols = append(cols, col)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("listing the columns of %s: %w", table, err)
	}
	if len(cols) == 0 {
		return "", fmt.Errorf("table %s has no columns to read", table)
	}
	return strings.Join(cols, ", "), nil
}

func (s *privacyScan) clickhouse(ctx context.Context, store *analytics.Store) error {
	rows, err := store.Conn().Query(ctx, "SELECT name FROM system.tables WHERE database = '"+store.Database()+"'")
	if err != nil {
		return fmt.Errorf("listing tables: %w", err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, table := range tables {
		where := "clickhouse " + table
		s.volume[where] += 0
		cols, err := selectList(ctx, store, table)
		if err != nil {
			return err
		}
		rows, err := store.Conn().Query(ctx, "SELECT "+cols+" FROM `"+table+"`")
		if err != nil {
			return fmt.Errorf("reading table %s: %w", table, err)
		}
		cts := rows.ColumnTypes()
		for rows.Next() {
			vals := make([]any, len(cts))
			for i, ct := range cts {
				vals[i] = reflect.New(ct.ScanType()).Interface()
			}
			if err := rows.Scan(vals...); err != nil {
				rows.Close()
				return fmt.Errorf("reading table %s: %w", table, err)
			}
			var b bytes.Buffer
			for _, v := range vals {
				fmt.Fprint(&b, reflect.ValueOf(v).Elem().Interface())
				b.WriteByte('\t')
			}
			s.scan(where, where, b.Bytes())
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading table %s: %w", table, err)
		}
	}
	return nil
}

func privacyPlantMessage(ctx context.Context, cfg *pipeline.Config, topic, value string) error {
	if err := cfg.EnsureTopics(ctx, topic); err != nil {
		return err
	}
	w, err := cfg.NewWriter(pipeline.WriterOptions{})
	if err != nil {
		return err
	}
	defer w.Close()
	return w.WriteMessages(ctx, kafka.Message{Topic: topic, Value: []byte(value)})
}

func privacyPlantRow(ctx context.Context, store *analytics.Store, table, value string) error {
	if err := store.Conn().Exec(ctx, "CREATE TABLE IF NOT EXISTS `"+table+"` (s String) ENGINE = Memory"); err != nil {
		return fmt.Errorf("creating %s: %w", table, err)
	}
	batch, err := store.Conn().PrepareBatch(ctx, "INSERT INTO `"+table+"` (s)")
	if err != nil {
		return fmt.Errorf("inserting into %s: %w", table, err)
	}
	if err := batch.Append(value); err != nil {
		return err
	}
	return batch.Send()
}

func privacyTail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
