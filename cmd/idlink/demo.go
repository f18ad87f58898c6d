package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/consumers/identity"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/producers"
	"github.com/idlink/idlink/producers/simulator"
	"github.com/idlink/idlink/schemas"
)

// demoKey pseudonymises the demo's synthetic numbers when no key is set. It
// is not a secret: the demo's data is made up.
const demoKey = "idlink-demo-key-not-a-secret"

func cmdDemo(ctx context.Context, a *app, args []string) int {
	fs := a.flags("demo", "[--persons N] [--seed S]")
	persons := fs.Int("persons", 3000, "size of the synthetic population")
	seed := fs.Int64("seed", 1, "seed of the bundled sample data (same seed, same data)")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if !a.noArgs(fs) {
		return 2
	}
	if *persons < 1 || *persons > 1_000_000 {
		fmt.Fprintln(a.stderr, "idlink demo: --persons must be between 1 and 1000000")
		return 2
	}
	cfg, ok := a.config()
	if !ok {
		return 1
	}
	demoNamespace(cfg, a.lookup)
	// The consumers' routine logs would drown the report; keep warnings.
	log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := runDemo(ctx, a.stdout, log, cfg, simulator.Options{Seed: *seed, Persons: *persons}); err != nil {
		return a.fail(err)
	}
	return 0
}

// demoNamespace keeps the demo's topics, groups, keys and tables apart from
// real data, unless the environment names them explicitly.
func demoNamespace(cfg *pipeline.Config, lookup pipeline.Lookup) {
	set := func(key string, dst *string, v string) {
		if _, ok := lookup(key); !ok {
			*dst = v
		}
	}
	set("IDLINK_TOPIC_PREFIX", &cfg.TopicPrefix, "demo.")
	set("IDLINK_GROUP_PREFIX", &cfg.GroupPrefix, "demo-")
	set("IDLINK_REDIS_PREFIX", &cfg.RedisPrefix, "demo:")
	set("CLICKHOUSE_DATABASE", &cfg.ClickHouseDatabase, "idlink_demo")
	if len(cfg.PseudonymKey) == 0 {
		cfg.PseudonymKey = []byte(demoKey)
	}
}

func runDemo(ctx context.Context, out io.Writer, log *slog.Logger, cfg *pipeline.Config, o simulator.Options) error {
	ds := simulator.Generate(o)
	fmt.Fprintf(out, "== sample data (seed %d)\n%d lines: %d persons, %d distinct events, %d bad lines, %d repeated lines\n\n",
		ds.Options.Seed, len(ds.Lines), len(ds.Persons), len(ds.Events), len(ds.Bad), len(ds.Duplicates))

	codec, err := schemas.NewCodec()
	if err != nil {
		return err
	}
	p, err := producers.New(ctx, cfg, codec, producers.Options{})
	if err != nil {
		return err
	}
	res, err := p.ProduceFile(ctx, bytes.NewReader(ds.Bytes()), "demo.jsonl")
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("producing the sample data: %w", err)
	}
	fmt.Fprintf(out, "== idlink produce\naccepted %d, rejected %d (to the dead-letter topic), repeated %d\n", res.Accepted, res.Rejected, res.Repeats)
	reasons := make([]string, 0, len(res.Reasons))
	for r := range res.Reasons {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	for _, r := range reasons {
		fmt.Fprintf(out, "  %-26s %d\n", r, res.Reasons[r])
	}

	fmt.Fprintln(out, "\n== idlink run --exit-when-idle")
	if err := runConsumers(ctx, log, cfg, runOptions{exitWhenIdle: true}); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	fmt.Fprintln(out, "identity resolution and analytics have caught up")

	if err := demoIdentity(ctx, out, cfg, ds); err != nil {
		return err
	}
	store, err := analytics.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	for _, name := range analytics.ReportNames() {
		rows, err := store.Report(ctx, name)
		if err != nil {
			return err
		}
		if name == "activations-over-time" { // a day per row: the dashboard's chart
			fmt.Fprintf(out, "\n== idlink stats %s\n%d rows (day, doc_type, channel, events): see `idlink serve`\n", name, len(rows))
			continue
		}
		cols, _ := analytics.ReportColumns(name)
		fmt.Fprintf(out, "\n== idlink stats %s\n", name)
		if err := writeTable(out, cols, rows); err != nil {
			return err
		}
	}
	return nil
}

// demoIdentity shows one person known under several documents, and the
// conflicts held back.
func demoIdentity(ctx context.Context, out io.Writer, cfg *pipeline.Config, ds *simulator.Dataset) error {
	rdb, err := cfg.Redis()
	if err != nil {
		return err
	}
	defer rdb.Close()
	store := identity.NewRedisStore(rdb, cfg.RedisPrefix, 0)
	ps := producers.NewPseudonymizer(cfg.PseudonymKey)
	for _, person := range ds.Persons {
		if len(person.Docs) < 3 {
			continue
		}
		fmt.Fprintf(out, "\n== idlink lookup (one person, %d documents)\n", len(person.Docs))
		for _, d := range person.Docs {
			v, err := identity.LookupDocument(ctx, store, ps.Token(d.Type, d.Number))
			if err != nil {
				return err
			}
			id := "(unknown)"
			if v != nil {
				id = v.PersonID
			}
			fmt.Fprintf(out, "  %-24s %s  -> %s\n", d.Type, mask(d.Number), id)
		}
		break
	}
	conflicts, err := identity.ListConflicts(ctx, store)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "\n== idlink conflicts\n%d events held back for review\n", len(conflicts))
	for i, c := range conflicts {
		if i == 5 {
			fmt.Fprintf(out, "  … and %d more\n", len(conflicts)-5)
			break
		}
		fmt.Fprintf(out, "  %s  %s  persons %s\n", c.EventID, c.Reason, strings.Join(c.PersonIDs, ", "))
	}
	return nil
}

// mask shows only the last two characters of a document number.
func mask(n string) string {
	if len(n) <= 2 {
		return n
	}
	return strings.Repeat("*", len(n)-2) + n[len(n)-2:]
}

// writeTable prints report rows as an aligned table.
func writeTable(w io.Writer, columns []string, rows []analytics.Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(columns, "\t"))
	for _, r := range rows {
		cells := make([]string, len(r.Values))
		for i, v := range r.Values {
			cells[i] = fmt.Sprint(v)
			if cells[i] == "" {
				cells[i] = "-"
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	if len(rows) == 0 {
		fmt.Fprintln(w, "(no rows: has `idlink run` consumed any events?)")
	}
	return nil
}
