package dashboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/analytics/dashboard"
	"github.com/idlink/idlink/pipeline"
)

// fakeSource answers reports from a map and records the names asked for.
type fakeSource struct {
	mu       sync.Mutex
	rows     map[string][]analytics.Row
	err      error // returned for every report when set
	failures int   // the first failures calls fail (ClickHouse down for a while)
	asked    []string
}

// calls is how often the store was asked for report name.
func (f *fakeSource) calls(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, a := range f.asked {
		if a == name {
			n++
		}
	}
	return n
}

func (f *fakeSource) Report(ctx context.Context, name string) ([]analytics.Row, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, name)
	if f.err != nil {
		return nil, f.err
	}
	if f.failures > 0 {
		f.failures--
		return nil, analytics.Unreachable("127.0.0.1:9000", errors.New("connection refused"))
	}
	if _, err := analytics.ReportColumns(name); err != nil {
		return nil, err
	}
	return f.rows[name], nil
}

func row(name string, values ...any) analytics.Row {
	cols, err := analytics.ReportColumns(name)
	if err != nil {
		panic(err)
	}
	return analytics.Row{Columns: cols, Values: values}
}

func sampleRows() map[string][]analytics.Row {
	return map[string][]analytics.Row{
		"verifications": {
			row("verifications", "bank", "residence_permit", "rejected", "document_type_not_supported", uint64(3)),
			row("verifications", "bank", "passport", "passed", "", uint64(5)),
		},
		"linked-persons": {
			row("linked-persons", uint64(1), uint64(7)),
			row("linked-persons", uint64(2), uint64(2)),
		},
		"activations-over-time": {
			row("activations-over-time", "2025-03-14", "residence_permit", "offline", uint64(4)),
		},
	}
}

// get runs one request through the handler.
func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), method, path, nil))
	return rec.Result()
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// statsJSON is what `idlink stats NAME --json` prints for rows.
func statsJSON(t *testing.T, rows []analytics.Row) string {
	t.Helper()
	var b strings.Builder
	if rows == nil {
		rows = []analytics.Row{}
	}
	if err := json.NewEncoder(&b).Encode(rows); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestDashboardRoutes(t *testing.T) {
	names, _ := json.Marshal(analytics.ReportNames())
	rows := sampleRows()
	tests := []struct {
		name        string
		method      string
		path        string
		status      int
		contentType string
		body        string   // exact body, when set
		contains    []string // substrings of the body
	}{
		{name: "report names", path: "/api/reports", status: 200, contentType: "application/json", body: string(names) + "\n"},
		{name: "report rows", path: "/api/reports/verifications", status: 200, contentType: "application/json", body: statsJSON(t, rows["verifications"])},
		{name: "report column order kept", path: "/api/reports/activations-over-time", status: 200, contentType: "application/json",
			body: `[{"day":"2025-03-14","doc_type":"residence_permit","channel":"offline","events":4}]` + "\n"},
		{name: "empty report is an empty array", path: "/api/reports/enrollments-by-doc-type", status: 200, contentType: "application/json", body: "[]\n"},
		{name: "unknown report", path: "/api/reports/nope", status: 404, contentType: "application/json",
			contains: append([]string{`"error":"unknown report \"nope\"`}, analytics.ReportNames()...)},
		{name: "report names are case sensitive", path: "/api/reports/Verifications", status: 404, contentType: "application/json"},
		{name: "unknown api path", path: "/api/nothing", status: 404, contentType: "application/json", contains: []string{`"error"`, "/api/reports"}},
		{name: "api wrong method", method: http.MethodPost, path: "/api/reports", status: 405},
		{name: "report wrong method", method: http.MethodDelete, path: "/api/reports/verifications", status: 405},
		{name: "healthz", path: "/healthz", status: 200, contentType: "application/json", body: `{"status":"ok"}` + "\n"},
		{name: "metrics", path: "/metrics", status: 200, contentType: "text/plain", contains: []string{"# TYPE go_goroutines gauge"}},
		{name: "page", path: "/", status: 200, contentType: "text/html", contains: []string{
			"<title>idlink dashboard</title>",
			`id="activations-over-time"`, `id="activations-by-doc-type"`, `id="verification-rejections"`, `id="linked-persons"`,
			`src="static/vendor/chart.js/chart.umd.js"`, `src="static/dashboard.js"`,
		}},
		{name: "page head", method: http.MethodHead, path: "/", status: 200, contentType: "text/html"},
		{name: "script", path: "/static/dashboard.js", status: 200, contentType: "text/javascript", contains: []string{"api/reports/", "data-points", "10000"}},
		{name: "style", path: "/static/dashboard.css", status: 200, contentType: "text/css"},
		{name: "chart.js", path: "/static/vendor/chart.js/chart.umd.js", status: 200, contentType: "text/javascript", contains: []string{"Chart.js v4"}},
		{name: "chart.js license", path: "/static/vendor/chart.js/LICENSE.md", status: 200, contains: []string{"MIT License"}},
		{name: "no directory listing", path: "/static/", status: 404},
		{name: "no nested directory listing", path: "/static/vendor/", status: 404},
		{name: "missing asset", path: "/static/nope.js", status: 404},
		{name: "unknown page", path: "/nope", status: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := dashboard.Handler(&fakeSource{rows: rows}, pipeline.NewMetrics(), nil)
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			res := get(t, h, method, tt.path)
			got := body(t, res)
			if res.StatusCode != tt.status {
				t.Fatalf("%s %s: status %d, want %d; body %q", method, tt.path, res.StatusCode, tt.status, got)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.contentType) {
				t.Errorf("Content-Type %q, want %s", ct, tt.contentType)
			}
			if tt.body != "" && got != tt.body {
				t.Errorf("body\n got  %q\n want %q", got, tt.body)
			}
			for _, s := range tt.contains {
				if !strings.Contains(got, s) {
					t.Errorf("body does not contain %q:\n%s", s, truncate(got))
				}
			}
			if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
				t.Errorf("Content-Security-Policy %q does not keep the page to this server", csp)
			}
		})
	}
}

func TestDashboardUnknownReportJSON(t *testing.T) {
	src := &fakeSource{rows: sampleRows()}
	res := get(t, dashboard.Handler(src, nil, nil), http.MethodGet, "/api/reports/no-such-report")
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d, want 404", res.StatusCode)
	}
	var e struct {
		Error   string   `json:"error"`
		Reports []string `json:"reports"`
	}
	if err := json.NewDecoder(res.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(e.Error, "no-such-report") || !slices.Equal(e.Reports, analytics.ReportNames()) {
		t.Fatalf("got %+v, want the name and the valid reports %v", e, analytics.ReportNames())
	}
	if len(src.asked) != 0 {
		t.Fatalf("an unknown name reached the store: %v", src.asked)
	}
}

func TestDashboardReportErrors(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		want   string
	}{
		{"clickhouse unreachable", analytics.Unreachable("127.0.0.1:1", errors.New("connection refused")), http.StatusServiceUnavailable, "make up"},
		{"query failed", fmt.Errorf("running report verifications: %w", errors.New("code: 60, table missing")), http.StatusServiceUnavailable, "table missing"},
		{"unknown from the store", &analytics.UnknownReportError{Name: "verifications"}, http.StatusNotFound, "choose one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(t, dashboard.Handler(&fakeSource{err: tt.err}, nil, nil), http.MethodGet, "/api/reports/verifications")
			got := body(t, res)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; body %s", res.StatusCode, tt.status, got)
			}
			var e struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal([]byte(got), &e); err != nil {
				t.Fatalf("body is not a JSON error object: %v: %s", err, got)
			}
			if !strings.Contains(e.Error, tt.want) {
				t.Fatalf("error %q does not mention %q", e.Error, tt.want)
			}
			if tt.status == http.StatusServiceUnavailable && res.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		})
	}
}

func TestDashboardEveryReportServed(t *testing.T) {
	src := &fakeSource{rows: sampleRows()}
	srv := httptest.NewServer(dashboard.Handler(src, nil, nil))
	defer srv.Close()
	for _, name := range analytics.ReportNames() {
		res, err := srv.Client().Get(srv.URL + "/api/reports/" + name)
		if err != nil {
			t.Fatal(err)
		}
		got := body(t, res)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || got != statsJSON(t, src.rows[name]) {
			t.Fatalf("%s: status %d body %q, want 200 %q", name, res.StatusCode, got, statsJSON(t, src.rows[name]))
		}
	}
	if !slices.Equal(src.asked, analytics.ReportNames()) {
		t.Fatalf("store asked for %v, want %v", src.asked, analytics.ReportNames())
	}
}

func TestDashboardRequestMetrics(t *testing.T) {
	m := pipeline.NewMetrics()
	// Two handlers on one registry must not panic and share the metrics.
	h1 := dashboard.Handler(&fakeSource{}, m, nil)
	h2 := dashboard.Handler(&fakeSource{}, m, nil)
	get(t, h1, http.MethodGet, "/healthz")
	get(t, h2, http.MethodGet, "/api/reports/nope")
	get(t, h2, http.MethodGet, "/nope")
	got := body(t, get(t, h1, http.MethodGet, "/metrics"))
	for _, want := range []string{
		`idlink_http_requests_total{code="200",route="GET /healthz"} 1`,
		`idlink_http_requests_total{code="404",route="GET /api/reports/{name}"} 1`,
		`idlink_http_requests_total{code="404",route="unmatched"} 1`,
		`idlink_http_request_seconds_count{route="GET /healthz"} 1`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestDashboardAssetsAreLocal: the page works without internet, so our own
// assets name no other host (Chart.js is served from the binary).
func TestDashboardAssetsAreLocal(t *testing.T) {
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	h := dashboard.Handler(&fakeSource{}, nil, nil)
	for _, path := range []string{"/", "/static/dashboard.js", "/static/dashboard.css"} {
		got := body(t, get(t, h, http.MethodGet, path))
		if m := external.FindString(got); m != "" {
			t.Errorf("%s refers to another host: %s", path, m)
		}
	}
}

func truncate(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}
