package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/idlink/idlink/consumers/identity"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/producers"
	"github.com/idlink/idlink/producers/simulator"
)

// explainMissing runs when Redis holds fewer documents than the data set
// names: it regenerates the data set, looks every document up the way
// `idlink lookup` does, and prints what the events naming the missing ones
// have in common (by token prefix, never by number).
func (b *bench) explainMissing(ctx context.Context, cfg *pipeline.Config) error {
	ds := simulator.Generate(simulator.Options{Seed: b.opts.seed, Persons: b.opts.persons, Events: b.opts.n})
	byDoc := map[simulator.Doc][]int{}
	for i := range ds.Events {
		for _, d := range ds.Events[i].Docs {
			byDoc[d] = append(byDoc[d], i)
		}
	}
	docs := make([]simulator.Doc, 0, len(byDoc))
	for d := range byDoc {
		docs = append(docs, d)
	}
	store := identity.NewRedisStore(b.rdb, cfg.RedisPrefix, 0)
	var (
		mu      sync.Mutex
		missing []simulator.Doc
		tokens  = map[simulator.Doc]string{}
		firstEr error
		wg      sync.WaitGroup
	)
	const workers = 8
	for w := range workers {
		wg.Go(func() {
			ps := producers.NewPseudonymizer(cfg.PseudonymKey)
			for i := w; i < len(docs); i += workers {
				tok := ps.Token(docs[i].Type, docs[i].Number)
				v, err := identity.LookupDocument(ctx, store, tok)
				if err != nil || v == nil {
					mu.Lock()
					if err != nil && firstEr == nil {
						firstEr = err
					}
					if err == nil {
						missing = append(missing, docs[i])
						tokens[docs[i]] = tok
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if firstEr != nil {
		return fmt.Errorf("looking documents up: %w", firstEr)
	}
	b.progress("%d of %d documents have no person in Redis", len(missing), len(docs))
	kinds := map[string]int{}
	sort.Slice(missing, func(i, j int) bool { return tokens[missing[i]] < tokens[missing[j]] })
	for n, d := range missing {
		var tags []string
		for _, i := range byDoc[d] {
			tags = append(tags, eventTag(&ds.Events[i]))
		}
		sort.Strings(tags)
		kind := strings.Join(tags, " + ")
		kinds[kind]++
		if n < 5 {
			b.progress("  missing %s %s…, named by %d event(s): %s", d.Type, tokens[d][:12], len(byDoc[d]), kind)
		}
	}
	type kc struct {
		k string
		n int
	}
	var list []kc
	for k, n := range kinds {
		list = append(list, kc{k, n})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].n > list[j].n })
	for i, x := range list {
		if i == 10 {
			break
		}
		b.progress("  %d missing documents named only by: %s", x.n, x.k)
	}
	return nil
}

// eventTag describes an event's role in the data set.
func eventTag(e *simulator.Event) string {
	tag := e.Type
	switch {
	case e.Conflict != simulator.NoConflict:
		tag += "(conflict:" + e.Conflict.String() + ")"
	case e.Mistaken:
		tag += "(mistaken, retracted)"
	case e.RetractedBy != "":
		tag += "(retracted)"
	case e.Retracts != "":
		tag += "(retraction)"
	case e.Backbone:
		tag += "(backbone)"
	}
	return tag
}
