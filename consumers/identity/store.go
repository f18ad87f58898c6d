package identity

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Writes is everything one batch changes in the store.
type Writes struct {
	Clusters    map[string][]byte // cluster id -> blob
	DelClusters []string          // clusters absorbed into others
	Docs        map[string]string // token -> cluster id
	Events      map[string]string // event id -> cluster id
	Persons     map[string]string // person id (live or alias) -> cluster id
	SetConflict map[string][]byte // event id -> conflict record (JSON)
	DelConflict []string
	Unlock      []string // locks to release
}

func newWrites() *Writes {
	return &Writes{Clusters: map[string][]byte{}, Docs: map[string]string{}, Events: map[string]string{}, Persons: map[string]string{}, SetConflict: map[string][]byte{}}
}

// Store is where the resolver keeps its state. Every operation touches
// single keys only (so it runs on Redis Cluster), and each call is one round
// trip.
type Store interface {
	// Lookup returns the cluster of every token and event id that has one.
	Lookup(ctx context.Context, tokens, events []string) (docs, evs map[string]string, err error)
	// LockLoad tries every lock (cluster ids), then reads the blobs of
	// clusters and re-reads the cluster of tokens, in that order.
	LockLoad(ctx context.Context, locks, clusters, tokens []string) (got map[string]bool, blobs map[string][]byte, docs map[string]string, err error)
	// Commit applies w and releases w.Unlock.
	Commit(ctx context.Context, w *Writes) error
	// Release releases locks without writing.
	Release(ctx context.Context, locks []string) error
	// ClusterOf returns the blob of the cluster holding a token or a person id
	// ("" kinds are "doc" and "person"); nil if unknown.
	ClusterOf(ctx context.Context, kind, id string) (cid string, blob []byte, err error)
	// Conflicts returns every held conflict record.
	Conflicts(ctx context.Context) (map[string][]byte, error)
}

// RedisStore keeps resolver state in Redis (a single server or a Cluster).
//
// Keys (P = the configured prefix):
//
//	P d:<token>   -> cluster id       (string)
//	P e:<eventid> -> cluster id       (string)
//	P p:<person>  -> cluster id       (string; live and merged-away ids)
//	P c:<cluster> -> cluster blob     (string, see MarshalBinary)
//	P l:<cluster> -> lock owner       (string with a TTL)
//	P conflicts   -> event id -> conflict record (hash)
type RedisStore struct {
	rdb     redis.UniversalClient
	prefix  string
	owner   string
	lockTTL time.Duration
}

// NewRedisStore wraps a client. lockTTL bounds how long a crashed process
// can hold a cluster (default 10s).
func NewRedisStore(rdb redis.UniversalClient, prefix string, lockTTL time.Duration) *RedisStore {
	var b [12]byte
	_, _ = rand.Read(b[:])
	if lockTTL <= 0 {
		lockTTL = 10 * time.Second
	}
	return &RedisStore{rdb: rdb, prefix: prefix, owner: hex.EncodeToString(b[:]), lockTTL: lockTTL}
}

func (s *RedisStore) k(kind, id string) string { return s.prefix + kind + ":" + id }

// unlockScript deletes a lock only if this process still owns it. It is sent
// with EVAL (not EVALSHA) because it runs inside pipelines, where go-redis
// cannot fall back after NOSCRIPT; it is tiny.
const unlockScript = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) end return 0`

// Lookup implements Store.
func (s *RedisStore) Lookup(ctx context.Context, tokens, events []string) (map[string]string, map[string]string, error) {
	pipe := s.rdb.Pipeline()
	dc := make([]*redis.StringCmd, len(tokens))
	for i, t := range tokens {
		dc[i] = pipe.Get(ctx, s.k("d", t))
	}
	ec := make([]*redis.StringCmd, len(events))
	for i, e := range events {
		ec[i] = pipe.Get(ctx, s.k("e", e))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, fmt.Errorf("looking up %d documents in redis: %w", len(tokens), err)
	}
	docs := make(map[string]string, len(tokens))
	for i, c := range dc {
		if v, err := c.Result(); err == nil {
			docs[tokens[i]] = v
		}
	}
	evs := map[string]string{}
	for i, c := range ec {
		if v, err := c.Result(); err == nil {
			evs[events[i]] = v
		}
	}
	return docs, evs, nil
}

// LockLoad implements Store.
func (s *RedisStore) LockLoad(ctx context.Context, locks, clusters, tokens []string) (map[string]bool, map[string][]byte, map[string]string, error) {
	pipe := s.rdb.Pipeline()
	lc := make([]*redis.BoolCmd, len(locks))
	for i, l := range locks {
		lc[i] = pipe.SetNX(ctx, s.k("l", l), s.owner, s.lockTTL)
	}
	cc := make([]*redis.StringCmd, len(clusters))
	for i, c := range clusters {
		cc[i] = pipe.Get(ctx, s.k("c", c))
	}
	dc := make([]*redis.StringCmd, len(tokens))
	for i, t := range tokens {
		dc[i] = pipe.Get(ctx, s.k("d", t))
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		// Locks we may hold expire by themselves; try to release them now.
		_ = s.Release(context.WithoutCancel(ctx), locks)
		return nil, nil, nil, fmt.Errorf("locking and loading %d clusters in redis: %w", len(clusters), err)
	}
	got := make(map[string]bool, len(locks))
	for i, c := range lc {
		got[locks[i]] = c.Val()
	}
	blobs := make(map[string][]byte, len(clusters))
	for i, c := range cc {
		if v, err := c.Bytes(); err == nil {
			blobs[clusters[i]] = v
		}
	}
	docs := make(map[string]string, len(tokens))
	for i, c := range dc {
		if v, err := c.Result(); err == nil {
			docs[tokens[i]] = v
		}
	}
	return got, blobs, docs, nil
}

// Commit implements Store. Blobs are written before the pointers to them, so
// a crash half way leaves state that the next delivery of the batch repairs.
func (s *RedisStore) Commit(ctx context.Context, w *Writes) error {
	pipe := s.rdb.Pipeline()
	for id, b := range w.Clusters {
		pipe.Set(ctx, s.k("c", id), b, 0)
	}
	for t, c := range w.Docs {
		pipe.Set(ctx, s.k("d", t), c, 0)
	}
	for e, c := range w.Events {
		pipe.Set(ctx, s.k("e", e), c, 0)
	}
	for p, c := range w.Persons {
		pipe.Set(ctx, s.k("p", p), c, 0)
	}
	for e, b := range w.SetConflict {
		pipe.HSet(ctx, s.prefix+"conflicts", e, b)
	}
	if len(w.DelConflict) > 0 {
		pipe.HDel(ctx, s.prefix+"conflicts", w.DelConflict...)
	}
	for _, id := range w.DelClusters {
		pipe.Del(ctx, s.k("c", id))
	}
	for _, l := range w.Unlock {
		pipe.Eval(ctx, unlockScript, []string{s.k("l", l)}, s.owner)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("writing %d clusters to redis: %w", len(w.Clusters), err)
	}
	return nil
}

// Release implements Store.
func (s *RedisStore) Release(ctx context.Context, locks []string) error {
	if len(locks) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	for _, l := range locks {
		pipe.Eval(ctx, unlockScript, []string{s.k("l", l)}, s.owner)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("releasing %d cluster locks in redis: %w", len(locks), err)
	}
	return nil
}

// ClusterOf implements Store.
func (s *RedisStore) ClusterOf(ctx context.Context, kind, id string) (string, []byte, error) {
	k := "d"
	if kind == "person" {
		k = "p"
	}
	cid, err := s.rdb.Get(ctx, s.k(k, id)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("looking up %s in redis: %w", kind, err)
	}
	b, err := s.rdb.Get(ctx, s.k("c", cid)).Bytes()
	if errors.Is(err, redis.Nil) {
		return cid, nil, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("reading cluster %s from redis: %w", cid, err)
	}
	return cid, b, nil
}

// Conflicts implements Store.
func (s *RedisStore) Conflicts(ctx context.Context) (map[string][]byte, error) {
	m, err := s.rdb.HGetAll(ctx, s.prefix+"conflicts").Result()
	if err != nil {
		return nil, fmt.Errorf("reading conflicts from redis: %w", err)
	}
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = []byte(v)
	}
	return out, nil
}
