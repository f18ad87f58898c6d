package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	sink "github.com/idlink/idlink/consumers/analytics"
	"github.com/idlink/idlink/consumers/identity"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/schemas"
)

func cmdRun(ctx context.Context, a *app, args []string) int {
	fs := a.flags("run", "[--exit-when-idle] [--only resolver|analytics]")
	exitIdle := fs.Bool("exit-when-idle", false, "exit once every consumer has caught up with the end of its topics")
	only := fs.String("only", "", "run just one consumer: resolver or analytics (default both)")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus /metrics here (default IDLINK_METRICS_ADDR; \"off\" disables)")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if !a.noArgs(fs) {
		return 2
	}
	if *only != "" && *only != "resolver" && *only != "analytics" {
		fmt.Fprintf(a.stderr, "idlink run: --only must be resolver or analytics, not %q\n", *only)
		return 2
	}
	cfg, ok := a.config()
	if !ok {
		return 1
	}
	if *metricsAddr != "" {
		cfg.MetricsAddr = *metricsAddr
	}
	if err := runConsumers(ctx, a.log, cfg, runOptions{exitWhenIdle: *exitIdle, only: *only}); err != nil {
		return a.fail(err)
	}
	return 0
}

type runOptions struct {
	exitWhenIdle bool
	only         string
}

// runner is a consumer: a batch handler with its group settings.
type runner interface {
	pipeline.Handler
	Options() pipeline.ConsumerOptions
	Close() error
}

// runConsumers runs the resolver and the analytics sink until ctx is done or,
// with exitWhenIdle, until both have committed everything in their topics.
func runConsumers(ctx context.Context, log *slog.Logger, cfg *pipeline.Config, o runOptions) error {
	// The consumers run with their own Kafka credential when one applies.
	cfg = cfg.ForConsumers()
	codec, err := schemas.NewCodec()
	if err != nil {
		return err
	}
	m := pipeline.NewMetrics()
	var runners []runner
	defer func() {
		for _, r := range runners {
			if err := r.Close(); err != nil {
				log.Warn("closing consumer", "err", err)
			}
		}
	}()
	if o.only != "analytics" {
		r, err := connect(ctx, log, "resolver", func() (runner, error) { return identity.NewConsumer(ctx, cfg, codec, m, log) })
		if err != nil {
			return err
		}
		runners = append(runners, r)
	}
	if o.only != "resolver" {
		s, err := connect(ctx, log, "analytics", func() (runner, error) { return sink.New(ctx, cfg, codec, m) })
		if err != nil {
			return err
		}
		runners = append(runners, s)
	}
	if srv := serveMetrics(log, cfg.MetricsAddr, m); srv != nil {
		defer srv.Close()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	idle := make(chan string, len(runners))
	errc := make(chan error, len(runners))
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o := r.Options()
			o.Idle = idle
			if err := cfg.RunConsumer(ctx, o, r); err != nil {
				errc <- fmt.Errorf("%s: %w", o.Name, err)
				cancel()
			}
		}()
	}
	log.Info("consumers running", "count", len(runners), "exit_when_idle", o.exitWhenIdle)
	if o.exitWhenIdle {
		waitIdle(ctx, log, cfg, runners, idle)
		cancel()
	}
	<-ctx.Done()
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// startupPatience is how long `idlink run` keeps retrying a service that does
// not answer at start (a restarting Redis, say) before giving up.
const startupPatience = time.Minute

// connect starts a consumer, retrying with backoff while a service it needs
// does not answer yet.
func connect(ctx context.Context, log *slog.Logger, name string, start func() (runner, error)) (runner, error) {
	deadline := time.Now().Add(startupPatience)
	backoff := 250 * time.Millisecond
	for {
		r, err := start()
		if err == nil {
			return r, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return nil, err
		}
		log.Warn("starting consumer failed; retrying", "consumer", name, "backoff", backoff, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// waitIdle returns once every consumer group has committed the end of all its
// topics twice in a row (so changes the resolver published last are in too).
func waitIdle(ctx context.Context, log *slog.Logger, cfg *pipeline.Config, runners []runner, idle <-chan string) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	streak := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-idle:
		case <-tick.C:
		}
		all := true
		for _, r := range runners {
			o := r.Options()
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			ok, err := cfg.CaughtUp(cctx, o.Group, o.Topics)
			cancel()
			if err != nil {
				log.Warn("checking consumer progress", "consumer", o.Name, "err", err)
			}
			all = all && ok && err == nil
		}
		if !all {
			streak = 0
			continue
		}
		if streak++; streak >= 2 {
			log.Info("every consumer has caught up; exiting")
			return
		}
	}
}

// serveMetrics serves /metrics in the background; an address already in use
// (another idlink on this machine) only logs a warning.
func serveMetrics(log *slog.Logger, addr string, m *pipeline.Metrics) *http.Server {
	if addr == "" || strings.EqualFold(addr, "off") {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Warn("not serving metrics", "addr", addr, "err", err)
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("serving metrics", "addr", ln.Addr().String())
	return srv
}
