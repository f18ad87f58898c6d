package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/idlink/idlink/internal/stacktest"
	"github.com/idlink/idlink/pipeline"
)

// lockedBuffer is a bytes.Buffer safe for a logger and a reader at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serveApp is an app whose variables come from env first, then the process
// environment, writing its output and log to the returned buffers.
func serveApp(env map[string]string) (*app, *lockedBuffer, *lockedBuffer) {
	out, errb := &lockedBuffer{}, &lockedBuffer{}
	return &app{
		stdin:  strings.NewReader(""),
		stdout: out,
		stderr: errb,
		lookup: func(k string) (string, bool) {
			if v, ok := env[k]; ok {
				return v, true
			}
			return os.LookupEnv(k)
		},
		log: slog.New(slog.NewTextHandler(errb, nil)),
	}, out, errb
}

func TestServeBadStart(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		says []string
	}{
		{"--addr in use", []string{"serve", "--addr", addr}, nil, 1, []string{addr, "address already in use", "--addr", "IDLINK_HTTP_ADDR"}},
		{"IDLINK_HTTP_ADDR in use", []string{"serve"}, map[string]string{"IDLINK_HTTP_ADDR": addr}, 1, []string{addr, "--addr", "IDLINK_HTTP_ADDR"}},
		{"bad address", []string{"serve", "--addr", "127.0.0.1:notaport"}, nil, 1, []string{"127.0.0.1:notaport", "--addr", "IDLINK_HTTP_ADDR"}},
		{"stray argument", []string{"serve", "now"}, nil, 2, []string{`unexpected argument "now"`}},
		{"unknown flag", []string{"serve", "--port", "80"}, nil, 2, []string{"flag provided but not defined", "--addr"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _, errb := serveApp(tt.env)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			start := time.Now()
			code := a.main(ctx, tt.args)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tt.code, errb)
			}
			for _, s := range tt.says {
				if !strings.Contains(errb.String(), s) {
					t.Errorf("stderr does not mention %q:\n%s", s, errb)
				}
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s to fail", d)
			}
		})
	}
}

// TestServeDashboard runs `idlink serve` on a fresh database of the local
// stack: it serves HTTPS with the stack's certificate (a client that trusts
// only the stack's CA accepts it, one without that CA refuses it), migrates,
// answers the API, the page and the review's endpoints (from an empty Redis
// namespace), and shuts down cleanly when its context ends (SIGINT/SIGTERM in
// the binary).
func TestServeDashboard(t *testing.T) {
	cfg := stacktest.Config(t)
	client := stacktest.HTTPClient(t, cfg)
	a, _, logs := serveApp(map[string]string{
		"CLICKHOUSE_DATABASE": cfg.ClickHouseDatabase,
		"IDLINK_REDIS_PREFIX": cfg.RedisPrefix,
		"IDLINK_HTTP_ADDR":    "127.0.0.1:0",
		"IDLINK_API_ADDR":     "127.0.0.1:0",
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- a.main(ctx, []string{"serve"}) }()

	urlRE := regexp.MustCompile(`url=(https?://127\.0\.0\.1:\d+/)`)
	var url string
	for deadline := time.Now().Add(time.Minute); url == ""; time.Sleep(20 * time.Millisecond) {
		select {
		case code := <-done:
			t.Fatalf("idlink serve exited with %d before serving:\n%s", code, logs)
		default:
		}
		if m := urlRE.FindStringSubmatch(logs.String()); m != nil {
			url = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("idlink serve logged no URL within a minute:\n%s", logs)
		}
	}
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("idlink serve on the local stack serves %s, want https (IDLINK_TLS_CERT_FILE in %s)", url, pipeline.EnvFile)
	}
	stacktest.CheckStackCertificate(t, cfg, url)

	tests := []struct {
		path   string
		status int
		body   string // prefix of the body
	}{
		{"healthz", 200, `{"status":"ok"}`},
		{"api/reports", 200, `["activations-by-doc-type",`},
		{"api/reports/verifications", 200, "[]\n"}, // migrated: the tables exist, empty
		{"api/reports/linked-persons", 200, "[]\n"},
		{"api/reports/service-acceptance", 200, "[]\n"},
		{"api/reports/blocked-but-linked", 200, "[]\n"},
		{"api/reports/activations-by-region", 200, "[]\n"},
		{"api/reports/nope", 404, `{"error":"unknown report \"nope\"`},
		{"", 200, "<!doctype html>"},
		{"review", 200, "<!doctype html>"},
		{"api/conflicts", 200, `{"total":0,"conflicts":[]}`},
		{"api/why", 400, `{"error":"person_id is required`},
		{"api/why?person_id=p-0000", 404, `{"error":"unknown person`},
		{"metrics", 200, "# HELP"},
	}
	for _, tt := range tests {
		res, err := client.Get(url + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != tt.status || !strings.HasPrefix(string(b), tt.body) {
			t.Errorf("GET /%s: %d %q, want %d starting %q", tt.path, res.StatusCode, truncateString(string(b), 200), tt.status, tt.body)
		}
	}

	cancel() // what SIGINT/SIGTERM do to the binary's context
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after shutdown, want 0:\n%s", code, logs)
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatalf("idlink serve did not stop after its context ended:\n%s", logs)
	}
	if _, err := client.Get(url + "healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

// TestServeAnalystRefused: with CLICKHOUSE_ANALYST_USER set, `idlink serve`
// reads as that user and fails at start when ClickHouse refuses it, naming
// the analyst's password variable; it never falls back to CLICKHOUSE_USER.
func TestServeAnalystRefused(t *testing.T) {
	cfg := stacktest.Config(t)
	if cfg.ClickHouseAnalystUser == "" {
		t.Fatal("no CLICKHOUSE_ANALYST_USER in the configuration: the local stack predates access control; run `make reset && make up`")
	}
	a, _, logs := serveApp(map[string]string{
		"CLICKHOUSE_DATABASE":         cfg.ClickHouseDatabase,
		"CLICKHOUSE_ANALYST_PASSWORD": "not-the-password",
		"IDLINK_HTTP_ADDR":            "127.0.0.1:0",
		"IDLINK_API_ADDR":             "127.0.0.1:0",
	})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if code := a.main(ctx, []string{"serve"}); code != 1 {
		t.Fatalf("exit %d, want 1; log:\n%s", code, logs)
	}
	if !strings.Contains(logs.String(), "CLICKHOUSE_ANALYST_PASSWORD") {
		t.Fatalf("the error does not name CLICKHOUSE_ANALYST_PASSWORD:\n%s", logs)
	}
}

func TestServeURL(t *testing.T) {
	tests := []struct{ scheme, addr, want string }{
		{"http", "127.0.0.1:8080", "http://127.0.0.1:8080/"},
		{"http", "0.0.0.0:8080", "http://localhost:8080/"},
		{"http", "[::]:9000", "http://localhost:9000/"},
		{"http", "[::1]:9000", "http://[::1]:9000/"},
		{"https", "127.0.0.1:8443", "https://127.0.0.1:8443/"},
	}
	for _, tt := range tests {
		addr, err := net.ResolveTCPAddr("tcp", tt.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := serverURL(tt.scheme, addr); got != tt.want {
			t.Errorf("serverURL(%s, %s) = %s, want %s", tt.scheme, tt.addr, got, tt.want)
		}
	}
}

func truncateString(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
