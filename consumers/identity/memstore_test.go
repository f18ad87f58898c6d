package identity

import (
	"context"
	"strings"
	"sync"

	"github.com/segmentio/kafka-go"
)

// memStore is an in-memory Store for unit tests. Locks are per owner so
// several resolvers can share one memStore like processes share Redis.
type memStore struct {
	mu        sync.Mutex
	rev       int64
	kv        map[string]string
	conflicts map[string]string
	locks     map[string]*memOwner
}

type memOwner struct{}

func (m *memHandle) NextRevision(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rev++
	return m.rev, nil
}

type memHandle struct {
	*memStore
	owner *memOwner
}

func newMemStore() *memStore {
	return &memStore{kv: map[string]string{}, conflicts: map[string]string{}, locks: map[string]*memOwner{}}
}

func (m *memStore) handle() *memHandle { return &memHandle{memStore: m, owner: &memOwner{}} }

func (h *memHandle) Lookup(_ context.Context, tokens, events []string) (map[string]string, map[string]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d, e := map[string]string{}, map[string]string{}
	for _, t := range tokens {
		if v, ok := h.kv["d:"+t]; ok {
			d[t] = v
		}
	}
	for _, x := range events {
		if v, ok := h.kv["e:"+x]; ok {
			e[x] = v
		}
	}
	return d, e, nil
}

func (h *memHandle) LockLoad(ctx context.Context, locks, clusters, tokens, events []string) (map[string]bool, map[string][]byte, map[string]string, map[string]string, error) {
	l, err := h.LockLoadSince(ctx, locks, clusters, tokens, events, nil)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return l.Got, l.Blobs, l.Docs, l.Events, nil
}

func (h *memHandle) LockLoadSince(_ context.Context, locks, clusters, tokens, events []string, known map[string]Known) (*Loaded, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	l := &Loaded{Got: map[string]bool{}, Blobs: map[string][]byte{}, Tails: map[string][]byte{}, Docs: map[string]string{}, Events: map[string]string{}}
	for _, lk := range locks {
		if h.locks[lk] == nil {
			h.locks[lk] = h.owner
			l.Got[lk] = true
		}
	}
	for _, c := range clusters {
		v, ok := h.kv["c:"+c]
		if !ok {
			continue
		}
		if k, ok := known[c]; ok && strings.HasPrefix(v, k.Head) && len(v) >= k.Len {
			l.Tails[c] = []byte(v[k.Len:])
		} else {
			l.Blobs[c] = []byte(v)
		}
	}
	for _, t := range tokens {
		if v, ok := h.kv["d:"+t]; ok {
			l.Docs[t] = v
		}
	}
	for _, e := range events {
		if v, ok := h.kv["e:"+e]; ok {
			l.Events[e] = v
		}
	}
	return l, nil
}

func (h *memHandle) Commit(_ context.Context, w *Writes) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, v := range w.Clusters {
		h.kv["c:"+k] = string(v)
	}
	for k, v := range w.Appends {
		h.kv["c:"+k] += string(v)
	}
	for k, v := range w.Docs {
		h.kv["d:"+k] = v
	}
	for k, v := range w.Events {
		h.kv["e:"+k] = v
	}
	for k, v := range w.Persons {
		h.kv["p:"+k] = v
	}
	for k, v := range w.SetConflict {
		h.conflicts[k] = v
	}
	for _, k := range w.DelConflict {
		delete(h.conflicts, k)
	}
	for _, k := range w.DelClusters {
		delete(h.kv, "c:"+k)
	}
	h.unlock(w.Unlock)
	return nil
}

func (h *memHandle) unlock(locks []string) {
	for _, l := range locks {
		if h.locks[l] == h.owner {
			delete(h.locks, l)
		}
	}
}

func (h *memHandle) Release(_ context.Context, locks []string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unlock(locks)
	return nil
}

func (h *memHandle) ClusterOf(_ context.Context, kind, id string) (string, []byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cid := id
	if kind != "cluster" {
		k := "d:"
		if kind == "person" {
			k = "p:"
		}
		var ok bool
		if cid, ok = h.kv[k+id]; !ok {
			return "", nil, nil
		}
	}
	b, ok := h.kv["c:"+cid]
	if !ok {
		return cid, nil, nil
	}
	return cid, []byte(b), nil
}

func (h *memHandle) Conflicts(context.Context) (map[string]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]string{}
	for k, v := range h.conflicts {
		out[k] = v
	}
	return out, nil
}

// memPub collects published messages.
type memPub struct {
	mu   sync.Mutex
	msgs []kafka.Message
}

func (p *memPub) WriteMessages(_ context.Context, msgs ...kafka.Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, msgs...)
	return nil
}
