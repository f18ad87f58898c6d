package main

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/consumers/identity"
	"github.com/idlink/idlink/internal/namespace"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/producers"
	"github.com/idlink/idlink/producers/simulator"
	"github.com/idlink/idlink/schemas"
)

// result is what the verification found.
type result struct {
	events            int // distinct valid events in the dataset
	lost              int // valid events with no row in ClickHouse
	unexpected        int // event ids in ClickHouse that are not valid events of the dataset
	duplicated        uint64
	mismatchedPersons int
	reportMismatches  int
	deadLetters       deadLetters
	lines             []string // details worth printing
}

// verifier checks the namespace's final state against the dataset's truth.
type verifier struct {
	cfg   *pipeline.Config
	codec *schemas.Codec
	ds    *simulator.Dataset
	truth *truth
}

// verify runs every check. An error means a check could not run at all.
func (v *verifier) verify(ctx context.Context) (*result, error) {
	res := &result{events: len(v.ds.Events)}
	store, err := analytics.Open(ctx, v.cfg)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	if err := v.checkLost(ctx, store, res); err != nil {
		return nil, err
	}
	if err := v.checkReports(ctx, store, res); err != nil {
		return nil, err
	}
	if err := v.checkDeadLetters(ctx, res); err != nil {
		return nil, err
	}
	if err := v.checkPersons(ctx, res); err != nil {
		return nil, err
	}
	return res, nil
}

// checkLost counts valid events with no row in ClickHouse's event_documents
// (every valid event has at least one row there, see
// analytics/migrations/0001_init.sql).
func (v *verifier) checkLost(ctx context.Context, store *analytics.Store, res *result) error {
	rows, err := store.Conn().Query(ctx, "SELECT DISTINCT event_id FROM event_documents")
	if err != nil {
		return fmt.Errorf("reading event ids from ClickHouse: %w", err)
	}
	defer rows.Close()
	have := make(map[string]bool, len(v.ds.Events))
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("reading event ids from ClickHouse: %w", err)
		}
		have[id] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading event ids from ClickHouse: %w", err)
	}
	var lost []string
	for i := range v.ds.Events {
		id := v.ds.Events[i].ID
		if !have[id] {
			lost = append(lost, id)
		}
		delete(have, id)
	}
	res.lost, res.unexpected = len(lost), len(have)
	res.lines = append(res.lines, fmt.Sprintf("clickhouse: %d of %d valid events stored, %d lost, %d unexpected event ids", len(v.ds.Events)-len(lost), len(v.ds.Events), len(lost), len(have)))
	if len(lost) > 0 {
		res.lines = append(res.lines, "  lost, e.g.: "+strings.Join(lost[:min(len(lost), 10)], " "))
	}
	if len(have) > 0 {
		extra := slices.Sorted(maps.Keys(have))
		res.lines = append(res.lines, "  unexpected, e.g.: "+strings.Join(extra[:min(len(extra), 10)], " "))
	}
	return nil
}

// checkReports compares every report of CONTRACT.md §3 with its expected
// rows.
func (v *verifier) checkReports(ctx context.Context, store *analytics.Store, res *result) error {
	for _, spec := range reportSpecs() {
		rows, err := store.Report(ctx, spec.name)
		if err != nil {
			return err
		}
		got, err := tableOf(spec, rows)
		if err != nil {
			return err
		}
		d := compare(spec, v.truth.reports[spec.name], got)
		res.reportMismatches += d.rows
		res.duplicated += d.overcount
		res.lines = append(res.lines, fmt.Sprintf("report %s: %d rows expected, %d rows got, %d differ, %d events over-counted", spec.name, len(v.truth.reports[spec.name]), len(got), d.rows, d.overcount))
		for _, l := range d.lines {
			res.lines = append(res.lines, "  "+l)
		}
	}
	return nil
}

// deadLetters summarises the dead-letter topic. Messages are told apart by
// (stage, source): a chunk the chaos tool published twice, or a batch a
// killed resolver handled twice, writes the same dead letter again with the
// same source, and it is one rejected event.
type deadLetters struct {
	messages int
	distinct map[string]int            // stage -> distinct dead letters
	reasons  map[string]map[string]int // stage -> reason -> distinct dead letters
	ok       bool                      // producer's match the bad lines, no other stage's
}

func (v *verifier) checkDeadLetters(ctx context.Context, res *result) error {
	dl := deadLetters{distinct: map[string]int{}, reasons: map[string]map[string]int{}}
	seen := map[string]bool{}
	err := namespace.ReadTopic(ctx, v.cfg, v.cfg.Topics().DeadLetter(), func(m kafka.Message) error {
		dl.messages++
		d, err := v.codec.DecodeDeadLetter(m.Value)
		if err != nil {
			return fmt.Errorf("decoding a dead letter at %s/%d/%d: %w", m.Topic, m.Partition, m.Offset, err)
		}
		k := d.Stage + "\x00" + d.Source
		if seen[k] {
			return nil
		}
		seen[k] = true
		dl.distinct[d.Stage]++
		if dl.reasons[d.Stage] == nil {
			dl.reasons[d.Stage] = map[string]int{}
		}
		dl.reasons[d.Stage][d.Reason]++
		return nil
	})
	if err != nil {
		return err
	}
	want := v.ds.ExpectedProduce()
	total := 0
	for _, n := range dl.distinct {
		total += n
	}
	dl.ok = dl.distinct["producer"] == want.Rejected && maps.Equal(dl.reasons["producer"], want.Reasons) && total == dl.distinct["producer"]
	res.deadLetters = dl
	res.lines = append(res.lines, fmt.Sprintf("dead letters: %d distinct (%d messages); bad events injected %d; by stage: producer %d %v, resolver %d %v, sink %d %v",
		total, dl.messages, want.Rejected,
		dl.distinct["producer"], dl.reasons["producer"], dl.distinct["resolver"], dl.reasons["resolver"], dl.distinct["sink"], dl.reasons["sink"]))
	if !maps.Equal(dl.reasons["producer"], want.Reasons) {
		res.lines = append(res.lines, fmt.Sprintf("  producer reasons differ from the bad lines': want %v", want.Reasons))
	}
	return nil
}

// checkPersons looks every document of every expected person up in Redis
// (identity.LookupDocument, as `idlink lookup` does). A group mismatches when
// one of its documents is unknown, its documents do not share one person ID,
// the person holds documents outside the group, or another group has the
// same person ID.
func (v *verifier) checkPersons(ctx context.Context, res *result) error {
	rdb, err := v.cfg.Redis()
	if err != nil {
		return err
	}
	defer rdb.Close()
	store := identity.NewRedisStore(rdb, v.cfg.RedisPrefix, 0)

	ps := producers.NewPseudonymizer(v.cfg.PseudonymKey)
	type job struct{ g, d int }
	tokens := make([][]string, len(v.truth.groups))
	var jobs []job
	for g, docs := range v.truth.groups {
		tokens[g] = make([]string, len(docs))
		for d, x := range docs {
			tokens[g][d] = ps.Token(x.Type, x.Number)
			jobs = append(jobs, job{g, d})
		}
	}
	pids := make([][]string, len(v.truth.groups))
	views := make([][]string, len(v.truth.groups)) // document tokens of the first document's person
	for g := range pids {
		pids[g] = make([]string, len(tokens[g]))
	}
	ch := make(chan job)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for j := range ch {
				pv, err := identity.LookupDocument(ctx, store, tokens[j.g][j.d])
				if err != nil {
					select {
					case errc <- fmt.Errorf("looking up a document: %w", err):
					default:
					}
					continue
				}
				if pv == nil {
					continue
				}
				pids[j.g][j.d] = pv.PersonID
				if j.d == 0 {
					toks := make([]string, len(pv.Documents))
					for i, d := range pv.Documents {
						toks[i] = d.Token
					}
					views[j.g] = toks
				}
			}
		})
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}

	owner := map[string]int{}
	bad := make([]string, len(v.truth.groups)) // why each group mismatches
	for g := range v.truth.groups {
		pid := pids[g][0]
		for d, p := range pids[g] {
			switch {
			case p == "":
				bad[g] = fmt.Sprintf("document %d (%s) unknown", d, v.truth.groups[g][d].Type)
			case p != pid && bad[g] == "":
				bad[g] = fmt.Sprintf("split between persons %s and %s", pid, p)
			}
		}
		if bad[g] != "" {
			continue
		}
		want := slices.Sorted(slices.Values(tokens[g]))
		got := slices.Sorted(slices.Values(views[g]))
		if !slices.Equal(want, got) {
			bad[g] = fmt.Sprintf("person %s holds %d documents, want %d", pid, len(got), len(want))
		}
		if o, ok := owner[pid]; ok {
			bad[g] = fmt.Sprintf("shares person %s with another group", pid)
			if bad[o] == "" {
				bad[o] = bad[g]
			}
			continue
		}
		owner[pid] = g
	}
	var mismatched []int
	for g, why := range bad {
		if why != "" {
			mismatched = append(mismatched, g)
		}
	}
	res.mismatchedPersons = len(mismatched)
	res.lines = append(res.lines, fmt.Sprintf("persons: %d expected, %d match, %d mismatch", len(v.truth.groups), len(v.truth.groups)-len(mismatched), len(mismatched)))
	for _, g := range mismatched[:min(len(mismatched), 10)] {
		res.lines = append(res.lines, fmt.Sprintf("  person of %s (%d documents): %s", v.personOf(g), len(v.truth.groups[g]), bad[g]))
	}
	held, err := identity.ListConflicts(ctx, store)
	if err != nil {
		return err
	}
	intended := map[string]bool{}
	for i := range v.ds.Events {
		if v.ds.Events[i].Conflict != simulator.NoConflict {
			intended[v.ds.Events[i].ID] = true
		}
	}
	hits, extra := 0, 0
	for _, c := range held {
		if intended[c.EventID] {
			hits++
		} else {
			extra++
		}
	}
	res.lines = append(res.lines, fmt.Sprintf("conflicts: the resolver holds %d, the dataset intends %d; %d intended ones held, %d held that the dataset does not intend", len(held), len(intended), hits, extra))
	if len(mismatched) > 0 {
		lines, err := v.diagnose(ctx, store, mismatched[:min(len(mismatched), 5)], tokens)
		if err != nil {
			return err
		}
		res.lines = append(res.lines, "  the first mismatches in detail:")
		res.lines = append(res.lines, lines...)
	}
	return nil
}

// diagnose describes mismatched groups for a human: every valid event
// naming two or more of the group's documents, with what the simulator says
// about it and which resolver cluster (if any) recorded it, and the cluster
// each document is in. Cluster ids are token prefixes, never numbers.
func (v *verifier) diagnose(ctx context.Context, store *identity.RedisStore, gs []int, tokens [][]string) ([]string, error) {
	var out []string
	for _, g := range gs {
		in := map[simulator.Doc]bool{}
		for _, d := range v.truth.groups[g] {
			in[d] = true
		}
		var ids []string
		var descs []string
		for i := range v.ds.Events {
			e := &v.ds.Events[i]
			n := 0
			for _, d := range e.Docs {
				if in[d] {
					n++
				}
			}
			if n == 0 || (len(e.Docs) < 2 && e.Retracts == "") {
				continue
			}
			ids = append(ids, e.ID)
			descs = append(descs, fmt.Sprintf("%s %s %s docs=%d/%d line=%d backbone=%v mistaken=%v conflict=%q retracted_by=%q",
				e.ID, e.OccurredAt.Format("2006-01-02T15:04"), e.Type, n, len(e.Docs), e.Line, e.Backbone, e.Mistaken, e.Conflict.String(), e.RetractedBy))
		}
		docs, evs, err := store.Lookup(ctx, tokens[g], ids)
		if err != nil {
			return nil, fmt.Errorf("diagnosing: %w", err)
		}
		var where []string
		for i, t := range tokens[g] {
			where = append(where, fmt.Sprintf("%s→%s", v.truth.groups[g][i].Type, cmp.Or(docs[t], "none")))
		}
		out = append(out, fmt.Sprintf("    %s: documents in clusters %s", v.personOf(g), strings.Join(where, " ")))
		for i, id := range ids {
			out = append(out, fmt.Sprintf("      event %s; resolver cluster %s", descs[i], cmp.Or(evs[id], "none")))
		}
	}
	return out, nil
}

// personOf names the simulator person holding group g's first document, for
// messages (no document numbers).
func (v *verifier) personOf(g int) string {
	first := v.truth.groups[g][0]
	for p := range v.ds.Persons {
		if slices.Contains(v.ds.Persons[p].Docs, first) {
			return fmt.Sprintf("simulator person %d", p)
		}
	}
	return fmt.Sprintf("group %d", g)
}
