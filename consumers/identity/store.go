package identity

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// Writes is everything one batch changes in the store.
type Writes struct {
	Clusters    map[string][]byte // cluster id -> blob, replacing the stored one
	Appends     map[string][]byte // cluster id -> piece appended to the stored blob
	DelClusters []string          // clusters absorbed into others
	Docs        map[string]string // token -> cluster id
	Events      map[string]string // event id -> cluster id
	Persons     map[string]string // person id (live or alias) -> cluster id
	SetConflict map[string]string // held event id -> cluster id
	DelConflict []string          // event ids no longer held
	Unlock      []string          // locks to release

	keep []*kept // clusters the resolver keeps once the writes are committed
}

func newWrites() *Writes { return newWritesFor(0) }

// newWritesFor returns empty Writes with room for the writes of about n
// units (one cluster, document, event and person each).
func newWritesFor(n int) *Writes {
	return &Writes{Clusters: make(map[string][]byte, n), Appends: map[string][]byte{}, Docs: make(map[string]string, n), Events: make(map[string]string, n), Persons: make(map[string]string, n), SetConflict: map[string]string{}}
}

// merge adds o's writes to w.
func (w *Writes) merge(o *Writes) {
	for k, v := range o.Clusters {
		w.Clusters[k] = v
	}
	for k, v := range o.Appends {
		w.Appends[k] = v
	}
	w.DelClusters = append(w.DelClusters, o.DelClusters...)
	for k, v := range o.Docs {
		w.Docs[k] = v
	}
	for k, v := range o.Events {
		w.Events[k] = v
	}
	for k, v := range o.Persons {
		w.Persons[k] = v
	}
	for k, v := range o.SetConflict {
		w.SetConflict[k] = v
	}
	w.DelConflict = append(w.DelConflict, o.DelConflict...)
	w.Unlock = append(w.Unlock, o.Unlock...)
	w.keep = append(w.keep, o.keep...)
}

// Store is where the resolver keeps its state. Every operation touches
// single keys only (so it runs on Redis Cluster), and each call is one round
// trip (two on a Cluster, where locks must be taken before reads and released
// after writes).
type Store interface {
	// Lookup returns the cluster of every token and event id that has one.
	Lookup(ctx context.Context, tokens, events []string) (docs, evs map[string]string, err error)
	// LockLoad tries every lock, then reads the blobs of clusters and
	// re-reads the cluster of tokens and of event ids, in that order.
	LockLoad(ctx context.Context, locks, clusters, tokens, events []string) (got map[string]bool, blobs map[string][]byte, docs, evs map[string]string, err error)
	// LockLoadSince is LockLoad for a caller holding some clusters decoded
	// (known): of a known cluster whose blob still begins with Known.Head
	// and is at least Known.Len long, it reads only the bytes after Len.
	LockLoadSince(ctx context.Context, locks, clusters, tokens, events []string, known map[string]Known) (*Loaded, error)
	// Commit applies w and releases w.Unlock.
	Commit(ctx context.Context, w *Writes) error
	// Release releases locks without writing.
	Release(ctx context.Context, locks []string) error
	// ClusterOf returns the blob of the cluster holding a token (kind "doc")
	// or a person id ("person"), or of cluster id ("cluster"); nil if unknown.
	ClusterOf(ctx context.Context, kind, id string) (cid string, blob []byte, err error)
	// Conflicts returns the cluster of every held event, by event id.
	Conflicts(ctx context.Context) (map[string]string, error)
	// NextRevision returns a number larger than every one it returned
	// before, to any process: the least revision a round may write.
	NextRevision(ctx context.Context) (int64, error)
}

// Known is a blob its reader holds decoded: its first bytes, which name
// its base (see MarshalBinary), and its length.
type Known struct {
	Head string
	Len  int
}

// knownHead is how many of a blob's first bytes Known.Head holds: the
// version byte and the longest uvarint revision.
const knownHead = 11

// KnownOf returns the Known of a blob.
func KnownOf(blob []byte) Known {
	return Known{Head: string(blob[:min(len(blob), knownHead)]), Len: len(blob)}
}

// Loaded is what LockLoadSince took and read.
type Loaded struct {
	Got   map[string]bool   // lock name -> taken
	Blobs map[string][]byte // cluster id -> blob; absent when there is none
	// Tails holds, for a known cluster whose blob still has the known base,
	// the bytes appended after Known.Len (maybe none), in place of Blobs.
	Tails  map[string][]byte
	Docs   map[string]string // token -> cluster id, read after the locks
	Events map[string]string // event id -> cluster id, likewise
}

// RedisStore keeps resolver state in Redis (a single server or a Cluster).
//
// Pointers live in bucketed hashes, so one batch costs one command per bucket
// rather than one per document, and small hashes stay in Redis' compact
// listpack encoding (raise hash-max-listpack-entries to ~1024 for large data
// sets). Keys (P = the configured prefix, b = a 3-hex-digit bucket):
//
//	P d:b        hash  raw 32-byte token -> cluster id
//	P e:b        hash  event id          -> cluster id
//	P p:b        hash  person id         -> cluster id (live and merged-away ids)
//	P c:<id>     string cluster blob: a base and appended pieces (see MarshalBinary)
//	P locks      hash  lock name -> "owner:deadline in ms"; a lock guards a bucket of clusters
//	P conflicts  hash  held event id -> cluster id
//	P rev        string the last revision number handed out (NextRevision)
//
// Every command and script touches one key, so the layout runs on Redis
// Cluster.
type RedisStore struct {
	rdb     redis.UniversalClient
	prefix  string
	owner   string
	lockTTL time.Duration

	docKeys, eventKeys, personKeys *[buckets]string
}

// NewRedisStore wraps a client. lockTTL bounds how long a crashed process
// can hold a cluster (default 10s).
func NewRedisStore(rdb redis.UniversalClient, prefix string, lockTTL time.Duration) *RedisStore {
	var b [12]byte
	_, _ = rand.Read(b[:])
	if lockTTL <= 0 {
		lockTTL = 10 * time.Second
	}
	return &RedisStore{
		rdb: rdb, prefix: prefix, owner: hex.EncodeToString(b[:]), lockTTL: lockTTL,
		docKeys: bucketKeys(prefix, "d"), eventKeys: bucketKeys(prefix, "e"), personKeys: bucketKeys(prefix, "p"),
	}
}

// cluster reports whether the client talks to a Redis Cluster, where one
// pipeline's commands run on several nodes concurrently and so in no
// guaranteed order across keys.
func (s *RedisStore) cluster() bool {
	_, ok := s.rdb.(*redis.ClusterClient)
	return ok
}

// LockName is the lock guarding a cluster: clusters share 256 locks, named
// by the first two hex digits of the cluster id. Few locks keep the lock
// scripts short: a batch of a thousand events would otherwise take and
// release thousands of locks.
func LockName(cid string) string { return cid[:2] }

// lockNames holds the 256 lock names, so parkedLockName allocates nothing.
var lockNames = func() (n [256]string) {
	for i := range n {
		n[i] = fmt.Sprintf("%02x", i)
	}
	return n
}()

func (s *RedisStore) k(kind, id string) string { return s.prefix + kind + ":" + id }

// buckets is how many hashes hold the pointers of one kind.
const buckets = 4096

// tokenBucket is the bucket of a token: its first three hex digits. Callers
// pass valid tokens only (ValidToken).
func tokenBucket(tok string) int {
	b := 0
	for i := 0; i < 3; i++ {
		b = b<<4 | int(hexValue[tok[i]]&0x0f)
	}
	return b
}

func tokenField(tok string) string {
	raw, err := hex.DecodeString(tok)
	if err != nil {
		return tok
	}
	return string(raw)
}

// idBucket is the bucket of an event or person id: its 32-bit FNV-1a hash,
// modulo 4096.
func idBucket(id string) int {
	const offset, prime = 2166136261, 16777619
	h := uint32(offset)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= prime
	}
	return int(h & (buckets - 1))
}

// bucketKeys names the buckets of one kind: "P d:" + three hex digits.
func bucketKeys(prefix, kind string) *[buckets]string {
	var keys [buckets]string
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%s:%03x", prefix, kind, i)
	}
	return &keys
}

// byBucket orders n items by bucket (a counting sort): the items of bucket
// runs[i].b are order[runs[i].lo:runs[i].hi].
type byBucket struct {
	order []int32
	runs  []bucketRun
}

type bucketRun struct{ b, lo, hi int }

func groupByBucket(n int, bucket func(i int) int) byBucket {
	if n < smallGroup {
		return groupFew(n, bucket)
	}
	bs := make([]uint16, n)
	var count [buckets + 1]int32
	for i := range n {
		b := bucket(i)
		bs[i] = uint16(b)
		count[b+1]++
	}
	var g byBucket
	for b := 0; b < buckets; b++ {
		if c := count[b+1]; c > 0 {
			lo := int(count[b])
			g.runs = append(g.runs, bucketRun{b: b, lo: lo, hi: lo + int(c)})
		}
		count[b+1] += count[b]
	}
	g.order = make([]int32, n)
	for i, b := range bs {
		g.order[count[b]] = int32(i)
		count[b]++
	}
	return g
}

// smallGroup is the size below which groupByBucket sorts rather than
// counts: a count walks all the buckets, a sort only the items.
const smallGroup = 64

// groupFew is groupByBucket by a stable sort: the same result.
func groupFew(n int, bucket func(i int) int) byBucket {
	if n == 0 {
		return byBucket{}
	}
	bs := make([]int, n)
	g := byBucket{order: make([]int32, n)}
	for i := range n {
		bs[i], g.order[i] = bucket(i), int32(i)
	}
	slices.SortStableFunc(g.order, func(a, b int32) int { return bs[a] - bs[b] })
	for lo := 0; lo < n; {
		b, hi := bs[g.order[lo]], lo+1
		for hi < n && bs[g.order[hi]] == b {
			hi++
		}
		g.runs = append(g.runs, bucketRun{b: b, lo: lo, hi: hi})
		lo = hi
	}
	return g
}

// The locks of a batch are taken and released by one script call each, on
// the single hash "P locks" (field: lock name, value: "owner:deadline", the
// deadline in ms of the server's clock). lockScript takes, for owner ARGV[1]
// with a TTL of ARGV[2] ms, every lock in ARGV[3:] that is free or expired,
// and returns a 1 or 0 per lock; unlockScript deletes the locks in ARGV[2:]
// that owner ARGV[1] holds. Each writes with a single command: Redis logs a
// script that writes twice as a MULTI/EXEC block in the append-only file,
// and Redis 7.0 refuses such blocks when it loads the file if the default
// user is off, as on the local stack (redis/redis#14541). They are sent with
// EVAL (not EVALSHA) because they run inside pipelines, where go-redis cannot
// fall back after NOSCRIPT; they are small.
const (
	lockScript = `local t = redis.call("TIME")
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local got, set = {}, {}
for i = 3, #ARGV do
  local v = redis.call("HGET", KEYS[1], ARGV[i])
  local free = not v
  if v then
    local sep = string.find(v, ":", 1, true)
    free = sep == nil or (tonumber(string.sub(v, sep + 1)) or 0) <= now
  end
  if free then
    got[i - 2] = 1
    set[#set + 1] = ARGV[i]
    set[#set + 1] = ARGV[1] .. ":" .. string.format("%.0f", now + tonumber(ARGV[2]))
  else
    got[i - 2] = 0
  end
end
if #set > 0 then redis.call("HSET", KEYS[1], unpack(set)) end
return got`
	unlockScript = `local mine = ARGV[1] .. ":"
local del = {}
for i = 2, #ARGV do
  local v = redis.call("HGET", KEYS[1], ARGV[i])
  if v and string.sub(v, 1, #mine) == mine then del[#del + 1] = ARGV[i] end
end
if #del > 0 then return redis.call("HDEL", KEYS[1], unpack(del)) end
return 0`
)

// lockArgs returns the script arguments for locks after the given ones.
func lockArgs(locks []string, first ...any) []any {
	args := make([]any, 0, len(first)+len(locks))
	args = append(args, first...)
	for _, l := range locks {
		args = append(args, lockArg(l))
	}
	return args
}

// lockAnys are the lock names as script arguments, boxed once.
var lockAnys = func() (a [256]any) {
	for i := range a {
		a[i] = lockNames[i]
	}
	return a
}()

// lockArg is lock name l as a script argument (without an allocation for
// the usual two-hex-digit names).
func lockArg(l string) any {
	if len(l) == 2 {
		hi, ok1 := unhex(l[0])
		lo, ok2 := unhex(l[1])
		if i := hi<<4 | lo; ok1 && ok2 && lockNames[i] == l {
			return lockAnys[i]
		}
	}
	return l
}

// unlock queues the release of locks on pipe.
func (s *RedisStore) unlock(ctx context.Context, pipe redis.Pipeliner, locks []string) {
	if len(locks) > 0 {
		pipe.Eval(ctx, unlockScript, []string{s.prefix + "locks"}, lockArgs(locks, s.owner)...)
	}
}

// hmget queues one HMGET per bucket; collect reads the answers into out.
type hmget struct {
	ids  []string
	g    byBucket
	cmds []*redis.SliceCmd // per run
}

// queueHMGet queues the HMGETs of ids on pipe: ids[i] is read from field
// fields[i] of bucket key keys[bucket(ids[i])]. The fields are passed by
// pointer (go-redis writes a *string like a string), so queueing them
// allocates nothing per field.
func queueHMGet(ctx context.Context, pipe redis.Pipeliner, keys *[buckets]string, ids, fields []string, bucket func(string) int) *hmget {
	h := &hmget{ids: ids, g: groupByBucket(len(ids), func(i int) int { return bucket(ids[i]) })}
	h.cmds = make([]*redis.SliceCmd, len(h.g.runs))
	args := make([]any, 0, 2*len(h.g.runs)+len(ids))
	for r, run := range h.g.runs {
		lo := len(args)
		args = append(args, "hmget", keys[run.b])
		for _, i := range h.g.order[run.lo:run.hi] {
			args = append(args, &fields[i])
		}
		h.cmds[r] = redis.NewSliceCmd(ctx, args[lo:len(args):len(args)]...)
		_ = pipe.Process(ctx, h.cmds[r])
	}
	return h
}

func (h *hmget) collect(out map[string]string) {
	for r, run := range h.g.runs {
		vals := h.cmds[r].Val()
		for j, i := range h.g.order[run.lo:run.hi] {
			if j < len(vals) {
				if v, ok := vals[j].(string); ok {
					out[h.ids[i]] = v
				}
			}
		}
	}
}

// tokenFields returns tokenField of every token, in one allocation.
func tokenFields(tokens []string) []string {
	raw := make([]byte, 0, 32*len(tokens))
	ends := make([]int, len(tokens))
	for i, t := range tokens {
		raw = appendTokenField(raw, t)
		ends[i] = len(raw)
	}
	all := string(raw)
	fields := make([]string, len(tokens))
	off := 0
	for i, end := range ends {
		fields[i] = all[off:end]
		off = end
	}
	return fields
}

// appendTokenField appends tokenField(t) to b.
func appendTokenField(b []byte, t string) []byte {
	var raw [32]byte
	if !decodeToken(&raw, t) {
		return append(b, tokenField(t)...)
	}
	return append(b, raw[:]...)
}

// decodeToken decodes a 64-hex-digit token (either case, as hex.Decode
// accepts) into raw; false if tok is not one.
func decodeToken(raw *[32]byte, tok string) bool {
	if len(tok) != 64 {
		return false
	}
	bad := byte(0)
	for i := range raw {
		hi, lo := hexValue[tok[2*i]], hexValue[tok[2*i+1]]
		bad |= hi | lo
		raw[i] = hi<<4 | lo&0x0f
	}
	return bad&0xf0 == 0
}

// hexValue is the value of a hex digit; 0xff for any other byte.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		t[c], t[c-'a'+'A'] = c-'a'+10, c-'a'+10
	}
	return t
}()

func unhex(c byte) (byte, bool) { return hexValue[c], hexValue[c] != 0xff }

func (s *RedisStore) docGets(ctx context.Context, pipe redis.Pipeliner, tokens []string) *hmget {
	return queueHMGet(ctx, pipe, s.docKeys, tokens, tokenFields(tokens), tokenBucket)
}

func (s *RedisStore) eventGets(ctx context.Context, pipe redis.Pipeliner, events []string) *hmget {
	return queueHMGet(ctx, pipe, s.eventKeys, events, events, idBucket)
}

func pipeErr(err error) bool { return err != nil && !errors.Is(err, redis.Nil) }

// Lookup implements Store.
func (s *RedisStore) Lookup(ctx context.Context, tokens, events []string) (map[string]string, map[string]string, error) {
	pipe := s.rdb.Pipeline()
	dg := s.docGets(ctx, pipe, tokens)
	eg := s.eventGets(ctx, pipe, events)
	if _, err := pipe.Exec(ctx); pipeErr(err) {
		return nil, nil, fmt.Errorf("looking up %d documents in redis: %w", len(tokens), err)
	}
	docs := make(map[string]string, len(tokens))
	dg.collect(docs)
	evs := map[string]string{}
	eg.collect(evs)
	return docs, evs, nil
}

// LockLoad implements Store.
func (s *RedisStore) LockLoad(ctx context.Context, locks, clusters, tokens, events []string) (map[string]bool, map[string][]byte, map[string]string, map[string]string, error) {
	l, err := s.LockLoadSince(ctx, locks, clusters, tokens, events, nil)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return l.Got, l.Blobs, l.Docs, l.Events, nil
}

// LockLoadSince implements Store.
func (s *RedisStore) LockLoadSince(ctx context.Context, locks, clusters, tokens, events []string, known map[string]Known) (*Loaded, error) {
	pipe := s.rdb.Pipeline()
	var lc *redis.Cmd
	if len(locks) > 0 {
		lc = pipe.Eval(ctx, lockScript, []string{s.prefix + "locks"}, lockArgs(locks, s.owner, s.lockTTL.Milliseconds())...)
	}
	if s.cluster() {
		// A cluster runs a pipeline's commands on every node at once: take
		// the locks before reading what they guard.
		if _, err := pipe.Exec(ctx); pipeErr(err) {
			_ = s.Release(context.WithoutCancel(ctx), locks)
			return nil, fmt.Errorf("locking %d clusters in redis: %w", len(locks), err)
		}
		pipe = s.rdb.Pipeline()
	}
	// A known blob is read as its head and its tail; one whose head
	// changed (rewritten by another process) is read whole afterwards.
	cc := make([]*redis.StringCmd, len(clusters))
	heads := make([]*redis.StringCmd, len(clusters))
	for i, c := range clusters {
		if k, ok := known[c]; ok {
			heads[i] = pipe.GetRange(ctx, s.k("c", c), 0, int64(len(k.Head))-1)
			cc[i] = pipe.GetRange(ctx, s.k("c", c), int64(k.Len), -1)
		} else {
			cc[i] = pipe.Get(ctx, s.k("c", c))
		}
	}
	dg := s.docGets(ctx, pipe, tokens)
	eg := s.eventGets(ctx, pipe, events)
	if _, err := pipe.Exec(ctx); pipeErr(err) {
		// Locks we may hold expire by themselves; try to release them now.
		_ = s.Release(context.WithoutCancel(ctx), locks)
		return nil, fmt.Errorf("locking and loading %d clusters in redis: %w", len(clusters), err)
	}
	l := &Loaded{Got: make(map[string]bool, len(locks)), Blobs: make(map[string][]byte, len(clusters)), Tails: map[string][]byte{}}
	if lc != nil {
		res, err := lc.Int64Slice()
		if err != nil || len(res) != len(locks) {
			_ = s.Release(context.WithoutCancel(ctx), locks)
			return nil, fmt.Errorf("locking %d clusters in redis: unexpected reply %v: %w", len(locks), lc.Val(), err)
		}
		for i, v := range res {
			l.Got[locks[i]] = v == 1
		}
	}
	var changed []string
	for i, c := range clusters {
		switch {
		case heads[i] == nil:
			if v, err := cc[i].Bytes(); err == nil {
				l.Blobs[c] = v
			}
		case heads[i].Val() == known[c].Head:
			// GETRANGE past the end is empty: a blob shorter than known
			// (never written so) would read as unchanged; the head, which
			// names the base, rules that out.
			l.Tails[c] = []byte(cc[i].Val())
		default:
			changed = append(changed, c)
		}
	}
	if len(changed) > 0 {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(changed))
		for i, c := range changed {
			cmds[i] = pipe.Get(ctx, s.k("c", c))
		}
		if _, err := pipe.Exec(ctx); pipeErr(err) {
			_ = s.Release(context.WithoutCancel(ctx), locks)
			return nil, fmt.Errorf("loading %d clusters from redis: %w", len(changed), err)
		}
		for i, c := range changed {
			if v, err := cmds[i].Bytes(); err == nil {
				l.Blobs[c] = v
			}
		}
	}
	l.Docs = make(map[string]string, len(tokens))
	dg.collect(l.Docs)
	l.Events = make(map[string]string, len(events))
	eg.collect(l.Events)
	return l, nil
}

// hset queues one HSET per bucket of the pointers m (id -> cluster id),
// whose fields are fields(ids)[i] for ids[i]. Fields and values are passed by
// pointer, as in queueHMGet.
func hset(ctx context.Context, pipe redis.Pipeliner, keys *[buckets]string, m map[string]string, bucket func(string) int, fields func([]string) []string) {
	if len(m) == 0 {
		return
	}
	ids := make([]string, 0, len(m))
	vals := make([]string, 0, len(m))
	for id, v := range m {
		ids = append(ids, id)
		vals = append(vals, v)
	}
	fs := fields(ids)
	g := groupByBucket(len(ids), func(i int) int { return bucket(ids[i]) })
	args := make([]any, 0, 2*len(g.runs)+2*len(ids))
	for _, run := range g.runs {
		lo := len(args)
		args = append(args, "hset", keys[run.b])
		for _, i := range g.order[run.lo:run.hi] {
			args = append(args, &fs[i], &vals[i])
		}
		_ = pipe.Process(ctx, redis.NewIntCmd(ctx, args[lo:len(args):len(args)]...))
	}
}

// idFields are the fields of ids: the ids themselves.
func idFields(ids []string) []string { return ids }

// Commit implements Store. Blobs are written before the pointers to them, so
// a crash half way leaves state that the next delivery of the batch repairs.
func (s *RedisStore) Commit(ctx context.Context, w *Writes) error {
	pipe := s.rdb.Pipeline()
	for id, b := range w.Clusters {
		pipe.Set(ctx, s.k("c", id), b, 0)
	}
	for id, b := range w.Appends {
		pipe.Append(ctx, s.k("c", id), string(b))
	}
	if s.cluster() && len(w.Clusters)+len(w.Appends) > 0 {
		// Nodes run their share of a pipeline concurrently: the blobs must be
		// in before any pointer to them.
		if _, err := pipe.Exec(ctx); pipeErr(err) {
			return fmt.Errorf("writing %d clusters to redis: %w", len(w.Clusters), err)
		}
		pipe = s.rdb.Pipeline()
	}
	hset(ctx, pipe, s.docKeys, w.Docs, tokenBucket, tokenFields)
	hset(ctx, pipe, s.eventKeys, w.Events, idBucket, idFields)
	hset(ctx, pipe, s.personKeys, w.Persons, idBucket, idFields)
	if len(w.SetConflict) > 0 {
		args := make([]any, 0, 2*len(w.SetConflict))
		for e, cid := range w.SetConflict {
			args = append(args, e, cid)
		}
		pipe.HSet(ctx, s.prefix+"conflicts", args...)
	}
	if len(w.DelConflict) > 0 {
		pipe.HDel(ctx, s.prefix+"conflicts", w.DelConflict...)
	}
	for _, id := range w.DelClusters {
		pipe.Del(ctx, s.k("c", id))
	}
	if s.cluster() && len(w.Unlock) > 0 {
		// Release only once every node has the writes (see LockLoad).
		if _, err := pipe.Exec(ctx); pipeErr(err) {
			return fmt.Errorf("writing %d clusters to redis: %w", len(w.Clusters), err)
		}
		pipe = s.rdb.Pipeline()
	}
	s.unlock(ctx, pipe, w.Unlock)
	if _, err := pipe.Exec(ctx); pipeErr(err) {
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
	s.unlock(ctx, pipe, locks)
	if _, err := pipe.Exec(ctx); pipeErr(err) {
		return fmt.Errorf("releasing %d cluster locks in redis: %w", len(locks), err)
	}
	return nil
}

// ClusterOf implements Store; kind "cluster" reads cluster id directly.
func (s *RedisStore) ClusterOf(ctx context.Context, kind, id string) (string, []byte, error) {
	cid := id
	if kind != "cluster" {
		var cmd *redis.StringCmd
		if kind == "person" {
			cmd = s.rdb.HGet(ctx, s.personKeys[idBucket(id)], id)
		} else {
			if !ValidToken(id) {
				return "", nil, nil
			}
			cmd = s.rdb.HGet(ctx, s.docKeys[tokenBucket(id)], tokenField(id))
		}
		var err error
		cid, err = cmd.Result()
		if errors.Is(err, redis.Nil) {
			return "", nil, nil
		}
		if err != nil {
			return "", nil, fmt.Errorf("looking up %s in redis: %w", kind, err)
		}
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

// NextRevision implements Store (an INCR of P rev).
func (s *RedisStore) NextRevision(ctx context.Context) (int64, error) {
	n, err := s.rdb.Incr(ctx, s.prefix+"rev").Result()
	if err != nil {
		return 0, fmt.Errorf("taking a revision number in redis: %w", err)
	}
	return n, nil
}

// Conflicts implements Store.
func (s *RedisStore) Conflicts(ctx context.Context) (map[string]string, error) {
	m, err := s.rdb.HGetAll(ctx, s.prefix+"conflicts").Result()
	if err != nil {
		return nil, fmt.Errorf("reading conflicts from redis: %w", err)
	}
	return m, nil
}
