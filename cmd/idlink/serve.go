package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/analytics/dashboard"
	"github.com/idlink/idlink/consumers/identity"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/verify"
)

// shutdownTimeout is how long `idlink serve` lets requests in flight finish
// after SIGINT/SIGTERM.
const shutdownTimeout = 10 * time.Second

// defaultAPIAddr is where the verification API listens unless
// IDLINK_API_ADDR or --api-addr say otherwise (CONTRACT.md §6).
const defaultAPIAddr = "127.0.0.1:8090"

// cmdServe serves the HTTP API and dashboard (package dashboard) and, on a
// listener of its own, the verification API (package verify) until ctx is
// done, then shuts down gracefully.
func cmdServe(ctx context.Context, a *app, args []string) int {
	fs := a.flags("serve", "[--addr host:port] [--api-addr host:port|off]")
	addr := fs.String("addr", "", "listen on host:port (default IDLINK_HTTP_ADDR, else 127.0.0.1:8080)")
	apiAddr := fs.String("api-addr", "", "serve the verification API on host:port (default IDLINK_API_ADDR, else "+defaultAPIAddr+"); off: not at all")
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
	if *apiAddr == "" {
		*apiAddr = defaultAPIAddr
		if v, ok := a.lookup("IDLINK_API_ADDR"); ok && v != "" {
			*apiAddr = v
		}
	}
	if err := serve(ctx, a, cfg, *apiAddr); err != nil {
		return a.fail(err)
	}
	return 0
}

// serve listens on cfg.HTTPAddr and apiAddr ("off": no API), opens the
// analytics store for reports (analytics.OpenReports: as the analyst user
// when one is set, the database migrated) and the resolver's Redis for the
// review page, and serves until ctx is done.
func serve(ctx context.Context, a *app, cfg *pipeline.Config, apiAddr string) error {
	// Listen first: a taken address fails at once, not after ClickHouse.
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.HTTPAddr)
	if err != nil {
		return listenError(cfg.HTTPAddr, err)
	}
	defer ln.Close()
	var apiLn net.Listener
	if apiAddr != "off" {
		if err := cfg.RequireKey(); err != nil {
			return fmt.Errorf("the verification API needs the pseudonym key: %w (or serve without it: --api-addr off)", err)
		}
		if apiLn, err = lc.Listen(ctx, "tcp", apiAddr); err != nil {
			return apiListenError(apiAddr, err)
		}
		defer apiLn.Close()
	}

	// Reads as CLICKHOUSE_ANALYST_USER when set; a fresh database gets its
	// tables first, so every report answers (empty).
	store, err := analytics.OpenReports(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	// The review page reads the resolver's Redis; while it does not answer,
	// the review's endpoints answer 503 and the rest is served.
	rdb, err := cfg.Redis()
	if err != nil {
		return err
	}
	defer rdb.Close()
	if err := cfg.PingRedis(ctx, rdb); err != nil {
		a.log.Warn("the review page answers 503 until Redis answers", "err", err)
	}
	dash := dashboard.NewHandler(dashboard.Options{Reports: store, Identity: identity.NewRedisStore(rdb, cfg.RedisPrefix, 0),
		Metrics: pipeline.NewMetrics(), Log: a.log})

	srv := &http.Server{
		Handler:           dash,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- cfg.ServeHTTP(srv, ln) }()
	a.log.Info("serving the dashboard and HTTP API", "url", serverURL(cfg.HTTPScheme(), ln.Addr()), "clickhouse_database", store.Database())

	var apiSrv *http.Server
	apiErrc := make(chan error, 1)
	if apiLn != nil {
		h, closeAPI, err := verify.Open(ctx, cfg, a.log)
		if err != nil {
			_ = srv.Close()
			return err
		}
		defer func() {
			if err := closeAPI(); err != nil {
				a.log.Warn("closing the verification API's connections", "err", err)
			}
		}()
		apiSrv = &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    16 << 10,
			BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		}
		go func() { apiErrc <- cfg.ServeHTTP(apiSrv, apiLn) }()
		a.log.Info("serving the verification API", "address", apiLn.Addr().String(), "openapi", serverURL(cfg.HTTPScheme(), apiLn.Addr())+strings.TrimPrefix(verify.PathOpenAPI, "/"))
	}

	select {
	case err := <-errc:
		return fmt.Errorf("serving HTTP on %s: %w", cfg.HTTPAddr, err)
	case err := <-apiErrc:
		_ = srv.Close()
		return fmt.Errorf("serving the verification API on %s: %w", apiAddr, err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down the HTTP server", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	var apiDone chan error
	if apiSrv != nil {
		// Calls in flight finish (and are audited) before the auditor closes.
		apiDone = make(chan error, 1)
		go func() { apiDone <- apiSrv.Shutdown(sctx) }()
	}
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("shutting down the HTTP server on %s: %w", cfg.HTTPAddr, err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving HTTP on %s: %w", cfg.HTTPAddr, err)
	}
	if apiSrv != nil {
		if err := <-apiDone; err != nil {
			_ = apiSrv.Close()
			return fmt.Errorf("shutting down the verification API on %s: %w", apiAddr, err)
		}
		if err := <-apiErrc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving the verification API on %s: %w", apiAddr, err)
		}
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

// apiListenError is listenError for the verification API's address.
func apiListenError(addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("cannot listen on %s for the verification API: %w; another process (another `idlink serve`?) holds that address: stop it, or choose a free one with --api-addr host:port or IDLINK_API_ADDR", addr, err)
	}
	return fmt.Errorf("cannot listen on %s for the verification API: %w: set a valid local host:port with --api-addr or IDLINK_API_ADDR (off: no API)", addr, err)
}

// serverURL is the dashboard's URL for a listener address and scheme (http
// or https); an unspecified host (":8080", "0.0.0.0:8080") becomes localhost.
func serverURL(scheme string, addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + "://" + addr.String() + "/"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/"
}
