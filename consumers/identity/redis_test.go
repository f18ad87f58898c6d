package identity

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/idlink/idlink/internal/stacktest"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/schemas"
)

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
}

func TestRedisConcurrentResolvers(t *testing.T) {
	cfg := stacktest.Config(t)
	rdb, err := cfg.Redis()
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	for seed := uint64(1); seed <= 5; seed++ {
		concurrentRun(t, rdb, fmt.Sprintf("%sseed%d:", cfg.RedisPrefix, seed), seed, 3)
	}
}

func TestRedisCluster(t *testing.T) {
	url := stacktest.RedisCluster(t, 17101)
	cfg := &pipeline.Config{RedisURL: url}
	rdb, err := cfg.Redis()
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if _, ok := rdb.(*redis.ClusterClient); !ok {
		t.Fatalf("want a cluster client, got %T", rdb)
	}
	for seed := uint64(1); seed <= 3; seed++ {
		concurrentRun(t, rdb, fmt.Sprintf("idl%d:", seed), seed, 3)
	}
	// The keys really are spread over the three masters.
	var masters int
	err = rdb.(*redis.ClusterClient).ForEachMaster(context.Background(), func(ctx context.Context, c *redis.Client) error {
		if n, err := c.DBSize(ctx).Result(); err == nil && n > 0 {
			masters++
		}
		return nil
	})
	if err != nil || masters != 3 {
		t.Fatalf("keys on %d masters (%v), want 3", masters, err)
	}
}
