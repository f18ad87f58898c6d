package verify

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/idlink/idlink/consumers/identity"
)

// IdentityStates returns the States of the resolver's store:
// identity.DocumentStates, with the lookups of concurrent calls gathered
// into one. A batch reads the clusters of all its documents in two round
// trips (Store.Lookup, then Store.LockLoad without locks) where one call
// alone would make two per document, and replays each cluster once.
//
// A batch's answer for a call is the one DocumentStates gives for that
// call's tokens alone: any read the prefetch could not serve (a cluster
// renamed meanwhile) is made again against the store itself, and a batch
// that fails is split into its calls.
func IdentityStates(store identity.Store) States {
	b := &batcher{store: store, workers: statesWorkers, max: statesBatch}
	return b.states
}

// The batching of IdentityStates: at most statesWorkers batches are read at
// once, each of at most statesBatch calls; a call that finds a worker free
// is read at once, alone. With one worker, every call that arrives while a
// batch is read goes in the next: the fewest round trips to Redis per call,
// which on a machine shared with Redis is what bounds calls per second.
const (
	statesWorkers = 1
	statesBatch   = 256
	// statesTimeout bounds one batch's reads (a batch serves several
	// calls, so no one call's context bounds it).
	statesTimeout = time.Second
)

type batcher struct {
	store   identity.Store
	workers int
	max     int

	mu      sync.Mutex
	pending []*statesCall
	running int // workers draining pending
}

type statesCall struct {
	tokens []string
	done   chan struct{}
	states []*identity.DocumentState
	err    error
}

func (b *batcher) states(ctx context.Context, tokens []string) ([]*identity.DocumentState, error) {
	c := &statesCall{tokens: tokens, done: make(chan struct{})}
	b.mu.Lock()
	b.pending = append(b.pending, c)
	start := b.running < b.workers
	if start {
		b.running++
	}
	b.mu.Unlock()
	if start {
		b.drain()
	}
	select {
	case <-c.done:
		return c.states, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// drain reads batches of pending calls until there are none. The caller
// that started it returns as soon as its own call is answered, leaving the
// draining to a goroutine.
func (b *batcher) drain() {
	for {
		b.mu.Lock()
		if len(b.pending) == 0 {
			b.running--
			b.mu.Unlock()
			return
		}
		n := min(len(b.pending), b.max)
		batch := make([]*statesCall, n)
		copy(batch, b.pending)
		b.pending = append(b.pending[:0], b.pending[n:]...)
		more := len(b.pending) > 0
		b.mu.Unlock()
		b.read(batch)
		if more {
			go b.drain()
			return
		}
	}
}

// read answers a batch of calls.
func (b *batcher) read(batch []*statesCall) {
	ctx, cancel := context.WithTimeout(context.Background(), statesTimeout)
	defer cancel()
	var all []string
	for _, c := range batch {
		all = append(all, c.tokens...)
	}
	states, err := identity.DocumentStates(ctx, prefetch(ctx, b.store, all), all)
	if err != nil && len(batch) > 1 {
		// One call's trouble must not fail the others: each on its own.
		for _, c := range batch {
			c.states, c.err = identity.DocumentStates(ctx, b.store, c.tokens)
			close(c.done)
		}
		return
	}
	if err == nil && len(states) != len(all) {
		err = fmt.Errorf("%d document states for %d documents", len(states), len(all))
	}
	for _, c := range batch {
		if err != nil {
			c.err = err
		} else {
			c.states, states = states[:len(c.tokens):len(c.tokens)], states[len(c.tokens):]
		}
		close(c.done)
	}
}

// prefetched is a Store whose ClusterOf answers a document's first read from
// what prefetch read; every other read goes to the store.
type prefetched struct {
	identity.Store
	mu    sync.Mutex
	fresh map[string]bool   // tokens prefetched and not read yet
	cid   map[string]string // token -> cluster id; tokens in none are absent
	blobs map[string][]byte // cluster id -> blob
}

// prefetch reads the cluster of every token in two round trips. When it
// fails, the reads are left to the store.
func prefetch(ctx context.Context, s identity.Store, tokens []string) identity.Store {
	docs, _, err := s.Lookup(ctx, tokens, nil)
	if err != nil {
		return s
	}
	seen := make(map[string]bool, len(docs))
	var cids []string
	for _, cid := range docs {
		if !seen[cid] {
			seen[cid] = true
			cids = append(cids, cid)
		}
	}
	var blobs map[string][]byte
	if len(cids) > 0 {
		if _, blobs, _, _, err = s.LockLoad(ctx, nil, cids, nil, nil); err != nil {
			return s
		}
	}
	fresh := make(map[string]bool, len(tokens))
	for _, t := range tokens {
		fresh[t] = true
	}
	return &prefetched{Store: s, fresh: fresh, cid: docs, blobs: blobs}
}

// ClusterOf implements identity.Store. A document's first read is answered
// from the prefetch: no cluster, or the cluster and its blob. A later read
// (DocumentStates reads again when the cluster it got no longer holds the
// document), or one the prefetch has no blob for, goes to the store.
func (p *prefetched) ClusterOf(ctx context.Context, kind, id string) (string, []byte, error) {
	if kind == "doc" {
		p.mu.Lock()
		fresh := p.fresh[id]
		delete(p.fresh, id)
		cid, ok := p.cid[id]
		blob := p.blobs[cid]
		p.mu.Unlock()
		switch {
		case fresh && !ok:
			return "", nil, nil
		case fresh && blob != nil:
			return cid, blob, nil
		}
	}
	return p.Store.ClusterOf(ctx, kind, id)
}
