// Command idlink-chaos checks that idlink neither loses, duplicates nor
// mis-groups anything while its consumer is killed and the services it
// depends on restart (`make chaos`, issue 7).
//
// In a namespace of its own (topics, consumer groups, Redis keys and a
// ClickHouse database, all removed at the end) it generates a simulator
// dataset of -n events with invalid lines, duplicates, retractions and
// conflicts, and publishes it through the producer library at a steady pace
// while `idlink run` consumes it as a child process. During the flow it
// kill -9s the consumer -kills times at random moments (restarting it at
// once) and restarts Redis, ClickHouse and the Kafka broker once each with
// compose/restart.sh. Then, with -backpressure-seconds > 0, it stops
// ClickHouse for that long while events keep flowing, sampling the
// consumer's RSS every second. Once the consumer has caught up it checks:
//
//   - lost: valid events with no row in ClickHouse;
//   - duplicated: events a report counts more often than they happened;
//   - mismatched_persons: expected persons (simulator ground truth) the
//     resolver's Redis state does not hold exactly;
//   - report_mismatches: report rows differing from the exact expected ones;
//   - dead letters: one per invalid line, none from the consumers.
//
// The last line is always
//
//	chaos: events=N lost=L duplicated=D mismatched_persons=M report_mismatches=R
//
// and the exit status is non-zero when any of those is non-zero, the dead
// letters differ, the consumer exited on its own (instead of riding out the
// service restarts), its peak RSS exceeded -max-rss-mb or it never caught
// up.
//
// Usage (from the repository root, with the stack up):
//
//	go run ./cmd/idlink-chaos [-n 200000] [-backpressure-seconds 60] [-seed 1]
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/idlink/idlink/internal/cli"
	"github.com/idlink/idlink/internal/namespace"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/producers/simulator"
	"github.com/idlink/idlink/schemas"
)

func main() { cli.Main(run) }

// options are the command-line flags.
type options struct {
	n             int
	seed          int64
	kills         int
	chunk         int
	duration      time.Duration
	backpressure  time.Duration
	settle        time.Duration
	maxRSSMiB     int64
	bin           string
	keep          bool
	clean         string
	chronological bool
	restarts      []string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := cli.FlagSet("idlink-chaos", stderr)
	o := &options{}
	var bpSeconds int
	var restarts string
	fs.IntVar(&o.n, "n", 200000, "distinct valid events to generate")
	fs.Int64Var(&o.seed, "seed", 1, "simulator and fault-schedule seed")
	fs.IntVar(&o.kills, "kills", 10, "how many times to kill -9 the consumer")
	fs.IntVar(&o.chunk, "chunk", 500, "lines per published chunk")
	fs.StringVar(&restarts, "restarts", "redis,clickhouse,kafka", "services to restart once each during the flow, comma separated (empty: none)")
	fs.DurationVar(&o.duration, "duration", 0, "how long events flow while faults happen (default max(90s, n/1000 s))")
	fs.IntVar(&bpSeconds, "backpressure-seconds", 60, "seconds ClickHouse stays stopped under load after the faults (0: skip)")
	fs.DurationVar(&o.settle, "settle-timeout", 15*time.Minute, "how long to wait for the consumer to catch up at the end")
	fs.Int64Var(&o.maxRSSMiB, "max-rss-mb", 1024, "fail if the consumer's resident memory ever exceeds this many MiB")
	fs.StringVar(&o.bin, "bin", "", "idlink binary to run (default: build ./cmd/idlink into a temporary directory)")
	fs.BoolVar(&o.keep, "keep", false, "keep the namespace (topics, Redis keys, ClickHouse database) and the work directory for inspection")
	fs.StringVar(&o.clean, "clean", "", "only remove the namespace of an earlier -keep run (e.g. chaos1a2b3c4d) and exit")
	fs.BoolVar(&o.chronological, "chronological", false, "publish the lines in application order (occurred_at, event_id) instead of the simulator's shuffled arrival order")
	if err := fs.Parse(args); err != nil {
		return nil, cli.Usage(err) // printed again after the flag set's usage
	}
	if fs.NArg() > 0 {
		return nil, cli.Usagef("unexpected arguments %q", fs.Args())
	}
	switch {
	case o.n < 100:
		return nil, cli.Usagef("-n must be at least 100")
	case o.kills < 0 || o.chunk < 1 || bpSeconds < 0:
		return nil, cli.Usagef("-kills and -backpressure-seconds must not be negative, -chunk must be positive")
	}
	var bad string
	if o.restarts, bad = cli.List(restarts, []string{"redis", "clickhouse", "kafka"}); bad != "" {
		return nil, cli.Usagef("-restarts: unknown service %q (redis, clickhouse, kafka)", bad)
	}
	o.backpressure = time.Duration(bpSeconds) * time.Second
	if o.duration <= 0 {
		o.duration = max(90*time.Second, time.Duration(o.n/1000)*time.Second)
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return cli.Exit("idlink-chaos", err, stderr)
	}
	if o.clean != "" {
		if err := clean(ctx, o.clean); err != nil {
			fmt.Fprintln(stderr, "idlink-chaos:", err)
			return 1
		}
		fmt.Fprintf(stdout, "removed namespace %s\n", o.clean)
		return 0
	}
	c := &chaos{o: o, log: newLogger(stdout)}
	code, err := c.run(ctx, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "idlink-chaos:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// clean removes the namespace id left by a -keep run.
func clean(ctx context.Context, id string) error {
	cfg, err := pipeline.LoadConfig(os.LookupEnv)
	if err != nil {
		return err
	}
	if err := useNamespace(cfg, id); err != nil {
		return err
	}
	return cleanup(ctx, cfg)
}

// chaos is one chaos run.
type chaos struct {
	o     *options
	log   *logger
	cfg   *pipeline.Config
	stack *stack
	work  string // temporary directory: binary, consumer log
	ds    *simulator.Dataset

	cons    *consumer
	rss     *rssSampler
	feed    *feeder
	summary []string // what each service fault took, for the summary line
}

// run does the whole run and prints the final line. It returns the exit
// code; an error means the run could not be completed.
func (c *chaos) run(ctx context.Context, stdout io.Writer) (int, error) {
	root, err := findRepoRoot()
	if err != nil {
		return 2, err
	}
	c.stack = &stack{root: root, log: c.log}
	cfg, err := pipeline.LoadConfig(os.LookupEnv)
	if err != nil {
		return 2, err
	}
	if err := cfg.RequireKey(); err != nil {
		return 2, err
	}
	if err := newNamespace(cfg); err != nil {
		return 1, err
	}
	c.cfg = cfg
	if c.work, err = os.MkdirTemp("", "idlink-chaos-"); err != nil {
		return 1, fmt.Errorf("creating a work directory: %w", err)
	}
	c.log.printf("namespace: topics %s*, groups %s*, redis %s*, clickhouse database %s; work directory %s",
		cfg.TopicPrefix, cfg.GroupPrefix, cfg.RedisPrefix, cfg.ClickHouseDatabase, c.work)

	res, failures, err := c.exercise(ctx)

	// Clean up whatever happened, before the final line.
	if c.o.keep {
		c.log.printf("keeping the namespace and %s (-keep)", c.work)
	} else {
		cctx := context.WithoutCancel(ctx)
		if cerr := cleanup(cctx, cfg); cerr != nil {
			c.log.printf("cleanup: %v", cerr)
		} else {
			c.log.printf("cleanup: topics, consumer groups, Redis keys and ClickHouse database removed")
		}
		if err == nil && len(failures) == 0 && res != nil && res.ok() {
			_ = os.RemoveAll(c.work)
		} else {
			c.log.printf("consumer log kept in %s", filepath.Join(c.work, "consumer.log"))
		}
	}
	if err != nil {
		return 1, err
	}
	for _, f := range failures {
		fmt.Fprintln(stdout, "FAIL:", f)
	}
	fmt.Fprintf(stdout, "chaos: events=%d lost=%d duplicated=%d mismatched_persons=%d report_mismatches=%d\n",
		res.events, res.lost, res.duplicated, res.mismatchedPersons, res.reportMismatches)
	if len(failures) > 0 || !res.ok() {
		return 1, nil
	}
	return 0, nil
}

// ok reports whether the verification found nothing wrong.
func (r *result) ok() bool {
	return r.lost == 0 && r.unexpected == 0 && r.duplicated == 0 && r.mismatchedPersons == 0 && r.reportMismatches == 0 && r.deadLetters.ok
}

// exercise builds, generates, runs the faults and verifies. failures are
// problems found besides the verification's figures.
func (c *chaos) exercise(ctx context.Context) (*result, []string, error) {
	started := time.Now()
	bin := c.o.bin
	if bin == "" {
		bin = filepath.Join(c.work, "idlink")
		t := time.Now()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/idlink")
		cmd.Dir = c.stack.root
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, nil, fmt.Errorf("building ./cmd/idlink: %w\n%s", err, out)
		}
		c.log.printf("built %s in %.1fs", bin, time.Since(t).Seconds())
	}

	t := time.Now()
	c.ds = simulator.Generate(simulator.Options{Seed: c.o.seed, Persons: max(c.o.n/10, 10), Events: c.o.n, Chronological: c.o.chronological})
	truth := newTruth(c.ds)
	so := c.ds.Options
	c.log.printf("dataset (seed %d, %.1fs): %d lines = %d valid events + %d duplicate lines + %d bad lines; %d persons, %d retractions, %d conflicts; %d expected person groups",
		so.Seed, time.Since(t).Seconds(), len(c.ds.Lines), len(c.ds.Events), len(c.ds.Duplicates), len(c.ds.Bad),
		len(c.ds.Persons), so.Retractions, so.Conflicts, len(truth.groups))

	codec, err := schemas.NewCodec()
	if err != nil {
		return nil, nil, err
	}
	if err := c.cfg.EnsureTopics(ctx, c.cfg.Topics().All()...); err != nil {
		return nil, nil, err
	}
	c.feed = &feeder{cfg: c.cfg, codec: codec, log: c.log, chunk: c.o.chunk}
	defer c.feed.close()

	c.cons = newConsumer(bin, namespace.Env(c.cfg), filepath.Join(c.work, "consumer.log"), c.log)
	if err := c.cons.start(ctx); err != nil {
		return nil, nil, err
	}
	c.log.printf("consumer started: %s run --metrics-addr off (pid %d)", bin, c.cons.pid())
	bg, stopBG := context.WithCancel(ctx)
	var bgWG sync.WaitGroup
	c.rss = &rssSampler{c: c.cons}
	bgWG.Go(func() { c.rss.run(bg) })
	bgWG.Go(func() { c.progress(bg) })
	stopped := false
	stopAll := func() {
		if !stopped {
			stopped = true
			c.cons.stop(30 * time.Second)
			stopBG()
			bgWG.Wait()
		}
	}
	defer stopAll()

	// The flow is split so both phases publish at the same rate.
	lines := c.ds.Lines
	split := len(lines)
	if c.o.backpressure > 0 {
		split = int(int64(len(lines)) * int64(c.o.duration) / int64(c.o.duration+c.o.backpressure))
	}
	var failures []string
	if err := c.faultPhase(ctx, lines[:split]); err != nil {
		return nil, nil, err
	}
	if c.o.backpressure > 0 {
		if err := c.backpressurePhase(ctx, lines[split:]); err != nil {
			return nil, nil, err
		}
	}
	if err := c.feed.close(); err != nil {
		c.log.printf("closing the producer: %v", err)
	}
	if !c.settle(ctx) {
		failures = append(failures, fmt.Sprintf("the consumer did not catch up within %s", c.o.settle))
	}
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	_, peak := c.rss.current()
	stopAll()

	starts, kills, unexpected := c.cons.stats()
	c.log.printf("faults done: consumer killed %d times, started %d times, exited on its own %d times; %s; producer chunk retries %d",
		kills, starts, len(unexpected), strings.Join(c.summary, ", "), c.feed.retries.Load())
	for _, u := range unexpected {
		c.log.printf("  consumer exited on its own: %s", u)
	}
	if len(unexpected) > 0 {
		failures = append(failures, fmt.Sprintf("the consumer exited on its own %d times instead of riding out the faults", len(unexpected)))
	}
	c.log.printf("memory: consumer peak RSS over the whole run %s (limit %d MiB)", mib(peak), c.o.maxRSSMiB)
	if peak > c.o.maxRSSMiB*1024 {
		failures = append(failures, fmt.Sprintf("consumer peak RSS %s exceeds -max-rss-mb %d", mib(peak), c.o.maxRSSMiB))
	}

	c.log.printf("verifying")
	v := &verifier{cfg: c.cfg, codec: codec, ds: c.ds, truth: truth}
	vctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	res, err := v.verify(vctx)
	if err != nil {
		return nil, nil, fmt.Errorf("verifying: %w", err)
	}
	for _, l := range res.lines {
		c.log.printf("%s", l)
	}
	if !res.deadLetters.ok {
		failures = append(failures, "the dead letters do not match the bad lines injected (see above)")
	}
	if res.unexpected > 0 {
		failures = append(failures, fmt.Sprintf("%d event ids in ClickHouse are not valid events of the dataset", res.unexpected))
	}
	c.log.printf("total time %s", time.Since(started).Round(time.Second))
	return res, failures, nil
}

// fault is one planned fault: a kill -9 of the consumer (svc "") or the
// restart of a service.
type fault struct {
	at  time.Duration // after the phase starts
	svc string
}

// minGap is the least time between a kill and the next service restart or
// outage, so the restarted consumer is past its start-up (which fails fast
// when a service is down) and working when the service goes away.
const minGap = 3 * time.Second

// killGap is the least time a consumer runs before it is killed, so kills
// delayed by a restart do not all land on a process still starting.
const killGap = 2 * time.Second

// plan draws the fault schedule of a flow lasting d: kills at uniformly
// random moments in [5%, 85%] of it, and one restart per service (at most
// three), in a random order, each somewhere in its own fifth of the flow from
// 10% on. The slack at the end absorbs restarts that take longer than
// planned.
func plan(r *rand.Rand, d time.Duration, kills int, restarts []string) []fault {
	var fs []fault
	for range kills {
		fs = append(fs, fault{at: d/20 + time.Duration(r.Int64N(int64(d*8/10)))})
	}
	services := slices.Clone(restarts)
	r.Shuffle(len(services), func(i, j int) { services[i], services[j] = services[j], services[i] })
	for i, svc := range services {
		seg := d / 5
		fs = append(fs, fault{at: d/10 + time.Duration(i)*seg + time.Duration(r.Int64N(int64(seg*6/10))), svc: svc})
	}
	slices.SortStableFunc(fs, func(a, b fault) int { return cmp.Compare(a.at, b.at) })
	return fs
}

// faultPhase publishes lines over o.duration while killing the consumer and
// restarting Redis, ClickHouse and Kafka at random moments (seeded). Faults
// run one at a time: a fault due while a restart is under way (a Kafka
// restart takes a while) waits for it, a restart waits until the consumer
// has run for minGap since it was last killed, and a kill until it has run
// for killGap.
func (c *chaos) faultPhase(ctx context.Context, lines [][]byte) error {
	d := c.o.duration
	faults := plan(rand.New(rand.NewPCG(uint64(c.o.seed), 0xc4a05)), d, c.o.kills, c.o.restarts)
	var desc []string
	for _, f := range faults {
		desc = append(desc, fmt.Sprintf("%s@%.0fs", cmp.Or(f.svc, "kill"), f.at.Seconds()))
	}
	c.log.printf("fault phase: %d lines over %s; plan: %s", len(lines), d, strings.Join(desc, " "))

	start := time.Now()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Go(func() {
		if err := c.feed.feed(ctx, lines, d, "chaos"); err != nil {
			errc <- fmt.Errorf("publishing: %w", err)
			return
		}
		c.log.printf("fault phase: all %d lines published", len(lines))
	})
	wg.Go(func() {
		kills := 0
		for _, f := range faults {
			due := start.Add(f.at)
			if f.svc != "" {
				due = later(due, c.cons.upSince().Add(minGap))
			} else {
				due = later(due, c.cons.upSince().Add(killGap))
			}
			if !sleepCtx(ctx, time.Until(due)) {
				return
			}
			if f.svc == "" {
				kills++
				pid, err := c.cons.kill9(ctx)
				if err != nil {
					errc <- fmt.Errorf("kill %d/%d: %w", kills, c.o.kills, err)
					return
				}
				c.log.printf("kill %d/%d: kill -9 consumer pid %d", kills, c.o.kills, pid)
			} else {
				c.log.printf("restart %s: stopping and starting it (compose/restart.sh %s)", f.svc, f.svc)
				took, err := c.stack.restart(f.svc)
				if err != nil {
					errc <- err
					return
				}
				c.log.printf("restart %s: answering again after %.1fs", f.svc, took.Seconds())
				c.summary = append(c.summary, fmt.Sprintf("%s restart %.1fs", f.svc, took.Seconds()))
			}
		}
	})
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return errors.Join(errs...)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// backpressurePhase stops ClickHouse for o.backpressure while lines keep
// flowing, then starts it again, sampling the consumer's RSS meanwhile.
func (c *chaos) backpressurePhase(ctx context.Context, lines [][]byte) error {
	sleepCtx(ctx, time.Until(c.cons.upSince().Add(minGap)))
	before, _ := c.rss.current()
	c.log.printf("backpressure: stopping clickhouse for %s while %d more lines flow (consumer RSS now %s)", c.o.backpressure, len(lines), mib(before))
	out, err := c.stack.stop("clickhouse")
	if err != nil {
		return err
	}
	stoppedAt := time.Now()
	c.rss.openWindow()
	c.log.printf("backpressure: clickhouse stopped")
	feedErr := make(chan error, 1)
	go func() { feedErr <- c.feed.feed(ctx, lines, c.o.backpressure*9/10, "backpressure") }()
	sleepCtx(ctx, time.Until(stoppedAt.Add(c.o.backpressure)))
	ferr := <-feedErr
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	g := c.cfg.Group("analytics")
	backlog, lerr := lag(lctx, c.cfg, g, groups(c.cfg)[g])
	cancel()
	peak, series := c.rss.closeWindow()
	c.log.printf("backpressure: starting clickhouse again after %.1fs down", time.Since(stoppedAt).Seconds())
	if err := out.resume(); err != nil {
		return err
	}
	if ferr != nil {
		return fmt.Errorf("publishing during the outage: %w", ferr)
	}
	backlogText := fmt.Sprint(backlog)
	if lerr != nil {
		backlogText = "unknown (" + oneLine(lerr) + ")"
	}
	c.log.printf("backpressure: clickhouse answering again; during the outage the analytics backlog grew to %s messages; consumer RSS before %s, peak during the outage %s",
		backlogText, mib(before), mib(peak))
	var every5 []string
	for i := 0; i < len(series); i += 5 {
		every5 = append(every5, fmt.Sprintf("%.0f", float64(series[i])/1024))
	}
	if len(series) > 0 {
		every5 = append(every5, fmt.Sprintf("%.0f", float64(series[len(series)-1])/1024))
	}
	c.log.printf("backpressure: consumer RSS during the outage, MiB every 5s: %s", strings.Join(every5, " "))
	c.summary = append(c.summary, fmt.Sprintf("clickhouse stopped %s (peak RSS %s)", c.o.backpressure, mib(peak)))
	return nil
}

// settle waits until both consumer groups have committed everything in their
// topics, three polls in a row. It reports whether they did within
// o.settle.
func (c *chaos) settle(ctx context.Context) bool {
	start := time.Now()
	deadline := start.Add(c.o.settle)
	streak := 0
	for time.Now().Before(deadline) {
		all := true
		for g, topics := range groups(c.cfg) {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			ok, err := c.cfg.CaughtUp(cctx, g, topics)
			cancel()
			all = all && ok && err == nil
		}
		if all {
			streak++
			if streak >= 3 {
				c.log.printf("caught up: both consumer groups committed everything, %.1fs after publishing ended", time.Since(start).Seconds())
				return true
			}
		} else {
			streak = 0
		}
		if !sleepCtx(ctx, time.Second) {
			return false
		}
	}
	return false
}

// progress prints a status line every 10 seconds.
func (c *chaos) progress(ctx context.Context) {
	every(ctx, 10*time.Second, func() { c.status(ctx) })
}

// status prints one progress line.
func (c *chaos) status(ctx context.Context) {
	var lags []string
	for _, name := range []string{"resolver", "analytics"} {
		g := c.cfg.Group(name)
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		n, err := lag(lctx, c.cfg, g, groups(c.cfg)[g])
		cancel()
		if err != nil {
			lags = append(lags, name+" ?")
		} else {
			lags = append(lags, fmt.Sprintf("%s %d", name, n))
		}
	}
	last, peak := c.rss.current()
	starts, kills, _ := c.cons.stats()
	c.log.printf("progress: published %d/%d lines; lag %s; consumer pid %d RSS %s (peak %s), started %d times, killed %d",
		c.feed.lines.Load(), len(c.ds.Lines), strings.Join(lags, ", "), c.cons.pid(), mib(last), mib(peak), starts, kills)
}
