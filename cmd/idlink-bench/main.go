// Command idlink-bench measures idlink on the real local stack (`make bench`).
//
// It generates N synthetic agency events with the simulator (fixed seed),
// publishes them with the producer library, and then times, each phase in a
// namespace of its own (topic, consumer-group and Redis key prefixes, a
// ClickHouse database) that is removed at the end:
//
//   - e2e: `idlink run` as a child process, from its start until both consumer
//     groups have committed everything and ClickHouse holds every event;
//   - the resolution and analytics stages alone (`idlink run --only ...`);
//   - raw pipe: the same Kafka messages copied unchanged into a ClickHouse
//     table by kafka-go readers, no decoding: the ceiling;
//   - the analytics sink's insert rate (its Handle on in-memory batches);
//   - baseline: a deliberately naive resolver and sink kept here, one event at
//     a time, one Redis command per round trip, one INSERT per 100 events;
//   - produce-to-resolved latency at a steady rate, the resolver in-process;
//   - every report's latency over a large synthetic dataset, on the stack's
//     ClickHouse 18.16 (phase reports) and on the current engine in chdb
//     (phase reports-current, python3 with chdb);
//   - the verification API (verify.Open, audit on): calls per second from
//     -api-clients keep-alive clients, and latency at a steady -api-rate;
//   - optionally (-profile-dir) a CPU profile of both consumers in-process.
//
// Figures are printed one per line as name=value; the last line is
//
//	bench: e2e_events_per_s=X baseline_events_per_s=Y speedup=S raw_pipe_events_per_s=Z raw_ratio=R p99_ms=L
//
// Progress goes to stderr. Nothing is asserted: the smoke test only checks
// that a small run completes.
package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/idlink/idlink/internal/cli"
	"github.com/idlink/idlink/pipeline"
)

func main() {
	pipeline.SetGC() // the in-process consumers collect as idlink's do
	cli.Main(run)
}

// Phases, in the order they run.
const (
	phaseE2E      = "e2e"
	phaseStages   = "stages"
	phaseRaw      = "raw"
	phaseSink     = "sink"
	phaseBaseline = "baseline"
	phaseLatency  = "latency"
	phaseReports  = "reports"
	phaseCurrent  = "reports-current"
	phaseWhy      = "why"
	phaseAPI      = "api"
	phaseHub      = "hub"
)

// allPhases lists the phases -skip accepts.
func allPhases() []string {
	return []string{phaseE2E, phaseStages, phaseRaw, phaseSink, phaseBaseline, phaseLatency, phaseReports, phaseCurrent, phaseWhy, phaseAPI, phaseHub}
}

// options are the command-line flags.
type options struct {
	n              int
	persons        int
	seed           int64
	baselineN      int
	sinkN          int
	rate           int
	latencySeconds float64
	latencyMaxWait time.Duration
	reportRows     int
	reportRuns     int
	idlink         string
	profileDir     string
	skip           map[string]bool
	phaseTimeout   time.Duration
	settleMax      time.Duration
	keep           bool
	apiN           int
	apiClients     int
	apiRate        int
	apiSeconds     float64
	hubChain       int
	hubRate        int
	hubLatencyRate int
	hubSeconds     float64
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := cli.FlagSet("idlink-bench", stderr)
	o := &options{}
	fs.IntVar(&o.n, "n", 1_000_000, "number of distinct valid synthetic events to publish and process")
	fs.IntVar(&o.persons, "persons", 0, "synthetic population size (default n/2, about 1.1 documents per event)")
	fs.Int64Var(&o.seed, "seed", 1, "simulator seed")
	fs.IntVar(&o.baselineN, "baseline-n", 20_000, "events the naive baseline processes (at most n)")
	fs.IntVar(&o.sinkN, "sink-n", 200_000, "events handed to the analytics sink's Handle for the insert rate (at most n)")
	fs.IntVar(&o.rate, "rate", 5000, "steady produce rate of the latency phase, events/s")
	fs.Float64Var(&o.latencySeconds, "latency-seconds", 10, "how long the latency phase produces at -rate")
	fs.DurationVar(&o.latencyMaxWait, "latency-max-wait", 25*time.Millisecond,
		"batch gathering window of the resolver in the latency phase (0: the resolver's own setting, as `idlink run` uses)")
	fs.IntVar(&o.reportRows, "report-rows", 0, "synthetic events seeded for the report timings on each engine (default 10*n, at least 100000)")
	fs.IntVar(&o.reportRuns, "report-runs", 3, "runs of each report (best and median are printed)")
	fs.StringVar(&o.idlink, "idlink", "", "idlink binary to run as the consumer process (default: go build ./cmd/idlink into a temporary directory)")
	fs.StringVar(&o.profileDir, "profile-dir", "", "if set, also run both consumers in-process over the data set and write CPU and heap profiles here")
	skip := fs.String("skip", "", "comma-separated phases to skip: "+strings.Join(allPhases(), ","))
	fs.DurationVar(&o.phaseTimeout, "phase-timeout", 30*time.Minute, "give up on a phase after this long")
	fs.DurationVar(&o.settleMax, "settle-max", 90*time.Second,
		"before each phase, wait up to this long for the machine to go quiet (the last phase's merges and rewrites); 0: don't wait")
	fs.BoolVar(&o.keep, "keep", false, "keep the topics, groups, Redis keys and databases (for debugging)")
	fs.IntVar(&o.apiN, "api-n", 50_000, "events of the population the api phase resolves and verifies documents of (at most n)")
	fs.IntVar(&o.apiClients, "api-clients", 64, "concurrent keep-alive clients of the api phase")
	fs.IntVar(&o.apiRate, "api-rate", 5000, "steady call rate of the api phase's latency, calls/s")
	fs.Float64Var(&o.apiSeconds, "api-seconds", 10, "how long each part of the api phase calls")
	fs.IntVar(&o.hubChain, "hub-chain", 0, "conflicting events in the hub phase's chain, one cluster (default n/20, at most 20000)")
	fs.IntVar(&o.hubRate, "hub-rate", 200, "rate at which the hub phase's ordinary and chain events trickle in, events/s")
	fs.IntVar(&o.hubLatencyRate, "hub-latency-rate", 1000, "steady rate of the hub phase's latency traffic, events/s")
	fs.Float64Var(&o.hubSeconds, "hub-seconds", 20, "how long the hub phase's ordinary trickle and each latency run last")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, cli.Usagef("unexpected argument %q: every setting is a flag (see -h)", fs.Arg(0))
	}
	if o.n < 100 {
		return nil, cli.Usagef("-n must be at least 100, got %d", o.n)
	}
	if o.persons <= 0 {
		o.persons = max(1, o.n/2)
	}
	o.baselineN = min(max(o.baselineN, 1), o.n)
	o.sinkN = min(max(o.sinkN, 1), o.n)
	if o.apiN < 1 || o.apiClients < 1 || o.apiRate < 1 || o.apiSeconds <= 0 {
		return nil, cli.Usagef("-api-n, -api-clients, -api-rate and -api-seconds must be positive")
	}
	if o.hubChain == 0 {
		o.hubChain = min(o.n/20, 20_000)
	}
	if o.hubChain < 1 || o.hubRate < 1 || o.hubLatencyRate < 1 || o.hubSeconds <= 0 {
		return nil, cli.Usagef("-hub-chain, -hub-rate, -hub-latency-rate and -hub-seconds must be positive")
	}
	if o.settleMax < 0 {
		return nil, cli.Usagef("-settle-max must be 0 (no wait) or positive, got %s", o.settleMax)
	}
	if o.rate <= 0 || o.latencySeconds <= 0 {
		return nil, cli.Usagef("-rate and -latency-seconds must be positive")
	}
	if o.reportRows <= 0 {
		o.reportRows = max(10*o.n, 100_000)
	}
	skipped, bad := cli.List(*skip, allPhases())
	if bad != "" {
		return nil, cli.Usagef("-skip: unknown phase %q (phases: %s)", bad, strings.Join(allPhases(), ","))
	}
	o.skip = map[string]bool{}
	for _, p := range skipped {
		o.skip[p] = true
	}
	return o, nil
}

// run is the whole command; it returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return cli.Exit("idlink-bench", err, stderr)
	}
	b, err := newBench(ctx, o, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "idlink-bench: %v\n", err)
		return 1
	}
	defer b.close()
	if err := b.run(ctx); err != nil {
		msg := err.Error()
		if len(msg) > 4000 { // e.g. one Kafka error per message of a batch
			msg = msg[:4000] + " ..."
		}
		fmt.Fprintf(stderr, "idlink-bench: %s\n", msg)
		return 1
	}
	return 0
}

// results are the figures of the final line.
type results struct {
	e2e, baseline, raw, p99 float64
}

// run runs every phase not skipped, then prints the final line.
func (b *bench) run(ctx context.Context) error {
	b.machine(ctx)
	if err := b.produce(ctx); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	steps := []struct {
		phase string
		fn    func(context.Context) error
	}{
		{phaseE2E, b.e2e},
		{phaseStages, b.stages},
		{phaseRaw, b.rawPipe},
		{phaseSink, b.sinkInsert},
		{phaseBaseline, b.baseline},
		{phaseLatency, b.latency},
		{phaseReports, b.reports},
		{phaseCurrent, b.reportsCurrent},
		{phaseWhy, b.why},
		{phaseAPI, b.api},
		{phaseHub, b.hub},
	}
	for _, s := range steps {
		if b.opts.skip[s.phase] {
			b.progress("skipping %s", s.phase)
			continue
		}
		b.progress("phase %s", s.phase)
		b.settle(ctx, s.phase)
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.phase, err)
		}
	}
	if b.opts.profileDir != "" {
		b.progress("phase profile")
		if err := b.profile(ctx); err != nil {
			return fmt.Errorf("profile: %w", err)
		}
	}
	b.final()
	return nil
}

// figure prints one name=value line.
func (b *bench) figure(name string, format string, v ...any) {
	fmt.Fprintf(b.out, "%s="+format+"\n", append([]any{name}, v...)...)
}

// progress prints a progress line on stderr.
func (b *bench) progress(format string, v ...any) {
	fmt.Fprintf(b.log, "%s bench: "+format+"\n", append([]any{time.Now().Format("15:04:05")}, v...)...)
}

// final prints the targets and the final line.
func (b *bench) final() {
	r := b.res
	ratio := func(x, y float64) float64 {
		if x > 0 && y > 0 {
			return x / y
		}
		return math.NaN()
	}
	speedup, rawRatio := ratio(r.e2e, r.baseline), ratio(r.e2e, r.raw)
	check := func(name string, ok bool, v float64) string {
		switch {
		case math.IsNaN(v):
			return name + "=skipped"
		case ok:
			return name + "=met"
		}
		return name + "=MISSED"
	}
	targets := []string{
		check("e2e>=50000", r.e2e >= 50000, r.e2e),
		check("speedup>=10", speedup >= 10, speedup),
		check("raw_ratio>=0.5", rawRatio >= 0.5, rawRatio),
		check("p99<=250ms", r.p99 <= 250, r.p99),
	}
	targets = append(targets, b.extraTargets...)
	sort.Strings(targets[4:])
	fmt.Fprintf(b.out, "targets: %s\n", strings.Join(targets, " "))
	fmt.Fprintf(b.out, "bench: e2e_events_per_s=%s baseline_events_per_s=%s speedup=%s raw_pipe_events_per_s=%s raw_ratio=%s p99_ms=%s\n",
		num(r.e2e, 0), num(r.baseline, 0), num(speedup, 2), num(r.raw, 0), num(rawRatio, 2), num(r.p99, 1))
}

// num formats v with prec decimals; a phase that did not run gives NaN.
func num(v float64, prec int) string {
	if v == 0 || math.IsNaN(v) {
		return "NaN"
	}
	return fmt.Sprintf("%.*f", prec, v)
}
