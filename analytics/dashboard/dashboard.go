// Package dashboard is the HTTP API and dashboard of idlink, served by
// `idlink serve`.
//
// Routes (all GET; HEAD works too):
//
//	/                     the dashboard page (static/index.html)
//	/static/...           its assets, embedded in the binary, Chart.js included
//	/api/reports          JSON array of the report names
//	/api/reports/{name}   JSON array of the report's rows, exactly what
//	                      `idlink stats NAME --json` prints; 404 with the valid
//	                      names for an unknown report, 503 when ClickHouse fails
//	/healthz              liveness: {"status":"ok"}
//	/metrics              Prometheus metrics
//
// and the review page's routes, read from the resolver's store (review.go):
//
//	/review               the review page (static/review.html)
//	/api/conflicts        the conflicts queue, newest first
//	/api/why?person_id=ID the person's explanation, exactly what
//	                      `idlink why --json --person-id ID` prints
//
// The page fetches the reports from /api/reports/{name} and draws them with
// the vendored Chart.js (static/vendor/chart.js, MIT); it needs no network
// beyond this server, and its Content-Security-Policy allows nothing else.
package dashboard

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/consumers/identity"
	"github.com/idlink/idlink/pipeline"
)

//go:embed static
var staticFS embed.FS

// ReportSource runs the named analytics report; *analytics.Store is one. An
// unknown name gives an *analytics.UnknownReportError.
type ReportSource interface {
	Report(ctx context.Context, name string) ([]analytics.Row, error)
}

// reportTimeout bounds one report query.
const reportTimeout = 30 * time.Second

// contentSecurityPolicy lets the page load only from this server.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler returns the HTTP API and dashboard serving reports from store,
// without the resolver's store: NewHandler with only Reports, Metrics and
// Log set.
func Handler(store ReportSource, m *pipeline.Metrics, log *slog.Logger) http.Handler {
	return NewHandler(Options{Reports: store, Metrics: m, Log: log})
}

// Options are what NewHandler serves from.
type Options struct {
	Reports ReportSource // the analytics reports
	// Identity is the resolver's store, which the review page's endpoints
	// read; while it is nil they answer 503.
	Identity identity.Store
	// Metrics get the server's own request metrics (a fresh registry when
	// nil); errors are logged to Log (discarded when nil).
	Metrics *pipeline.Metrics
	Log     *slog.Logger
}

// NewHandler returns the HTTP API, the dashboard and the review page.
func NewHandler(o Options) http.Handler {
	m, log := o.Metrics, o.Log
	if m == nil {
		m = pipeline.NewMetrics()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &server{store: o.Reports, identity: o.Identity, log: log, static: staticFS}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page("static/index.html"))
	// Paths under /static/ are paths in staticFS as they are.
	mux.Handle("GET /static/", noDirs(http.FileServerFS(staticFS)))
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /api/reports", s.reportNames)
	mux.HandleFunc("GET /api/reports/{name}", s.report)
	mux.HandleFunc("GET /review", s.page("static/review.html"))
	mux.HandleFunc("GET /api/conflicts", s.conflicts)
	mux.HandleFunc("GET /api/why", s.why)
	mux.HandleFunc("GET /api/", s.apiNotFound)
	return instrument(newHTTPMetrics(m.Registry, log), securityHeaders(mux))
}

// server holds what the handlers share.
type server struct {
	store    ReportSource
	identity identity.Store // nil: the review's endpoints answer 503
	log      *slog.Logger
	static   fs.FS // holds static/...
}

// errorBody is the JSON of every API error.
type errorBody struct {
	Error   string   `json:"error"`
	Reports []string `json:"reports,omitempty"` // the valid names, for an unknown report
}

// page serves the embedded HTML page at path (in s.static).
func (s *server) page(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		page, err := fs.ReadFile(s.static, path)
		if err != nil {
			s.log.Error("reading an embedded page", "page", path, "err", err)
			http.Error(w, "page "+path+" missing from the binary", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Length", strconv.Itoa(len(page)))
		_, _ = w.Write(page)
	}
}

func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *server) reportNames(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, analytics.ReportNames())
}

func (s *server) report(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	// Unknown names never reach ClickHouse.
	if _, err := analytics.ReportColumns(name); err != nil {
		s.writeJSON(w, http.StatusNotFound, errorBody{Error: err.Error(), Reports: analytics.ReportNames()})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), reportTimeout)
	defer cancel()
	rows, err := s.store.Report(ctx, name)
	var unknown *analytics.UnknownReportError
	switch {
	case errors.As(err, &unknown):
		s.writeJSON(w, http.StatusNotFound, errorBody{Error: err.Error(), Reports: analytics.ReportNames()})
		return
	case err != nil && r.Context().Err() != nil:
		// The client went away; nobody reads an answer.
		s.log.Debug("report abandoned by the client", "report", name, "err", err)
		return
	case err != nil:
		s.log.Error("report failed", "report", name, "err", err)
		w.Header().Set("Retry-After", "10")
		s.writeJSON(w, http.StatusServiceUnavailable, errorBody{Error: "report " + name + " is unavailable: " + err.Error()})
		return
	}
	if rows == nil {
		rows = []analytics.Row{} // `[]`, as `idlink stats --json` prints
	}
	s.writeJSON(w, http.StatusOK, rows)
}

func (s *server) apiNotFound(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusNotFound, errorBody{
		Error: "no API endpoint " + r.Method + " " + r.URL.Path + ": use GET /api/reports, /api/reports/{name}, /api/conflicts or /api/why?person_id=ID",
	})
}

// writeJSON writes v as one JSON document and a newline, encoded like
// `idlink stats --json` (encoding/json's Encoder with its defaults).
func (s *server) writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		s.log.Error("encoding a JSON response", "err", err)
		status = http.StatusInternalServerError
		buf.Reset()
		_ = json.NewEncoder(&buf).Encode(errorBody{Error: "encoding the response: " + err.Error()})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// noDirs answers 404 for directory paths instead of listing them.
func noDirs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets headers every response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		next.ServeHTTP(w, r)
	})
}

// httpMetrics are the server's request metrics.
type httpMetrics struct {
	requests *prometheus.CounterVec   // idlink_http_requests_total{route,code}
	duration *prometheus.HistogramVec // idlink_http_request_seconds{route}
}

// newHTTPMetrics registers the request metrics in reg, reusing them when a
// previous Handler on the same registry already did.
func newHTTPMetrics(reg prometheus.Registerer, log *slog.Logger) *httpMetrics {
	hm := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "idlink_http_requests_total", Help: "HTTP requests served by idlink serve, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "idlink_http_request_seconds", Help: "Time to answer an HTTP request of idlink serve, by route pattern.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
		}, []string{"route"}),
	}
	hm.requests = register(reg, hm.requests, log)
	hm.duration = register(reg, hm.duration, log)
	return hm
}

// register registers c in reg and returns it, or the collector already
// registered under its name.
func register[C prometheus.Collector](reg prometheus.Registerer, c C, log *slog.Logger) C {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	switch {
	case errors.As(err, &are):
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
		log.Warn("HTTP metric registered with another type; not exporting it", "err", err)
	case err != nil:
		log.Warn("registering an HTTP metric", "err", err)
	}
	return c
}

// instrument counts and times every request by the pattern that matched it.
func instrument(hm *httpMetrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := r.Pattern // set by the ServeMux on this request
		if route == "" {
			route = "unmatched"
		}
		hm.requests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
		hm.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
