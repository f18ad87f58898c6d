package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/analytics/dashboard"
	"github.com/idlink/idlink/pipeline"
)

// shutdownTimeout is how long `idlink serve` lets requests in flight finish
// after SIGINT/SIGTERM.
const shutdownTimeout = 10 * time.Second

// cmdServe serves the HTTP API and dashboard (package dashboard) until ctx is
// done, then shuts down gracefully.
func cmdServe(ctx context.Context, a *app, args []string) int {
	fs := a.flags("serve", "[--addr host:port]")
	addr := fs.String("addr", "", "listen on host:port (default IDLINK_HTTP_ADDR, else 127.0.0.1:8080)")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if !a.noArgs(fs) {
		return 2
	}
	cfg, ok := a.config()
	if !ok {
		return 1
	}
	if *addr != "" {
		cfg.HTTPAddr = *addr
	}
	if err := serve(ctx, a, cfg); err != nil {
		return a.fail(err)
	}
	return 0
}

// serve listens on cfg.HTTPAddr, opens the analytics store for reports
// (analytics.OpenReports: as the analyst user when one is set, the database
// migrated) and serves until ctx is done.
func serve(ctx context.Context, a *app, cfg *pipeline.Config) error {
	// Listen first: a taken address fails at once, not after ClickHouse.
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.HTTPAddr)
	if err != nil {
		return listenError(cfg.HTTPAddr, err)
	}
	defer ln.Close()

	// Reads as CLICKHOUSE_ANALYST_USER when set; a fresh database gets its
	// tables first, so every report answers (empty).
	store, err := analytics.OpenReports(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()

	srv := &http.Server{
		Handler:           dashboard.Handler(store, pipeline.NewMetrics(), a.log),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.log.Info("serving the dashboard and HTTP API", "url", serverURL(ln.Addr()), "clickhouse_database", store.Database())

	select {
	case err := <-errc:
		return fmt.Errorf("serving HTTP on %s: %w", cfg.HTTPAddr, err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down the HTTP server", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutting down the HTTP server on %s: %w", cfg.HTTPAddr, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving HTTP on %s: %w", cfg.HTTPAddr, err)
	}
	return nil
}

// listenError explains a failure to listen, naming the settings that fix it.
func listenError(addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("cannot listen on %s: %w; another process (another `idlink serve`?) holds that address: stop it, or choose a free one with --addr host:port or IDLINK_HTTP_ADDR", addr, err)
	}
	return fmt.Errorf("cannot listen on %s: %w: set a valid local host:port with --addr or IDLINK_HTTP_ADDR", addr, err)
}

// serverURL is the dashboard's URL for a listener address; an unspecified
// host (":8080", "0.0.0.0:8080") becomes localhost.
func serverURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + "/"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}
