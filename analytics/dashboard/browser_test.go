package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"image/png"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/analytics/dashboard"
	"github.com/idlink/idlink/internal/stacktest"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/schemas"
)

// docType is the type of a document of the browser test's dataset (tokens
// stand in for keyed hashes). Person P1 holds rp1, mtp1 and hk1 (a merge),
// P2 holds rp2, P3 holds pp1 and rp3; ttp1 was never named by an identity
// change, so it is a person of its own.
func docType(token string) string {
	return map[string]string{
		"rp1": "residence_permit", "rp2": "residence_permit", "rp3": "residence_permit",
		"mtp1": "mainland_travel_permit", "hk1": "hkid", "pp1": "passport", "ttp1": "taiwan_travel_permit",
	}[token]
}

// dashboardEvents are the events the browser test inserts; a1 is inserted
// twice (a redelivery), which must not count twice. Events are in region
// 440700 (Guangdong) but for a2 (Macao), a3 (Beijing) and a6 (none).
func dashboardEvents(t *testing.T) []*schemas.Event {
	t.Helper()
	regions := map[string]string{"a2": "820000", "a3": "110105", "a6": ""}
	cst := time.FixedZone("+08:00", 8*3600)
	ev := func(id, typ, agency, at string, attrs map[string]string, tokens ...string) *schemas.Event {
		occurred, err := time.ParseInLocation("2006-01-02 15:04", at, cst)
		if err != nil {
			t.Fatal(err)
		}
		region, ok := regions[id]
		if !ok {
			region = "440700"
		}
		e := &schemas.Event{EventID: id, Type: typ, Agency: agency, OccurredAt: occurred, Region: region, Attrs: attrs, ProducedAt: occurred}
		for _, tok := range tokens {
			e.Documents = append(e.Documents, schemas.DocumentRef{Type: docType(tok), Token: tok})
		}
		return e
	}
	act := func(id, at, channel string, tokens ...string) *schemas.Event {
		return ev(id, "insurance.code_activated", "nhsa", at, map[string]string{"channel": channel}, tokens...)
	}
	verify := func(id, rp, outcome, reason, token string) *schemas.Event {
		attrs := map[string]string{"relying_party": rp, "outcome": outcome}
		if reason != "" {
			attrs["reason"] = reason
		}
		return ev(id, "identity.verified", "platform", "2025-03-12 12:00", attrs, token)
	}
	return []*schemas.Event{
		act("a1", "2025-03-10 09:00", "offline", "rp1"),
		act("a1", "2025-03-10 09:00", "offline", "rp1"),
		act("a2", "2025-03-10 10:00", "online", "rp2"),
		act("a3", "2025-03-11 09:00", "online", "mtp1"),
		act("a7", "2025-03-11 09:30", "offline", "rp3"),
		act("a8", "2025-03-11 15:00", "offline", "rp3"),
		act("a4", "2025-03-12 09:00", "offline", "rp1"),
		act("a5", "2025-03-12 10:00", "offline", "hk1", "mtp1"),
		act("a6", "2025-03-12 01:00", "online", "ttp1"), // 2025-03-11 in UTC, 03-12 where it happened
		verify("v1", "ride_hailing", "rejected", "document_type_not_supported", "rp1"),
		verify("v2", "ride_hailing", "rejected", "document_type_not_supported", "rp2"),
		verify("v3", "ride_hailing", "passed", "", "mtp1"),
		verify("v4", "bank", "rejected", "document_type_not_supported", "rp3"),
		verify("v5", "bank", "rejected", "name_mismatch", "pp1"),
		verify("v6", "bank", "passed", "", "rp2"),
		verify("v7", "telecom", "rejected", "document_expired", "hk1"),
		ev("e1", "insurance.enrolled", "nhsa", "2025-03-09 09:00", map[string]string{"scheme": "employee"}, "rp1"),
		ev("d1", "driver_qualification.registered", "mot", "2025-03-13 09:00", map[string]string{"outcome": "accepted"}, "rp3"),
		ev("d2", "driver_qualification.registered", "mot", "2025-03-13 10:00", map[string]string{"outcome": "rejected", "reason": "document_type_not_supported"}, "mtp1"),
	}
}

// dashboardChanges are the identity changes behind the persons above.
func dashboardChanges() []*schemas.IdentityChange {
	at := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	person := func(id string, tokens ...string) schemas.PersonState {
		p := schemas.PersonState{PersonID: id}
		for _, tok := range tokens {
			p.Documents = append(p.Documents, schemas.PersonDocument{Type: docType(tok), Token: tok})
		}
		return p
	}
	return []*schemas.IdentityChange{
		{ChangeID: "c1", Kind: schemas.ChangeCreated, EventID: "r1", OccurredAt: at, PersonID: "P1", Revision: 1, Persons: []schemas.PersonState{person("P1", "rp1")}},
		{ChangeID: "c2", Kind: schemas.ChangeMerged, EventID: "r2", OccurredAt: at, PersonID: "P1", Revision: 2, Persons: []schemas.PersonState{person("P1", "rp1", "mtp1", "hk1")}},
		{ChangeID: "c3", Kind: schemas.ChangeCreated, EventID: "r3", OccurredAt: at, PersonID: "P2", Revision: 3, Persons: []schemas.PersonState{person("P2", "rp2")}},
		{ChangeID: "c4", Kind: schemas.ChangeCreated, EventID: "r4", OccurredAt: at, PersonID: "P3", Revision: 4, Persons: []schemas.PersonState{person("P3", "pp1", "rp3")}},
	}
}

// panelWant is what one dashboard panel must show for the dataset.
type panelWant struct {
	report string     // the report it draws
	rows   [][]string // its table, as displayed
}

// wantPanels is what the dashboard must show, worked out by hand from
// dashboardEvents and dashboardChanges, by panel id.
func wantPanels() map[string]panelWant {
	return map[string]panelWant{
		"activations-over-time": {"activations-over-time", [][]string{
			{"2025-03-10", "residence_permit", "offline", "1"},
			{"2025-03-10", "residence_permit", "online", "1"},
			{"2025-03-11", "mainland_travel_permit", "online", "1"},
			{"2025-03-11", "residence_permit", "offline", "2"},
			{"2025-03-12", "hkid", "offline", "1"},
			{"2025-03-12", "mainland_travel_permit", "offline", "1"},
			{"2025-03-12", "residence_permit", "offline", "1"},
			{"2025-03-12", "taiwan_travel_permit", "online", "1"},
		}},
		"activations-by-doc-type": {"activations-by-doc-type", [][]string{
			{"hkid", "offline", "1", "1"},
			{"mainland_travel_permit", "offline", "1", "1"},
			{"mainland_travel_permit", "online", "1", "1"},
			{"residence_permit", "offline", "4", "2"}, // a1 a4 (P1), a7 a8 (P3)
			{"residence_permit", "online", "1", "1"},
			{"taiwan_travel_permit", "online", "1", "1"},
		}},
		"verification-rejections": {"verifications", [][]string{ // relying_party, doc_type, reason, events
			{"bank", "passport", "name_mismatch", "1"},
			{"bank", "residence_permit", "document_type_not_supported", "1"},
			{"ride_hailing", "residence_permit", "document_type_not_supported", "2"},
			{"telecom", "hkid", "document_expired", "1"},
		}},
		"linked-persons": {"linked-persons", [][]string{
			{"1", "2"}, // P2, and ttp1 on its own
			{"2", "1"}, // P3
			{"3", "1"}, // P1
		}},
		"service-acceptance": {"service-acceptance", [][]string{ // highlighted: rejected only
			{"bank", "passport", "0", "1", "0%"},
			{"bank", "residence_permit", "1", "1", "50%"},
			{"driver_qualification.registered", "mainland_travel_permit", "0", "1", "0%"},
			{"driver_qualification.registered", "residence_permit", "1", "0", "100%"},
			{"ride_hailing", "mainland_travel_permit", "1", "0", "100%"},
			{"ride_hailing", "residence_permit", "0", "2", "0%"},
			{"telecom", "hkid", "0", "1", "0%"},
		}},
		"blocked-but-linked": {"blocked-but-linked", [][]string{
			{"bank", "passport", "residence_permit", "1"},                                          // P3 (pp1 rejected, holds rp3)
			{"driver_qualification.registered", "mainland_travel_permit", "residence_permit", "1"}, // P1 (mtp1 rejected, holds rp1)
			{"ride_hailing", "residence_permit", "mainland_travel_permit", "1"},                    // P1 (rp1 rejected, holds mtp1); P2 holds rp2 only
		}},
		"activations-by-region": {"activations-by-region", [][]string{
			{"—", "—", "online", "1", "1"},           // a6
			{"11", "Beijing", "online", "1", "1"},    // a3
			{"44", "Guangdong", "offline", "5", "2"}, // a1 a4 a5 (P1), a7 a8 (P3)
			{"82", "Macao", "online", "1", "1"},      // a2
		}},
	}
}

// chromiumFlags run Debian's Chromium headless and offline, logging the
// page's console to stderr. Callers add --virtual-time-budget, so the page's
// fetches, drawing and refreshes run before the DOM or screenshot is taken.
func chromiumFlags(profile string) []string {
	return []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1", "--lang=en-US",
		"--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0",
	}
}

// chromiumBin finds Debian's Chromium or fails the test saying how to get it.
func chromiumBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found (%v): `make deps` installs it (bash compose/install-chromium.sh)", err)
	}
	return bin
}

// TestDashboardInChromium serves the dashboard over HTTPS, as `idlink serve`
// does with the local stack's certificate (IDLINK_TLS_CERT_FILE), from a
// ClickHouse database of the stack holding a known dataset, loads it in
// headless Chromium trusting only the stack's CA besides its own roots, and
// checks every chart and table, then takes a screenshot.
func TestDashboardInChromium(t *testing.T) {
	bin := chromiumBin(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	cfg := stacktest.Config(t)
	store, err := analytics.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("opening ClickHouse: %v", err)
	}
	t.Cleanup(func() {
		if os.Getenv("IDLINK_TEST_KEEP_DB") == "" {
			dctx, dcancel := context.WithTimeout(context.Background(), time.Minute)
			defer dcancel()
			if err := store.Conn().Exec(dctx, "DROP DATABASE IF EXISTS `"+store.Database()+"`"); err != nil {
				t.Logf("dropping test database %s: %v", store.Database(), err)
			}
		}
		store.Close()
	})
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	now := time.Now()
	if err := store.InsertEvents(ctx, dashboardEvents(t), now); err != nil {
		t.Fatal(err)
	}
	if err := store.InsertChanges(ctx, dashboardChanges(), now); err != nil {
		t.Fatal(err)
	}
	checkReports(ctx, t, store)

	url := serveTLS(t, cfg, dashboard.Handler(store, pipeline.NewMetrics(), slog.New(slog.NewTextHandler(t.Output(), nil))))
	stacktest.CheckStackCertificate(t, cfg, url)
	ca := stacktest.CAFile(t, cfg)

	dir := t.TempDir()
	trustCA(t, filepath.Join(dir, "profile-dom"), ca)
	dom, logs := runChromium(ctx, t, bin, filepath.Join(dir, "profile-dom"), "--virtual-time-budget=10000", "--dump-dom", url)
	if t.Failed() || !strings.Contains(dom, `id="linked-persons"`) {
		t.Fatalf("chromium printed no dashboard DOM:\n%s\nlog:\n%s", dom, logs)
	}
	checkDOM(t, dom)
	// The page logs nothing when all is well: a line here is a script
	// error, a failed request or a Content-Security-Policy violation.
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, ":CONSOLE") {
			t.Errorf("browser console: %s", line)
		}
	}
	if t.Failed() {
		t.Logf("chromium log:\n%s", logs)
		if err := os.WriteFile(filepath.Join(dir, "dom.html"), []byte(dom), 0o644); err == nil {
			t.Logf("DOM saved to %s", filepath.Join(dir, "dom.html"))
		}
	}

	shot := filepath.Join(dir, "dashboard.png")
	trustCA(t, filepath.Join(dir, "profile-shot"), ca)
	_, logs = runChromium(ctx, t, bin, filepath.Join(dir, "profile-shot"), "--virtual-time-budget=10000",
		"--screenshot="+shot, "--window-size=1400,1800", url)
	checkScreenshot(t, shot, logs)
	if out := os.Getenv("IDLINK_SCREENSHOT_DIR"); out != "" {
		b, err := os.ReadFile(shot)
		if err == nil {
			err = os.MkdirAll(out, 0o755)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(out, "dashboard.png"), b, 0o644)
		}
		if err != nil {
			t.Fatalf("copying the screenshot to IDLINK_SCREENSHOT_DIR=%s: %v", out, err)
		}
		t.Logf("screenshot: %s", filepath.Join(out, "dashboard.png"))
	} else {
		t.Logf("screenshot: %s (set IDLINK_SCREENSHOT_DIR to keep it)", shot)
	}
}

// TestDashboardInChromiumRefreshAndErrors: with ClickHouse failing, every
// panel says so and is not ready; after a failed first round the 10 s
// refresh recovers on its own.
func TestDashboardInChromiumRefreshAndErrors(t *testing.T) {
	bin := chromiumBin(t)
	panels := len(wantPanels())
	tests := []struct {
		name      string
		src       *fakeSource
		budget    string // virtual time the page runs for, ms
		ready     bool
		minRounds int // refresh rounds the page must have fetched
	}{
		{"clickhouse down", &fakeSource{err: analytics.Unreachable("127.0.0.1:9000", errors.New("connection refused"))}, "5000", false, 1},
		{"recovers on refresh", &fakeSource{rows: sampleRows(), failures: panels}, "25000", true, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			srv := httptest.NewServer(dashboard.Handler(tt.src, nil, nil))
			defer srv.Close()
			dom, logs := runChromium(ctx, t, bin, filepath.Join(t.TempDir(), "profile"), "--virtual-time-budget="+tt.budget, "--dump-dom", srv.URL+"/")
			sections := sectionRE.FindAllStringSubmatch(dom, -1)
			if len(sections) != panels {
				t.Fatalf("%d panels in the DOM, want %d; chromium log:\n%s", len(sections), panels, logs)
			}
			for _, m := range sections {
				a := attrs(m[1])
				ready := a["data-ready"] == "true"
				_, hasErr := a["data-error"]
				if ready != tt.ready || hasErr == tt.ready {
					t.Errorf("panel %s: data-ready=%q data-error=%q, want ready=%v and an error only when not ready", a["id"], a["data-ready"], a["data-error"], tt.ready)
				}
				if hasErr && !strings.Contains(a["data-error"], "make up") {
					t.Errorf("panel %s: error %q does not pass on the fix", a["id"], a["data-error"])
				}
				if rounds := tt.src.calls(a["data-report"]); rounds < tt.minRounds {
					t.Errorf("panel %s fetched %s %d times, want at least %d (refresh every 10 s)", a["id"], a["data-report"], rounds, tt.minRounds)
				}
			}
			s := statusRE.FindStringSubmatch(dom)
			if s == nil || strings.Contains(s[1], "error") == tt.ready {
				t.Errorf("status line %v, want an error shown exactly when the reports fail", s)
			}
		})
	}
}

// checkReports compares the reports themselves with wantPanels, so a
// mismatch in the browser is known to be the dashboard's.
func checkReports(ctx context.Context, t *testing.T, store *analytics.Store) {
	t.Helper()
	for id, want := range wantPanels() {
		rows, err := store.Report(ctx, want.report)
		if err != nil {
			t.Fatal(err)
		}
		var got [][]string
		for _, r := range rows {
			if id == "verification-rejections" {
				if r.Get("outcome") != "rejected" {
					continue
				}
				r = analytics.Row{Columns: []string{"relying_party", "doc_type", "reason", "events"},
					Values: []any{r.Get("relying_party"), r.Get("doc_type"), r.Get("reason"), r.Get("events")}}
			}
			cells := make([]string, len(r.Values))
			for i, v := range r.Values {
				cells[i] = displayed(r.Columns[i], v)
			}
			got = append(got, cells)
		}
		if !reflect.DeepEqual(got, want.rows) {
			b, _ := json.Marshal(rows)
			t.Fatalf("report %s on the inserted data is %s; the test expects %v (fix the dataset or the expectations)", want.report, b, want.rows)
		}
	}
}

// displayed is a report value as the dashboard's tables show it: an empty
// string as a dash, a rate as a percentage (the dataset's rates need no
// rounding), anything else as it is.
func displayed(column string, v any) string {
	if f, ok := v.(float64); ok && column == "acceptance_rate" {
		return strconv.FormatFloat(f*100, 'f', -1, 64) + "%"
	}
	if s := fmt.Sprint(v); s != "" {
		return s
	}
	return "—"
}

// serveTLS serves h over HTTPS with cfg's certificate (IDLINK_TLS_CERT_FILE,
// IDLINK_TLS_KEY_FILE) the way `idlink serve` does (pipeline.Config.ServeHTTP)
// until the test ends, and returns its URL. It fails the test when cfg has
// no certificate to serve.
func serveTLS(t *testing.T, cfg *pipeline.Config, h http.Handler) string {
	t.Helper()
	if cfg.HTTPScheme() != "https" {
		t.Fatalf("no IDLINK_TLS_CERT_FILE/IDLINK_TLS_KEY_FILE in the configuration: `make up` writes the local stack's to %s", pipeline.EnvFile)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- cfg.ServeHTTP(srv, ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serving the dashboard over HTTPS: %v", err)
		}
	})
	return "https://" + ln.Addr().String() + "/"
}

// trustCA makes Chromium's certificate database in profile (Chromium runs
// with HOME=profile: profile/.pki/nssdb) and adds the CA in caFile as a
// trusted issuer of server certificates, with NSS's certutil.
func trustCA(t *testing.T, profile, caFile string) {
	t.Helper()
	certutil, err := exec.LookPath("certutil")
	if err != nil {
		t.Fatalf("certutil not found (%v): `make deps` installs it (bash compose/install-chromium.sh, Debian's libnss3-tools)", err)
	}
	db := filepath.Join(profile, ".pki", "nssdb")
	if err := os.MkdirAll(db, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-N", "-d", "sql:" + db, "--empty-password"},
		{"-A", "-d", "sql:" + db, "-t", "C,,", "-n", "idlink local stack CA", "-i", caFile},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// runChromium runs headless Chromium on the page and returns its stdout and
// its log (stderr).
func runChromium(ctx context.Context, t *testing.T, bin, profile string, args ...string) (string, string) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, bin, append(chromiumFlags(profile), args...)...)
	cmd.Env = append(os.Environ(), "HOME="+profile) // no writes outside the test's directory
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Errorf("chromium %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), errb.String()
}

var (
	sectionRE = regexp.MustCompile(`(?s)<section\b([^>]*)>(.*?)</section>`)
	attrRE    = regexp.MustCompile(`([\w-]+)="([^"]*)"`)
	tbodyRE   = regexp.MustCompile(`(?s)<tbody>(.*?)</tbody>`)
	trRE      = regexp.MustCompile(`(?s)<tr\b([^>]*)>(.*?)</tr>`)
	tdRE      = regexp.MustCompile(`(?s)<td\b[^>]*>(.*?)</td>`)
	tagRE     = regexp.MustCompile(`<[^>]*>`)
	calloutRE = regexp.MustCompile(`<p class="callout[^"]*"([^>]*)>`)
	statusRE  = regexp.MustCompile(`(?s)<p id="status"([^>]*)>(.*?)</p>`)
)

func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRE.FindAllStringSubmatch(s, -1) {
		m[a[1]] = html.UnescapeString(a[2])
	}
	return m
}

// checkDOM checks every panel of the dumped DOM: drawn, with as many points
// as rows, and the table showing the expected numbers.
func checkDOM(t *testing.T, dom string) {
	t.Helper()
	wants := wantPanels()
	seen := map[string]bool{}
	for _, m := range sectionRE.FindAllStringSubmatch(dom, -1) {
		a, inner := attrs(m[1]), m[2]
		id := a["id"]
		want, ok := wants[id]
		if !ok {
			t.Errorf("unexpected panel %q", id)
			continue
		}
		seen[id] = true
		if a["data-ready"] != "true" {
			t.Errorf("panel %s: data-ready=%q, want true (data-error=%q)", id, a["data-ready"], a["data-error"])
		}
		if e, bad := a["data-error"]; bad {
			t.Errorf("panel %s: data-error=%q", id, e)
		}
		if got := a["data-points"]; got != fmt.Sprint(len(want.rows)) {
			t.Errorf("panel %s: data-points=%q, want %d", id, got, len(want.rows))
		}
		if a["data-report"] != want.report {
			t.Errorf("panel %s: data-report=%q, want %s", id, a["data-report"], want.report)
		}
		if !strings.Contains(inner, "<canvas") {
			t.Errorf("panel %s has no chart canvas", id)
		}
		body := tbodyRE.FindStringSubmatch(inner)
		if body == nil {
			t.Errorf("panel %s has no table body", id)
			continue
		}
		var got [][]string
		highlighted := 0
		for _, tr := range trRE.FindAllStringSubmatch(body[1], -1) {
			if attrs(tr[1])["data-highlight"] == "true" {
				highlighted++
			}
			var cells []string
			for _, td := range tdRE.FindAllStringSubmatch(tr[2], -1) {
				cells = append(cells, strings.TrimSpace(html.UnescapeString(tagRE.ReplaceAllString(td[1], ""))))
			}
			got = append(got, cells)
		}
		if !reflect.DeepEqual(got, want.rows) {
			t.Errorf("panel %s table:\n got  %v\n want %v", id, got, want.rows)
		}
		if id == "service-acceptance" && highlighted != 4 {
			t.Errorf("%d highlighted service-acceptance rows (only rejected), want 4", highlighted)
		}
		if id == "verification-rejections" {
			// The residence permit's rejections are singled out.
			if highlighted != 2 {
				t.Errorf("%d highlighted residence-permit rows, want 2", highlighted)
			}
			c := calloutRE.FindStringSubmatch(inner)
			if c == nil || attrs(c[1])["data-highlight-events"] != "3" {
				t.Errorf("residence-permit callout %v, want data-highlight-events=\"3\"", c)
			}
		}
	}
	for id := range wants {
		if !seen[id] {
			t.Errorf("panel %s missing from the page", id)
		}
	}
	if s := statusRE.FindStringSubmatch(dom); s == nil || strings.Contains(s[1], "error") || !strings.Contains(s[2], "Updated") {
		t.Errorf("status line %v, want an update time and no error", s)
	}
}

// checkScreenshot checks the screenshot is a 1400x1800 PNG.
func checkScreenshot(t *testing.T, path, logs string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("no screenshot (%v); chromium log:\n%s", err, logs)
	}
	defer f.Close()
	cfg, err := png.DecodeConfig(f)
	if err != nil {
		t.Fatalf("screenshot %s is not a PNG: %v", path, err)
	}
	if cfg.Width != 1400 || cfg.Height != 1800 {
		t.Errorf("screenshot is %dx%d, want 1400x1800", cfg.Width, cfg.Height)
	}
}

// TestDashboardTimeChartInChromium: the time chart buckets sparse days by
// week or month, follows ?bucket=, and shows only the days between ?from=
// and ?to=; its table lists the bucketed rows.
func TestDashboardTimeChartInChromium(t *testing.T) {
	bin := chromiumBin(t)
	over := func(day, docType, channel string, events uint64) analytics.Row {
		return row("activations-over-time", day, docType, channel, events)
	}
	src := &fakeSource{rows: map[string][]analytics.Row{"activations-over-time": {
		over("2025-01-06", "residence_permit", "online", 2), // a Monday
		over("2025-01-08", "passport", "offline", 1),
		over("2025-01-08", "residence_permit", "online", 3),
		over("2025-01-15", "residence_permit", "online", 4),
		over("2025-01-29", "residence_permit", "offline", 5),
		over("2025-02-03", "residence_permit", "online", 1),
		over("2025-03-20", "hkid", "online", 2),
		over("2025-06-05", "residence_permit", "online", 7),
	}}}
	srv := httptest.NewServer(dashboard.Handler(src, nil, nil))
	defer srv.Close()
	tests := []struct {
		name, query      string
		bucket, from, to string
		rows             [][]string
	}{
		// 8 of 151 days, 6 of 22 weeks hold activations; 4 of 6 months do.
		{"months when days and weeks are sparse", "", "month", "", "", [][]string{
			{"2025-01", "passport", "offline", "1"},
			{"2025-01", "residence_permit", "offline", "5"},
			{"2025-01", "residence_permit", "online", "9"},
			{"2025-02", "residence_permit", "online", "1"},
			{"2025-03", "hkid", "online", "2"},
			{"2025-06", "residence_permit", "online", "7"},
		}},
		// Up to 2025-02-03: 5 of 29 days, 4 of 5 weeks (from Monday).
		{"weeks when days are sparse", "?to=2025-02-03", "week", "", "2025-02-03", [][]string{
			{"2025-01-06", "passport", "offline", "1"},
			{"2025-01-06", "residence_permit", "online", "5"},
			{"2025-01-13", "residence_permit", "online", "4"},
			{"2025-01-27", "residence_permit", "offline", "5"},
			{"2025-02-03", "residence_permit", "online", "1"},
		}},
		// 2 of 3 days.
		{"days when they are dense", "?from=2025-01-06&to=2025-01-08", "day", "2025-01-06", "2025-01-08", [][]string{
			{"2025-01-06", "residence_permit", "online", "2"},
			{"2025-01-08", "passport", "offline", "1"},
			{"2025-01-08", "residence_permit", "online", "3"},
		}},
		{"days asked for", "?bucket=day&to=2025-01-15", "day", "", "2025-01-15", [][]string{
			{"2025-01-06", "residence_permit", "online", "2"},
			{"2025-01-08", "passport", "offline", "1"},
			{"2025-01-08", "residence_permit", "online", "3"},
			{"2025-01-15", "residence_permit", "online", "4"},
		}},
		{"no activations between the dates", "?from=2025-07-01", "day", "2025-07-01", "", nil},
		{"a bad date is ignored", "?from=2025-13-01&bucket=year", "month", "", "", [][]string{
			{"2025-01", "passport", "offline", "1"},
			{"2025-01", "residence_permit", "offline", "5"},
			{"2025-01", "residence_permit", "online", "9"},
			{"2025-02", "residence_permit", "online", "1"},
			{"2025-03", "hkid", "online", "2"},
			{"2025-06", "residence_permit", "online", "7"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
			defer cancel()
			dom, logs := runChromium(ctx, t, bin, filepath.Join(t.TempDir(), "profile"), "--virtual-time-budget=5000", "--dump-dom", srv.URL+"/"+tt.query)
			var section string
			for _, m := range sectionRE.FindAllStringSubmatch(dom, -1) {
				if attrs(m[1])["id"] == "activations-over-time" {
					section = m[0]
				}
			}
			if section == "" {
				t.Fatalf("no time chart in the DOM; chromium log:\n%s", logs)
			}
			a := attrs(section[:strings.Index(section, ">")])
			if a["data-ready"] != "true" || a["data-bucket"] != tt.bucket || a["data-from"] != tt.from || a["data-to"] != tt.to {
				t.Errorf("time chart: data-ready=%q data-bucket=%q data-from=%q data-to=%q, want true %q %q %q",
					a["data-ready"], a["data-bucket"], a["data-from"], a["data-to"], tt.bucket, tt.from, tt.to)
			}
			if a["data-points"] != strconv.Itoa(len(tt.rows)) {
				t.Errorf("data-points=%q, want %d", a["data-points"], len(tt.rows))
			}
			head := regexp.MustCompile(`(?s)<thead>.*?<th[^>]*>(.*?)</th>`).FindStringSubmatch(section)
			if head == nil || head[1] != tt.bucket {
				t.Errorf("the table's first column is %v, want %q", head, tt.bucket)
			}
			var got [][]string
			for _, tr := range trRE.FindAllStringSubmatch(tbodyRE.FindStringSubmatch(section)[1], -1) {
				var cells []string
				for _, td := range tdRE.FindAllStringSubmatch(tr[2], -1) {
					cells = append(cells, strings.TrimSpace(html.UnescapeString(tagRE.ReplaceAllString(td[1], ""))))
				}
				if len(cells) > 1 {
					got = append(got, cells)
				}
			}
			if !reflect.DeepEqual(got, tt.rows) {
				t.Errorf("time chart table:\n got  %v\n want %v", got, tt.rows)
			}
			empty := regexp.MustCompile(`<p class="empty"( hidden="")?>([^<]*)</p>`).FindStringSubmatch(section)
			if empty == nil || (empty[1] == "") != (len(tt.rows) == 0) {
				t.Errorf("empty note %v, want it shown exactly when no rows are", empty)
			}
			if len(tt.rows) == 0 && !strings.Contains(empty[2], "between these dates") {
				t.Errorf("empty note %q, want it to say the dates hold no activations", empty[2])
			}
			for _, line := range strings.Split(logs, "\n") {
				if strings.Contains(line, ":CONSOLE") {
					t.Errorf("browser console: %s", line)
				}
			}
		})
	}
}
