package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/idlink/idlink/analytics/dashboard"
	"github.com/idlink/idlink/consumers/identity"
	"github.com/idlink/idlink/documents"
	"github.com/idlink/idlink/internal/stacktest"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/producers"
	"github.com/idlink/idlink/schemas"
)

// reviewStack is a namespace of the local stack whose resolver state holds
// the review scenario (reviewLines).
type reviewStack struct {
	ctx     context.Context
	store   identity.Store
	numbers []string          // every document number of the scenario, as written and normalised
	persons map[string]string // the scenario's persons by name (see reviewLines), as the resolver named them
}

// reviewDocs are the scenario's documents by name, with their numbers as
// written.
var reviewDocs = map[string][2]string{
	"rpA":  {"residence_permit", gbNumber("81000019900211001")},
	"rpA2": {"residence_permit", gbNumber("81000019900211002")},
	"mtp":  {"mainland_travel_permit", "H12345678"},
	"hk":   {"hkid", "A123456(3)"},
	"pp":   {"passport", "P1234567"},
	"ttp":  {"taiwan_travel_permit", "12345678"},
}

// reviewLines: a1 creates A (rpA, mtp); b1 creates B (hk); s1 creates C
// (pp, ttp); m1 merges B into A; c1 would give A a second residence
// permit and is held (rpA2 stays a person of its own, D); c2 gives A a
// second birth date and is held; r1 withdraws s1, so C splits into C (pp)
// and E (ttp).
func reviewLines() []string {
	ev := func(id, typ, agency, day, person, docs, attrs string) string {
		var ds []string
		for _, name := range strings.Fields(docs) {
			d := reviewDocs[name]
			ds = append(ds, `{"type":"`+d[0]+`","number":"`+d[1]+`"}`)
		}
		return `{"event_id":"` + id + `","type":"` + typ + `","agency":"` + agency + `","occurred_at":"2025-03-` + day + `T09:00:00+08:00",` +
			person + `"documents":[` + strings.Join(ds, ",") + `],"attrs":{` + attrs + `}}`
	}
	return []string{
		ev("a1", "residence_permit.issued", "mps", "01", "", "rpA mtp", ""),
		ev("b1", "identity.verified", "platform", "02", "", "hk", `"relying_party":"bank","outcome":"passed"`),
		ev("s1", "travel_permit.issued", "nia", "03", "", "pp ttp", ""),
		ev("m1", "insurance.code_activated", "nhsa", "04", "", "mtp hk", `"channel":"offline"`),
		ev("c1", "insurance.code_activated", "nhsa", "05", "", "rpA2 hk", `"channel":"online"`),
		ev("c2", "identity.verified", "platform", "06", `"person":{"birth_date":"1985-01-01"},`, "mtp", `"relying_party":"telecom","outcome":"passed"`),
		ev("r1", "link.retracted", "nhsa", "07", "", "", `"retracts":"s1"`),
	}
}

// newReviewStack produces the scenario and runs the resolver until it has
// committed every event.
func newReviewStack(t *testing.T) *reviewStack {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	cfg := stacktest.Config(t)
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.EnsureTopics(ctx, cfg.Topics().All()...); err != nil {
		t.Fatal(err)
	}
	resolve(ctx, t, cfg, codec, reviewLines())
	rdb, err := cfg.Redis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	rs := &reviewStack{ctx: ctx, store: identity.NewRedisStore(rdb, cfg.RedisPrefix, 0), persons: map[string]string{}}

	ps := producers.NewPseudonymizer(cfg.PseudonymKey)
	token := map[string]string{}
	for name, d := range reviewDocs {
		typ, _ := documents.ParseType(d[0])
		v, err := documents.Validate(typ, d[1])
		if err != nil {
			t.Fatalf("the scenario's %s: %v", name, err)
		}
		rs.numbers = append(rs.numbers, d[1], v.Number)
		token[name] = ps.Token(v.Type, v.Number)
	}
	for person, doc := range map[string]string{"A": "rpA", "C": "pp", "D": "rpA2", "E": "ttp"} {
		p, err := identity.LookupDocument(ctx, rs.store, token[doc])
		if err != nil || p == nil {
			t.Fatalf("no person holds %s (%v): the resolver did not commit the scenario", doc, err)
		}
		rs.persons[person] = p.PersonID
	}
	a := rs.explain(t, rs.persons["A"])
	if got := dids(a); got != "a1:created b1:created m1:merged c1:held c2:held" {
		t.Fatalf("A's explanation is %s: the scenario does not do what the test expects", got)
	}
	rs.persons["B"] = a.Events[2].Merged[0].PersonID
	return rs
}

// explain is identity.ExplainPerson, failing the test on an error or an
// unknown id.
func (rs *reviewStack) explain(t *testing.T, id string) *identity.Explanation {
	t.Helper()
	x, err := identity.ExplainPerson(rs.ctx, rs.store, id)
	if err != nil || x == nil {
		t.Fatalf("explaining %s: %v %v", id, x, err)
	}
	return x
}

// checkNoNumbers fails the test when s holds a document number of the
// scenario.
func (rs *reviewStack) checkNoNumbers(t *testing.T, what, s string) {
	t.Helper()
	for _, n := range rs.numbers {
		if strings.Contains(s, n) {
			t.Errorf("%s holds the document number %s", what, n)
		}
	}
}

// wantQueue is the queue /api/conflicts must answer, from ListConflicts
// (oldest first; the scenario's times need no finer order) and each held
// event's step in ExplainPerson of its person.
func (rs *reviewStack) wantQueue(t *testing.T) []dashboard.ReviewConflict {
	t.Helper()
	list, err := identity.ListConflicts(rs.ctx, rs.store)
	if err != nil {
		t.Fatal(err)
	}
	var want []dashboard.ReviewConflict
	for _, c := range slices.Backward(list) {
		rc := dashboard.ReviewConflict{ConflictRecord: c}
		for _, s := range rs.explain(t, c.PersonID).Events {
			if s.EventID == c.EventID {
				rc.Type, rc.Agency = s.Type, s.Agency
			}
		}
		want = append(want, rc)
	}
	return want
}

func dids(x *identity.Explanation) string {
	var b []string
	for _, s := range x.Events {
		b = append(b, s.EventID+":"+s.Did)
	}
	return strings.Join(b, " ")
}

// TestReviewEndpoints: /api/conflicts is ListConflicts newest first with
// each held event's type and agency from ExplainPerson; /api/why is
// ExplainPerson encoded as `idlink why --json` prints it; bad requests are
// 400, 404 and 405; no answer holds a document number.
func TestReviewEndpoints(t *testing.T) {
	rs := newReviewStack(t)
	srv := httptest.NewServer(dashboard.NewHandler(dashboard.Options{Reports: &fakeSource{}, Identity: rs.store,
		Log: slog.New(slog.NewTextHandler(t.Output(), nil))}))
	defer srv.Close()
	do := func(method, path string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(rs.ctx, method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if method != http.MethodHead && res.StatusCode != http.StatusMethodNotAllowed && !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: Content-Type %q, want JSON", method, path, res.Header.Get("Content-Type"))
		}
		rs.checkNoNumbers(t, method+" "+path, string(b))
		return res.StatusCode, string(b)
	}

	want := rs.wantQueue(t)
	if len(want) != 2 {
		t.Fatalf("ListConflicts has %d conflicts, want c1 and c2", len(want))
	}
	// What the scenario says, so that the comparison below compares something.
	c2, c1 := want[0], want[1]
	if c2.EventID != "c2" || c2.Type != "identity.verified" || c2.Agency != "platform" || c2.Reason != identity.ReasonBirthDate || c2.PersonID != rs.persons["A"] || c2.OtherPersonID != "" {
		t.Errorf("c2 in the queue: %+v", c2)
	}
	if c1.EventID != "c1" || c1.Type != "insurance.code_activated" || c1.Agency != "nhsa" || c1.DocType != "residence_permit" || c1.PersonID != rs.persons["D"] || c1.OtherPersonID != rs.persons["A"] {
		t.Errorf("c1 in the queue: %+v", c1)
	}
	for _, tt := range []struct {
		query string
		want  []dashboard.ReviewConflict
	}{
		{"", want},
		{"?limit=1", want[:1]},
		{"?limit=1000", want},
	} {
		code, body := do(http.MethodGet, "/api/conflicts"+tt.query)
		var got dashboard.ConflictQueue
		if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
			t.Fatalf("GET /api/conflicts%s: %d %s (%v)", tt.query, code, body, err)
		}
		if got.Total != len(want) || !reflect.DeepEqual(got.Conflicts, tt.want) {
			t.Errorf("GET /api/conflicts%s:\n got  %+v\n want total %d, %+v", tt.query, got, len(want), tt.want)
		}
		if !strings.Contains(body, `"agency":"platform"`) || !strings.Contains(body, `"type":"identity.verified"`) || !strings.Contains(body, `"other_person_id":`) {
			t.Errorf("GET /api/conflicts%s lacks a field: %s", tt.query, body)
		}
	}

	// Every person, and B's merged-away id, explained exactly as `idlink
	// why --json --person-id` prints it.
	for name, id := range rs.persons {
		var enc bytes.Buffer
		if err := json.NewEncoder(&enc).Encode(rs.explain(t, id)); err != nil {
			t.Fatal(err)
		}
		code, body := do(http.MethodGet, "/api/why?person_id="+url.QueryEscape(id))
		if code != 200 || body != enc.String() {
			t.Errorf("GET /api/why for %s (%s): %d\n got  %s\n want %s", name, id, code, body, enc.String())
		}
	}
	if x := rs.explain(t, rs.persons["B"]); x.PersonID != rs.persons["A"] {
		t.Errorf("B's merged-away id explains %s, want A (%s)", x.PersonID, rs.persons["A"])
	}
	if got := dids(rs.explain(t, rs.persons["C"])); got != "s1:withdrawn" {
		t.Errorf("C's explanation: %s, want s1 withdrawn", got)
	}

	for _, tt := range []struct {
		method, path string
		status       int
		says         string
	}{
		{"GET", "/api/why", 400, "person_id is required"},
		{"GET", "/api/why?person_id=", 400, "person_id is required"},
		{"GET", "/api/why?person_id=" + strings.Repeat("p", 300), 400, "longer than 256 bytes"},
		{"GET", "/api/why?person_id=p-0000", 404, `unknown person \"p-0000\"`},
		{"GET", "/api/conflicts?limit=0", 400, "limit must be"},
		{"GET", "/api/conflicts?limit=1001", 400, "limit must be"},
		{"GET", "/api/conflicts?limit=ten", 400, `not \"ten\"`},
		{"POST", "/api/why?person_id=" + rs.persons["A"], 405, ""},
		{"DELETE", "/api/conflicts", 405, ""},
		{"HEAD", "/api/conflicts", 200, ""},
		{"HEAD", "/api/why?person_id=" + rs.persons["A"], 200, ""},
		{"GET", "/api/whom", 404, "/api/why?person_id=ID"},
	} {
		code, body := do(tt.method, tt.path)
		if code != tt.status || !strings.Contains(body, tt.says) {
			t.Errorf("%s %s: %d %s, want %d saying %q", tt.method, tt.path, code, body, tt.status, tt.says)
		}
	}

	for _, path := range []string{"/review", "/static/review.js", "/static/review.css"} {
		res, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), "review") {
			t.Errorf("GET %s: %d", path, res.StatusCode)
		}
	}
}

// TestReviewWithoutStore: a handler without the resolver's store serves the
// page and answers the review's endpoints 503 (bad parameters still 400).
func TestReviewWithoutStore(t *testing.T) {
	h := dashboard.Handler(&fakeSource{rows: sampleRows()}, nil, nil)
	for _, tt := range []struct {
		path   string
		status int
		says   string
	}{
		{"/api/conflicts", 503, "without the resolver's store"},
		{"/api/why?person_id=p-1", 503, "without the resolver's store"},
		{"/api/why", 400, "person_id is required"},
		{"/api/conflicts?limit=-1", 400, "limit must be"},
		{"/review", 200, `<script src="static/review.js" defer></script>`},
		{"/", 200, `<a href="review">`},
	} {
		res := get(t, h, http.MethodGet, tt.path)
		if got := body(t, res); res.StatusCode != tt.status || !strings.Contains(got, tt.says) {
			t.Errorf("GET %s: %d %q, want %d saying %q", tt.path, res.StatusCode, truncate(got), tt.status, tt.says)
		}
	}
}

var (
	tokenRE  = regexp.MustCompile(`data-token="([^"]*)"`)
	markedRE = regexp.MustCompile(`\bclass="[^"]*\bmarked\b`)
)

// cellTexts are the texts of a row's cells.
func cellTexts(row string) []string {
	var cells []string
	for _, td := range tdRE.FindAllStringSubmatch(row, -1) {
		cells = append(cells, strings.TrimSpace(html.UnescapeString(tagRE.ReplaceAllString(td[1], ""))))
	}
	return cells
}

// or is s, or a dash when s is empty (as the page shows it).
func or(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func tokensOf(ds []identity.DocumentSummary) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Token)
	}
	return out
}

// TestReviewInChromium opens the review page in headless Chromium on the
// resolver's state of the review scenario: the queue shows every conflict
// newest first, the explanation of the person in the address shows
// ExplainPerson's events (a merged-away id its survivor's, an unknown id an
// error), nothing holds a document number; then it takes a screenshot.
func TestReviewInChromium(t *testing.T) {
	bin := chromiumBin(t)
	rs := newReviewStack(t)
	srv := httptest.NewServer(dashboard.NewHandler(dashboard.Options{Reports: &fakeSource{}, Identity: rs.store,
		Log: slog.New(slog.NewTextHandler(t.Output(), nil))}))
	defer srv.Close()
	queue := rs.wantQueue(t)
	a := rs.explain(t, rs.persons["A"])
	dir := t.TempDir()

	for _, tt := range []struct {
		name     string
		fragment string
		explains *identity.Explanation // nil: an error
		marked   string                // the event marked
	}{
		{"held event of A", "#person=" + rs.persons["A"] + "&event=c1", a, "c1"},
		{"merged-away B", "#person=" + rs.persons["B"], a, ""},
		{"withdrawn link of C", "#person=" + rs.persons["C"], rs.explain(t, rs.persons["C"]), ""},
		{"unknown person", "#person=p-0000", nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dom, logs := runChromium(rs.ctx, t, bin, filepath.Join(dir, "profile-"+strings.ReplaceAll(tt.name, " ", "-")),
				"--virtual-time-budget=5000", "--dump-dom", srv.URL+"/review"+tt.fragment)
			rs.checkNoNumbers(t, "the page's DOM", dom)
			sections := map[string][2]string{} // id -> attributes, inner HTML
			for _, m := range sectionRE.FindAllStringSubmatch(dom, -1) {
				sections[attrs(m[1])["id"]] = [2]string{m[1], m[2]}
			}
			checkQueueDOM(t, sections["conflicts"], queue)
			checkExplanationDOM(t, sections["explanation"], tt.explains, tt.marked)
			for _, line := range strings.Split(logs, "\n") {
				// A 404 the page asked for and shows is no error of the page.
				if strings.Contains(line, ":CONSOLE") && !(tt.explains == nil && strings.Contains(line, "404")) {
					t.Errorf("browser console: %s", line)
				}
			}
			if t.Failed() {
				t.Logf("chromium log:\n%s", logs)
				t.Logf("DOM:\n%s", dom)
			}
		})
	}

	shot := filepath.Join(dir, "review.png")
	_, logs := runChromium(rs.ctx, t, bin, filepath.Join(dir, "profile-shot"), "--virtual-time-budget=5000",
		"--screenshot="+shot, "--window-size=1400,1800", srv.URL+"/review#person="+rs.persons["A"]+"&event=c1")
	checkScreenshot(t, shot, logs)
	if out := os.Getenv("IDLINK_SCREENSHOT_DIR"); out != "" {
		b, err := os.ReadFile(shot)
		if err == nil {
			err = os.MkdirAll(out, 0o755)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(out, "review.png"), b, 0o644)
		}
		if err != nil {
			t.Fatalf("copying the screenshot to IDLINK_SCREENSHOT_DIR=%s: %v", out, err)
		}
		t.Logf("screenshot: %s", filepath.Join(out, "review.png"))
	} else {
		t.Logf("screenshot: %s (set IDLINK_SCREENSHOT_DIR to keep it)", shot)
	}
}

// checkQueueDOM checks the queue's section shows want, row by row.
func checkQueueDOM(t *testing.T, section [2]string, want []dashboard.ReviewConflict) {
	t.Helper()
	a := attrs(section[0])
	if a["data-ready"] != "true" || a["data-total"] != fmt.Sprint(len(want)) || a["data-shown"] != fmt.Sprint(len(want)) {
		t.Errorf("queue: data-ready=%q data-total=%q data-shown=%q data-error=%q, want ready with %d", a["data-ready"], a["data-total"], a["data-shown"], a["data-error"], len(want))
	}
	body := tbodyRE.FindStringSubmatch(section[1])
	if body == nil {
		t.Fatal("the queue has no table body")
	}
	rows := trRE.FindAllStringSubmatch(body[1], -1)
	if len(rows) != len(want) {
		t.Fatalf("the queue shows %d rows, want %d", len(rows), len(want))
	}
	for i, w := range want {
		got := cellTexts(rows[i][2])
		sides := w.PersonID
		if w.OtherPersonID != "" {
			sides += "vs " + w.OtherPersonID
		}
		cells := []string{w.OccurredAt, w.EventID, or(w.Type), or(w.Agency), w.Reason, or(w.DocType), sides}
		if len(got) != len(cells)+1 || !reflect.DeepEqual(got[:len(cells)], cells) {
			t.Errorf("queue row %d:\n got  %q\n want %q and the documents", i, got, cells)
			continue
		}
		var tokens []string
		for _, m := range tokenRE.FindAllStringSubmatch(tdRE.FindAllStringSubmatch(rows[i][2], -1)[len(cells)][1], -1) {
			tokens = append(tokens, m[1])
		}
		if !slices.Equal(tokens, tokensOf(w.Documents)) {
			t.Errorf("queue row %d shows documents %v, want %v", i, tokens, tokensOf(w.Documents))
		}
		for _, id := range []string{w.PersonID, w.OtherPersonID} {
			if id != "" && !strings.Contains(rows[i][2], `href="#person=`+id+`&amp;event=`+w.EventID+`"`) {
				t.Errorf("queue row %d does not link to the explanation of %s at %s", i, id, w.EventID)
			}
		}
	}
}

// checkExplanationDOM checks the explanation's section shows want (nil:
// an error), its event marked marked.
func checkExplanationDOM(t *testing.T, section [2]string, want *identity.Explanation, marked string) {
	t.Helper()
	a := attrs(section[0])
	if want == nil {
		if a["data-ready"] == "true" || !strings.Contains(a["data-error"], "unknown person") {
			t.Errorf("explanation of an unknown person: data-ready=%q data-error=%q, want the 404's error", a["data-ready"], a["data-error"])
		}
		return
	}
	if a["data-ready"] != "true" || a["data-person-id"] != want.PersonID || a["data-events"] != fmt.Sprint(len(want.Events)) {
		t.Errorf("explanation: data-ready=%q data-person-id=%q data-events=%q data-error=%q, want %s with %d events",
			a["data-ready"], a["data-person-id"], a["data-events"], a["data-error"], want.PersonID, len(want.Events))
	}
	parts := strings.SplitN(section[1], "<tbody>", 2)
	var shown []string
	for _, m := range tokenRE.FindAllStringSubmatch(parts[0], -1) {
		shown = append(shown, m[1])
	}
	if !slices.Equal(shown, tokensOf(want.Documents)) {
		t.Errorf("explanation shows the person's documents %v, want %v", shown, tokensOf(want.Documents))
	}
	body := tbodyRE.FindStringSubmatch(section[1])
	if body == nil {
		t.Fatal("the explanation has no table body")
	}
	rows := trRE.FindAllStringSubmatch(body[1], -1)
	if len(rows) != len(want.Events) {
		t.Fatalf("the explanation shows %d events, want %d", len(rows), len(want.Events))
	}
	for i, s := range want.Events {
		ra := attrs(rows[i][1])
		got := cellTexts(rows[i][2])
		cells := []string{s.OccurredAt, s.EventID, or(s.Type), or(s.Agency), s.Did}
		if ra["data-event-id"] != s.EventID || ra["data-did"] != s.Did || len(got) < len(cells) || !reflect.DeepEqual(got[:len(cells)], cells) {
			t.Errorf("explanation row %d: %v %q, want %q", i, ra, got, cells)
		}
		if m := markedRE.MatchString(rows[i][1]); m != (s.EventID == marked) {
			t.Errorf("explanation row %d (%s) marked %v, want only %q marked", i, s.EventID, m, marked)
		}
		if s.Did == identity.DidHeld && !strings.Contains(got[len(got)-1], s.Reason) {
			t.Errorf("explanation row %d (held) does not give the reason %s: %q", i, s.Reason, got[len(got)-1])
		}
	}
}

// resolve publishes JSON Lines events with the producer library and runs
// the resolver in this process until it has committed all of them.
func resolve(ctx context.Context, t *testing.T, cfg *pipeline.Config, codec *schemas.Codec, lines []string) {
	t.Helper()
	p, err := producers.New(ctx, cfg, codec, producers.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.ProduceFile(ctx, strings.NewReader(strings.Join(lines, "\n")+"\n"), "review-test")
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.Rejected != 0 {
		t.Fatalf("the producer rejected %d of the test's events: %+v", res.Rejected, res)
	}
	log := slog.New(slog.DiscardHandler)
	rc, err := identity.NewConsumer(ctx, cfg, codec, pipeline.NewMetrics(), log)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	o := rc.Options()
	o.Logger = log
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cfg.RunConsumer(rctx, o, rc) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the resolver: %v", err)
		}
	}()
	for {
		ok, err := cfg.CaughtUp(ctx, o.Group, o.Topics)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal("the resolver did not catch up")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// gbNumber appends the GB 11643 check character.
func gbNumber(first17 string) string {
	w := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, x := range w {
		sum += int(first17[i]-'0') * x
	}
	return first17 + string("10X98765432"[sum%11])
}
