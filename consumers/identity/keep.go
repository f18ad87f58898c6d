package identity

import "sync"

// kept is a cluster a resolver holds decoded between batches, with the
// replay of all its events, so that a batch whose events sort after all of
// the cluster's reads only what other processes appended to its blob, and
// replays only its own events (replayer.extend): its cost does not grow
// with the cluster.
type kept struct {
	c      *Cluster
	blob   []byte          // c's blob as stored
	play   *replayer       // the replay of every event of c; nil when it must be replayed again
	parked map[string]bool // the event ids c's retractions name
}

// size is what a kept cluster counts against Options.KeepBudget.
func (k *kept) size() int { return len(k.c.Docs) + len(k.c.Events) }

// newKept keeps cluster c as stored in blob, replayed by play.
func newKept(c *Cluster, blob []byte, play *replayer) *kept {
	return &kept{c: c, blob: blob, play: play, parked: addParked(map[string]bool{}, c.Events)}
}

// addParked adds to parked the event ids the retractions among events
// name, and returns it.
func addParked(parked map[string]bool, events []Event) map[string]bool {
	for i := range events {
		if e := &events[i]; e.Retract {
			parked[e.Retracts] = true
		}
	}
	return parked
}

// keeper holds a resolver's kept clusters by id. A kept cluster is taken
// out while a batch works on it and put back only once that batch is
// committed, so a batch that fails leaves nothing half applied in memory.
type keeper struct {
	from, budget int // Options.KeepFrom, Options.KeepBudget

	mu   sync.Mutex
	m    map[string]*kept
	size int // the sum of the kept clusters' sizes
}

func newKeeper(from, budget int) *keeper {
	return &keeper{from: from, budget: budget, m: map[string]*kept{}}
}

// wants reports whether a cluster of n events is worth keeping.
func (k *keeper) wants(n int) bool { return k.from > 0 && n >= k.from }

// known returns the blobs held of the clusters named in ids.
func (k *keeper) known(ids []string) map[string]Known {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.m) == 0 {
		return nil
	}
	var out map[string]Known
	for _, id := range ids {
		if c := k.m[id]; c != nil {
			if out == nil {
				out = map[string]Known{}
			}
			out[id] = KnownOf(c.blob)
		}
	}
	return out
}

// take removes and returns the cluster kept under id, or nil.
func (k *keeper) take(id string) *kept {
	k.mu.Lock()
	defer k.mu.Unlock()
	c := k.m[id]
	if c != nil {
		delete(k.m, id)
		k.size -= c.size()
	}
	return c
}

// drop forgets the cluster kept under id, if any.
func (k *keeper) drop(id string) { k.take(id) }

// put keeps clusters, forgetting others (in no particular order) while
// the kept clusters are over budget; a cluster larger than the whole
// budget is not kept.
func (k *keeper) put(cs []*kept) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, c := range cs {
		if old := k.m[c.c.ID]; old != nil {
			k.size -= old.size()
		}
		k.m[c.c.ID] = c
		k.size += c.size()
	}
	for id, c := range k.m {
		if k.size <= k.budget {
			break
		}
		delete(k.m, id)
		k.size -= c.size()
	}
}
