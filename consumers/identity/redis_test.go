package identity

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idlink/idlink/internal/stacktest"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/schemas"
)

// redisClient opens cfg's Redis for the test and closes it when it ends.
func redisClient(tb testing.TB, cfg *pipeline.Config) redis.UniversalClient {
	tb.Helper()
	rdb, err := cfg.Redis()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}

// concurrentRun feeds events (shuffled, with duplicates, retractions after
// their targets or before) to `workers` resolvers running at once over real Redis, and
// compares every person with a single replay of all events.
func concurrentRun(t *testing.T, rdb redis.UniversalClient, prefix string, seed uint64, workers int) {
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, 9))
	events := randomEvents(r, 200)
	plain := append([]tev(nil), events...)
	r.Shuffle(len(plain), func(i, j int) { plain[i], plain[j] = plain[j], plain[i] })
	for i := 0; i < 30; i++ {
		plain = append(plain, plain[r.IntN(len(plain))])
	}
	h := &harness{t: t, codec: codec}
	topics := (&pipeline.Config{TopicPrefix: prefix}).Topics()
	run := func(evs []tev) {
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			var mine []tev
			for i := w; i < len(evs); i += workers {
				mine = append(mine, evs[i])
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := New(NewRedisStore(rdb, prefix, 0), codec, &memPub{}, Options{Topics: topics})
				for len(mine) > 0 {
					n := min(len(mine), 1+r.IntN(20))
					if err := res.Handle(context.Background(), h.msgs(mine[:n]...)); err != nil {
						t.Error(err)
						return
					}
					mine = mine[n:]
				}
			}()
		}
		wg.Wait()
	}
	run(plain) // in any order: retractions may come before their targets

	// Reference: one cluster holding every event, replayed once.
	all, want := replayAll(events)
	store := NewRedisStore(rdb, prefix, 0)
	for i, d := range all.Docs {
		v, err := LookupDocument(context.Background(), store, d.Token)
		if err != nil || v == nil {
			t.Fatalf("lookup %s: %v %v", d.Token[:8], v, err)
		}
		if v.PersonID != want.PersonOf[i] {
			t.Fatalf("seed %d: document %d is with %s, want %s", seed, i, v.PersonID, want.PersonOf[i])
		}
	}
	cs, err := ListConflicts(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != len(want.Conflicts) {
		t.Fatalf("seed %d: %d conflicts, want %d", seed, len(cs), len(want.Conflicts))
	}
	// And the contract's reference agrees: same persons, same events held.
	wantPart, wantConf := reference(events)
	h.store = store
	canon := map[string]string{}
	var names []string
	for d := range wantPart {
		names = append(names, d)
	}
	slices.Sort(names)
	for _, d := range names {
		id := h.person(d).PersonID
		if _, ok := canon[id]; !ok {
			canon[id] = d
		}
		if canon[id] != wantPart[d] {
			t.Fatalf("seed %d: %s grouped with %s, the reference says %s", seed, d, canon[id], wantPart[d])
		}
	}
	for _, c := range cs {
		if !wantConf[c.EventID] {
			t.Fatalf("seed %d: %s held, the reference does not hold it", seed, c.EventID)
		}
	}
}

func TestRedisConcurrentResolvers(t *testing.T) {
	cfg := stacktest.Config(t)
	rdb := redisClient(t, cfg)
	for seed := uint64(1); seed <= 5; seed++ {
		concurrentRun(t, rdb, fmt.Sprintf("%sseed%d:", cfg.RedisPrefix, seed), seed, 3)
	}
}

func TestRedisCluster(t *testing.T) {
	url := stacktest.RedisCluster(t, 17101)
	cfg := &pipeline.Config{RedisURL: url}
	rdb := redisClient(t, cfg)
	if _, ok := rdb.(*redis.ClusterClient); !ok {
		t.Fatalf("want a cluster client, got %T", rdb)
	}
	for seed := uint64(1); seed <= 3; seed++ {
		concurrentRun(t, rdb, fmt.Sprintf("idl%d:", seed), seed, 3)
	}
	// The keys really are spread over the three masters.
	var masters int
	err := rdb.(*redis.ClusterClient).ForEachMaster(context.Background(), func(ctx context.Context, c *redis.Client) error {
		if n, err := c.DBSize(ctx).Result(); err == nil && n > 0 {
			masters++
		}
		return nil
	})
	if err != nil || masters != 3 {
		t.Fatalf("keys on %d masters (%v), want 3", masters, err)
	}
}

// TestRedisLocks: a lock held by one store is refused to another until its
// holder releases it or its TTL runs out, and only the holder releases it.
func TestRedisLocks(t *testing.T) {
	cfg := stacktest.Config(t)
	rdb := redisClient(t, cfg)
	ctx := context.Background()
	a := NewRedisStore(rdb, cfg.RedisPrefix, 10*time.Second)
	b := NewRedisStore(rdb, cfg.RedisPrefix, 10*time.Second)
	lock := func(s *RedisStore, names ...string) map[string]bool {
		t.Helper()
		got, _, _, _, err := s.LockLoad(ctx, names, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := lock(a, "00", "01"); !got["00"] || !got["01"] {
		t.Fatalf("a: %v, want both locks", got)
	}
	if got := lock(b, "01", "02"); got["01"] || !got["02"] {
		t.Fatalf("b: %v, want 02 only (a holds 01)", got)
	}
	if err := b.Release(ctx, []string{"00", "01", "02"}); err != nil { // 00 and 01 are a's
		t.Fatal(err)
	}
	if got := lock(b, "00"); got["00"] {
		t.Fatal("b released a's lock 00")
	}
	if err := a.Commit(ctx, &Writes{Unlock: []string{"00", "01"}}); err != nil {
		t.Fatal(err)
	}
	if got := lock(b, "00", "01"); !got["00"] || !got["01"] {
		t.Fatalf("b after a released: %v, want both", got)
	}
	// An expired lock is free: c's locks last 1s (long enough for a loaded
	// machine to try a live one first).
	c := NewRedisStore(rdb, cfg.RedisPrefix, time.Second)
	if got := lock(c, "03"); !got["03"] {
		t.Fatal("c could not take the free lock 03")
	}
	if got := lock(a, "03"); got["03"] {
		t.Fatal("a took c's live lock 03")
	}
	time.Sleep(1100 * time.Millisecond)
	if got := lock(a, "03"); !got["03"] {
		t.Fatal("a could not take c's expired lock 03")
	}
}

// TestRedisLockLoadSince: a reader that knows a blob reads only what was
// appended to it since, and the whole blob once another write replaced it.
func TestRedisLockLoadSince(t *testing.T) {
	cfg := stacktest.Config(t)
	rdb := redisClient(t, cfg)
	ctx := context.Background()
	s := NewRedisStore(rdb, cfg.RedisPrefix, 0)
	c := NewCluster("c1")
	c.Rev = 7
	c.AddDoc(Doc{Token: tok("R0"), Type: docType("R0"), BirthDate: docBirth("R0")})
	c.AddEvent(Event{ID: "e1", At: 1}, []string{tok("R0")})
	base, _ := c.MarshalBinary()
	c.Rev = 8
	c.AddDoc(Doc{Token: tok("P0"), Type: docType("P0")})
	c.AddEvent(Event{ID: "e2", At: 2}, []string{tok("R0"), tok("P0")})
	piece, _ := c.MarshalPiece(1, 1)
	load := func(known map[string]Known) *Loaded {
		t.Helper()
		l, err := s.LockLoadSince(ctx, nil, []string{"c1", "c2"}, nil, nil, known)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	if err := s.Commit(ctx, &Writes{Clusters: map[string][]byte{"c1": base}}); err != nil {
		t.Fatal(err)
	}
	known := map[string]Known{"c1": KnownOf(base), "c2": KnownOf(base)}
	if l := load(known); l.Tails["c1"] == nil || len(l.Tails["c1"]) != 0 || l.Blobs["c1"] != nil || len(l.Blobs)+len(l.Tails) != 1 {
		t.Fatalf("unchanged blob: tails %q, blobs %q; want an empty tail of c1 and nothing of c2", l.Tails, l.Blobs)
	}
	if err := s.Commit(ctx, &Writes{Appends: map[string][]byte{"c1": piece}}); err != nil {
		t.Fatal(err)
	}
	l := load(known)
	if string(l.Tails["c1"]) != string(piece) {
		t.Fatalf("after an append: tail %q, want the piece %q", l.Tails["c1"], piece)
	}
	got, err := UnmarshalCluster("c1", append(append([]byte(nil), base...), l.Tails["c1"]...))
	if err != nil || got.Rev != 8 || len(got.Docs) != 2 || len(got.Events) != 2 || got.Events[1].Docs[1] != 1 {
		t.Fatalf("base and piece decode to %+v (%v), want 2 documents, 2 events, revision 8", got, err)
	}
	c.Rev = 9
	whole, _ := c.MarshalBinary()
	if err := s.Commit(ctx, &Writes{Clusters: map[string][]byte{"c1": whole}}); err != nil {
		t.Fatal(err)
	}
	if l := load(known); string(l.Blobs["c1"]) != string(whole) || l.Tails["c1"] != nil {
		t.Fatalf("after a rewrite: blobs %q, tails %q; want the whole new blob", l.Blobs, l.Tails)
	}
}
