package identity

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/documents"
	"github.com/idlink/idlink/eventtypes"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/schemas"
)

// Publisher writes messages durably (a *kafka.Writer).
type Publisher interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
}

// Options configures a Resolver.
type Options struct {
	Topics  pipeline.Topics
	Metrics *pipeline.Metrics
	Logger  *slog.Logger
	// RetryWait is the pause before retrying events whose clusters another
	// process holds (default 20ms).
	RetryWait time.Duration
	Now       func() time.Time
	// KeepFrom is the number of events from which a cluster stays decoded
	// in memory between batches, with its replay, so that events landing
	// in a large cluster in time order cost in proportion to themselves,
	// not to the cluster (default 64; negative keeps none).
	KeepFrom int
	// KeepBudget bounds the documents and events of the clusters kept
	// (default 1,000,000, some 300 MB).
	KeepBudget int
}

// Resolver is the identity consumer's pipeline.Handler.
type Resolver struct {
	store Store
	codec *schemas.Codec
	pub   Publisher
	o     Options
	keep  *keeper
	// extended counts the units resolved by extending a kept replay.
	extended atomic.Int64
}

// New returns a Resolver over store, publishing with pub.
func New(store Store, codec *schemas.Codec, pub Publisher, o Options) *Resolver {
	if o.Metrics == nil {
		o.Metrics = pipeline.NewMetrics()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.RetryWait <= 0 {
		o.RetryWait = 20 * time.Millisecond
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.KeepFrom == 0 {
		o.KeepFrom = 64
	}
	if o.KeepBudget <= 0 {
		o.KeepBudget = 1_000_000
	}
	return &Resolver{store: store, codec: codec, pub: pub, o: o, keep: newKeeper(o.KeepFrom, o.KeepBudget)}
}

// Resolver dead-letter reasons.
const (
	ReasonUndecodable     = "undecodable"
	ReasonMalformedToken  = "malformed_token"
	ReasonUnknownDocType  = "unknown_document_type"
	ReasonNoDocuments     = "no_documents"
	ReasonMissingEventID  = "missing_event_id"
	ReasonMissingRetracts = "missing_attr"
)

type item struct {
	ev  *schemas.Event
	msg kafka.Message
}

// Handle resolves one batch. It returns nil only when every change is
// published and the new state is in Redis. Calls must not overlap (as
// pipeline.RunConsumer makes them); several Resolvers may share a store.
func (r *Resolver) Handle(ctx context.Context, msgs []kafka.Message) error {
	var dead []kafka.Message
	items := make([]item, 0, len(msgs))
	seen := make(map[string]bool, len(msgs))
	type decoded struct {
		ev             *schemas.Event
		reason, detail string
	}
	dec := make([]decoded, len(msgs))
	parallel(len(msgs), func(_, i int) {
		d := &dec[i]
		d.ev, d.reason, d.detail = r.decode(msgs[i])
	})
	for i, m := range msgs {
		ev, reason, detail := dec[i].ev, dec[i].reason, dec[i].detail
		if reason != "" {
			dl, err := r.deadLetter(m, eventID(ev), reason, detail)
			if err != nil {
				return err
			}
			dead = append(dead, dl)
			continue
		}
		if seen[ev.EventID] {
			continue
		}
		seen[ev.EventID] = true
		items = append(items, item{ev: ev, msg: m})
	}
	first := true
	for len(items) > 0 || first {
		deferred, err := r.round(ctx, items, dead)
		if err != nil {
			return err
		}
		dead, first = nil, false
		items = deferred
		if len(items) > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(r.o.RetryWait):
			}
		}
	}
	return nil
}

func eventID(ev *schemas.Event) string {
	if ev == nil {
		return ""
	}
	return ev.EventID
}

func (r *Resolver) decode(m kafka.Message) (*schemas.Event, string, string) {
	ev, err := r.codec.DecodeEvent(m.Value)
	if err != nil {
		return nil, ReasonUndecodable, err.Error()
	}
	if ev.EventID == "" {
		return ev, ReasonMissingEventID, "event_id is empty"
	}
	retract := ev.Type == eventtypes.LinkRetracted
	if retract && ev.Attrs["retracts"] == "" {
		return ev, ReasonMissingRetracts, "link.retracted without attrs.retracts"
	}
	if !retract && len(ev.Documents) == 0 {
		return ev, ReasonNoDocuments, "event names no document"
	}
	for i, d := range ev.Documents {
		if !ValidToken(d.Token) {
			return ev, ReasonMalformedToken, fmt.Sprintf("documents[%d].token is not 64 hex characters", i)
		}
		if _, ok := documents.ParseType(d.Type); !ok {
			return ev, ReasonUnknownDocType, fmt.Sprintf("documents[%d].type is not a known document type", i)
		}
	}
	return ev, "", ""
}

func (r *Resolver) deadLetter(m kafka.Message, id, reason, detail string) (kafka.Message, error) {
	b, err := r.codec.EncodeDeadLetter(&schemas.DeadLetter{
		EventID: id, Reason: reason, Detail: detail, Stage: "resolver",
		Source:     m.Topic + "/" + strconv.Itoa(m.Partition) + "/" + strconv.FormatInt(m.Offset, 10),
		RejectedAt: r.o.Now(), Payload: m.Value,
	})
	if err != nil {
		return kafka.Message{}, fmt.Errorf("encoding dead letter: %w", err)
	}
	r.o.Metrics.Rejected.WithLabelValues("resolver", reason).Inc()
	return kafka.Message{Topic: r.o.Topics.DeadLetter(), Key: []byte(id), Value: b}, nil
}

// newClusterID names the cluster a brand-new document founds.
func newClusterID(tok string) string { return tok[:16] }

// unit is a group of a batch's items that must be resolved together: they
// share a cluster, a new token or a parked event id, or one retracts another.
// Two units of a batch share nothing but, perhaps, a lock.
type unit struct {
	items    []item
	locks    []string // sorted
	clusters []string // existing clusters, sorted
	tokens   []string
	events   []string // its event ids and the ids its retractions name
	// fresh are the ids a new cluster of this unit could take. A blob may
	// already exist under one: a crash between writing a cluster and its
	// pointers leaves it behind, and it is absorbed rather than overwritten.
	fresh []string
}

// parkedClusterID names the cluster a retraction founds when the event it
// names has not arrived yet.
func parkedClusterID(eventID string) string {
	h := parkedHash(eventID)
	return hex.EncodeToString(h[:8])
}

func parkedHash(eventID string) [sha256.Size]byte {
	var buf [128]byte
	return sha256.Sum256(append(append(buf[:0], "retracted-event\x00"...), eventID...))
}

// parkedLockName is LockName(parkedClusterID(eventID)), without building the id.
func parkedLockName(eventID string) string {
	h := parkedHash(eventID)
	return lockNames[h[0]]
}

// nodeKey is a vertex of the batch's grouping graph: a cluster, a token with
// no cluster yet, or an event id a retraction parks.
type nodeKey struct {
	kind byte // 'c', 't' or 'x'
	id   string
}

// batchPlan is what the plan phase learns of a batch: each token's and event
// id's cluster before the batch, the units, and everything the lock phase
// must lock and read.
type batchPlan struct {
	items         []item
	idx           map[string]int    // event id -> item
	docCID, evCID map[string]string // token / event id -> cluster, before the batch
	units         []*unit
	// locks (each once), clusters, tokens and events of every unit, in
	// unit order: what LockLoad takes and reads.
	locks, clusters, tokens, events []string
}

// round resolves what it can of items in three Redis round trips (plan,
// lock, commit) and one Kafka write (publish); it returns the items whose
// clusters another process held. doc.go describes the protocol.
func (r *Resolver) round(ctx context.Context, items []item, dead []kafka.Message) ([]item, error) {
	p, err := r.plan(ctx, items)
	if err != nil {
		return nil, err
	}
	known := r.keep.known(p.clusters)
	l, err := r.store.LockLoadSince(ctx, p.locks, p.clusters, p.tokens, p.events, known)
	if err != nil {
		return nil, err
	}
	got := l.Got
	ready, deferred, held := p.admit(got, l.Docs, l.Events)
	var rev int64
	if len(ready) > 0 {
		if rev, err = r.store.NextRevision(ctx); err != nil {
			_ = r.store.Release(context.WithoutCancel(ctx), taken(p.locks, got))
			return nil, err
		}
	}
	w, out, err := r.resolveUnits(ready, l, known, p.docCID, p.evCID, rev)
	if err != nil {
		_ = r.store.Release(context.WithoutCancel(ctx), taken(p.locks, got))
		return nil, err
	}
	unlock, release := splitLocks(p.locks, got, held)
	w.Unlock = append(w.Unlock, unlock...)
	if len(release) > 0 {
		if err := r.store.Release(ctx, release); err != nil {
			return nil, err
		}
	}
	if err := r.publish(ctx, out, dead, w); err != nil {
		return nil, err
	}
	if err := r.store.Commit(ctx, w); err != nil {
		return nil, err
	}
	r.keep.put(w.keep)
	return deferred, nil
}

// plan is the first phase: one Redis round trip reads the cluster of every
// token and event id the batch names, then groupUnits and planLocks.
func (r *Resolver) plan(ctx context.Context, items []item) (*batchPlan, error) {
	p := &batchPlan{items: items, idx: make(map[string]int, len(items))}
	tokens := make([]string, 0, 3*len(items))
	events := make([]string, 0, len(items))
	tokSeen := make(map[string]struct{}, 3*len(items))
	for i, it := range items {
		p.idx[it.ev.EventID] = i
		events = append(events, it.ev.EventID)
		for _, d := range it.ev.Documents {
			if _, ok := tokSeen[d.Token]; !ok {
				tokSeen[d.Token] = struct{}{}
				tokens = append(tokens, d.Token)
			}
		}
		if it.ev.Type == eventtypes.LinkRetracted {
			events = append(events, it.ev.Attrs["retracts"])
		}
	}
	// An event id maps to its cluster once seen, and so does the id a
	// retraction names before that event itself arrives (it is parked in
	// the cluster the event will join), so arrival order does not matter.
	var err error
	if p.docCID, p.evCID, err = r.store.Lookup(ctx, tokens, events); err != nil {
		return nil, err
	}
	p.units = groupUnits(items, p.idx, p.docCID, p.evCID)
	p.planLocks()
	return p, nil
}

// groupUnits groups items into units: items sharing a cluster, a new token
// or a parked id, and retractions with the event they name. Units keep the
// items' order, and are ordered by their first item.
func groupUnits(items []item, idx map[string]int, docCID, evCID map[string]string) []*unit {
	uf := newUnionFind(len(items))
	owner := make(map[nodeKey]int, 3*len(items))
	join := func(i int, k nodeKey) {
		if j, ok := owner[k]; ok {
			uf.union(i, j)
		} else {
			owner[k] = i
		}
	}
	for i, it := range items {
		if cid := evCID[it.ev.EventID]; cid != "" {
			join(i, nodeKey{'c', cid})
		}
		for _, d := range it.ev.Documents {
			if cid, ok := docCID[d.Token]; ok {
				join(i, nodeKey{'c', cid})
			} else {
				join(i, nodeKey{'t', d.Token})
			}
		}
		if it.ev.Type == eventtypes.LinkRetracted {
			t := it.ev.Attrs["retracts"]
			if j, ok := idx[t]; ok {
				uf.union(i, j)
			} else if cid := evCID[t]; cid != "" {
				join(i, nodeKey{'c', cid})
			} else {
				join(i, nodeKey{'x', t}) // parked until t arrives
			}
		}
	}
	unitOf := make([]int, len(items))
	for i := range unitOf {
		unitOf[i] = -1
	}
	var units []*unit
	for i, it := range items {
		root := uf.find(i)
		if unitOf[root] < 0 {
			unitOf[root] = len(units)
			units = append(units, &unit{})
		}
		u := units[unitOf[root]]
		u.items = append(u.items, it)
	}
	return units
}

// planLocks lists each unit's locks, clusters, tokens, events and fresh
// cluster ids, and the batch's union of them. Units may share a lock
// (clusters share 256 locks): it is taken once, and released only when no
// unit that goes ahead still needs it. Every event also takes the lock of
// its parking cluster, so an event and a retraction naming it never pass
// each other in two processes.
func (p *batchPlan) planLocks() {
	lockSeen := make(map[string]struct{}, len(lockNames))
	for _, u := range p.units {
		var lk, cl []string
		addCluster := func(cid string) { cl, lk = append(cl, cid), append(lk, LockName(cid)) }
		for _, it := range u.items {
			u.events = append(u.events, it.ev.EventID)
			lk = append(lk, parkedLockName(it.ev.EventID))
			if cid := p.evCID[it.ev.EventID]; cid != "" {
				addCluster(cid)
			}
			for _, d := range it.ev.Documents {
				u.tokens = append(u.tokens, d.Token)
				if cid, ok := p.docCID[d.Token]; ok {
					addCluster(cid)
				} else {
					fresh := newClusterID(d.Token)
					lk = append(lk, LockName(fresh))
					u.fresh = append(u.fresh, fresh)
				}
			}
			if it.ev.Type == eventtypes.LinkRetracted {
				t := it.ev.Attrs["retracts"]
				u.events = append(u.events, t)
				if cid := p.evCID[t]; cid != "" {
					addCluster(cid)
				} else if _, ok := p.idx[t]; !ok {
					lk = append(lk, parkedLockName(t))
					u.fresh = append(u.fresh, parkedClusterID(t))
				}
			}
		}
		u.locks, u.clusters = sortedSet(lk), sortedSet(cl)
		for _, l := range u.locks {
			if _, ok := lockSeen[l]; !ok {
				lockSeen[l] = struct{}{}
				p.locks = append(p.locks, l)
			}
		}
		p.clusters = append(append(p.clusters, u.clusters...), u.fresh...)
		p.tokens = append(p.tokens, u.tokens...)
		p.events = append(p.events, u.events...)
	}
}

// admit is the end of the lock phase: a unit goes ahead when it got every
// lock it needs and none of its tokens or events moved to another cluster
// since plan read them (another process resolved them in between). The
// others are deferred to the next round. held are the locks of the units
// that go ahead.
func (p *batchPlan) admit(got map[string]bool, docNow, evNow map[string]string) (ready []*unit, deferred []item, held map[string]bool) {
	held = map[string]bool{}
	for _, u := range p.units {
		ok := true
		for _, l := range u.locks {
			ok = ok && got[l]
		}
		for _, t := range u.tokens {
			ok = ok && docNow[t] == p.docCID[t]
		}
		for _, e := range u.events {
			ok = ok && evNow[e] == p.evCID[e]
		}
		if !ok {
			deferred = append(deferred, u.items...)
			continue
		}
		ready = append(ready, u)
		for _, l := range u.locks {
			held[l] = true
		}
	}
	return ready, deferred, held
}

// splitLocks divides the locks taken into those a unit that goes ahead
// holds (released by the commit, after the writes) and the others
// (released now).
func splitLocks(locks []string, got, held map[string]bool) (unlock, release []string) {
	for _, l := range locks {
		if got[l] {
			if held[l] {
				unlock = append(unlock, l)
			} else {
				release = append(release, l)
			}
		}
	}
	return unlock, release
}

// resolveUnits is the resolve phase. Units are independent (no two share a
// cluster, token or event): they are resolved on every CPU, each worker
// collecting its writes, which are merged into one Writes.
func (r *Resolver) resolveUnits(ready []*unit, l *Loaded, known map[string]Known, docCID, evCID map[string]string, rev int64) (*Writes, []kafka.Message, error) {
	type result struct {
		msgs []kafka.Message
		err  error
	}
	results := make([]result, len(ready))
	ws := make([]*Writes, workers())
	parallel(len(ready), func(worker, i int) {
		if ws[worker] == nil {
			// Worker 0's writes take in the others' (merge, below).
			n := len(ready)
			if worker > 0 {
				n = n/len(ws) + 1
			}
			ws[worker] = newWritesFor(n)
		}
		res := &results[i]
		res.msgs, res.err = r.resolve(ready[i], l, known, docCID, evCID, rev, ws[worker])
	})
	var w *Writes
	for _, o := range ws {
		switch {
		case o == nil:
		case w == nil:
			w = o
		default:
			w.merge(o)
		}
	}
	if w == nil {
		w = newWrites()
	}
	var out []kafka.Message
	for _, res := range results {
		if res.err != nil {
			return nil, nil, res.err
		}
		out = append(out, res.msgs...)
	}
	return w, out, nil
}

// publish is the publish phase: the identity changes and the batch's dead
// letters go to Kafka before anything is written to Redis. After a crash in
// between, the batch is redelivered, replays to the same changes (same ids
// and revisions) and publishes them again, which consumers of
// identity.changes tolerate. On failure it releases w's locks.
func (r *Resolver) publish(ctx context.Context, out, dead []kafka.Message, w *Writes) error {
	out = append(out, dead...)
	if len(out) == 0 {
		return nil
	}
	if err := r.pub.WriteMessages(ctx, out...); err != nil {
		_ = r.store.Release(context.WithoutCancel(ctx), w.Unlock)
		return fmt.Errorf("publishing %d identity changes: %w", len(out), err)
	}
	r.o.Metrics.Published.WithLabelValues("identity_changes").Add(float64(len(out) - len(dead)))
	return nil
}

// grown is a unit's cluster with the unit's events added.
type grown struct {
	base             *Cluster
	olds             []*Cluster        // the clusters it was made of, as loaded
	blobs            map[string][]byte // their blobs, by cluster id
	rev              int64             // the highest revision among olds
	nBase, nBaseDocs int               // base's own events and documents, before it absorbed the other olds
	nOld, nOldDocs   int               // base's events and documents before the unit's
	added            int               // events new to the cluster
	inPlace          bool              // base is one of olds, grown
	renamed          bool              // base is not the one old cluster grown in place
	parked           map[string]bool   // the event ids base's own retractions name (see parkedHere)
	blob             []byte            // base's blob once recordCluster has run
}

// resolve applies a unit's events to its clusters (locked and loaded) and
// records the writes; it returns the identity-change messages.
func (r *Resolver) resolve(u *unit, l *Loaded, known map[string]Known, docCID, evCID map[string]string, rev int64, w *Writes) ([]kafka.Message, error) {
	olds, blobs, kepts, err := r.loadClusters(u, l, known)
	if err != nil {
		return nil, err
	}
	g := grow(u, olds)
	g.blobs = blobs
	k := kepts[g.base.ID]
	if k != nil && g.inPlace {
		g.parked = k.parked
	} else {
		k = nil
	}
	stale := g.stale(u, docCID, evCID)
	if g.added == 0 && !g.renamed && !stale {
		if k != nil {
			w.keep = append(w.keep, k) // every event was a replay: nothing changes
		}
		return nil, nil
	}
	if err := g.recordCluster(w, stale, rev); err != nil {
		return nil, err
	}
	base := g.base
	if k != nil && k.play != nil && !stale && !base.datesFilled {
		if msgs, ok, err := r.extend(g, k, kepts, w); ok || err != nil {
			return msgs, err
		}
	}
	before, rp, err := g.replay()
	if err != nil {
		return nil, err
	}
	out := rp.out
	g.recordState(w, out, before, stale)
	if r.keep.wants(len(base.Events)) {
		w.keep = append(w.keep, newKept(base, g.blob, rp))
	}
	var news []Change
	for _, ch := range out.Changes {
		if !before.changes[ch.ID] {
			news = append(news, ch)
		}
	}
	docs := make([]int, len(base.Docs))
	for i := range docs {
		docs[i] = i
	}
	return r.changes(base, out, news, docs, func(d int) string { return before.person[base.Docs[d].Token] })
}

// extend is resolve for a unit whose cluster this process keeps: the
// replays of the clusters it absorbed join the kept replay, which then
// applies the unit's events alone (replayer.extend). It reports false,
// writing nothing, when the unit's events do not all sort after the
// clusters' (or one is a retraction): then the cluster is replayed whole.
func (r *Resolver) extend(g *grown, k *kept, kepts map[string]*kept, w *Writes) ([]kafka.Message, bool, error) {
	base, rp := g.base, k.play
	docs, evs := g.nBaseDocs, g.nBase // base has grown since
	for _, o := range g.olds {
		if o != base {
			docs, evs = docs+len(o.Docs), evs+len(o.Events)
		}
	}
	if docs != g.nOldDocs || evs != g.nOld {
		return nil, false, nil // the clusters share documents or events (a crash's leftover): not two replays side by side
	}
	parked := k.parked
	var absorbed []*replayer
	for _, o := range g.olds {
		if o == base {
			continue
		}
		var op *replayer
		if ok := kepts[o.ID]; ok != nil && ok.play != nil {
			op = ok.play
		} else {
			op = play(o, -1, nil)
		}
		absorbed = append(absorbed, op)
		addParked(parked, o.Events)
	}
	for _, op := range absorbed {
		rp.absorb(op)
	}
	if !rp.canExtend(g.nOld, parked) {
		return nil, false, nil
	}
	x, ok := rp.extend(g.nOld)
	if !ok {
		return nil, false, nil
	}
	for _, op := range absorbed {
		for _, p := range op.out.created {
			w.Persons[p.ID] = base.ID
		}
		for _, h := range op.held {
			w.SetConflict[op.c.Events[h.ev].ID] = base.ID
		}
	}
	for _, p := range x.created {
		w.Persons[p.ID] = base.ID
	}
	for _, h := range x.held {
		w.SetConflict[base.Events[h.ev].ID] = base.ID
	}
	k.blob, k.parked = g.blob, parked
	w.keep = append(w.keep, k)
	r.extended.Add(1)
	moved := make([]int, 0, len(x.moved))
	for d := range x.moved {
		moved = append(moved, d)
	}
	msgs, err := r.changes(base, rp.out, x.changes, moved, func(d int) string { return x.moved[d] })
	return msgs, true, err
}

// loadClusters decodes the blobs of the unit's clusters, and of any fresh
// id a crash left a blob under, and returns them with their blobs. A
// cluster this process keeps (and whose blob holds no more than it knows,
// or only pieces appended since) is taken from the keeper, not decoded,
// and returned in kepts too. Handle is never called concurrently, so the
// cluster taken is the one known was made of; a mismatch is an error.
func (r *Resolver) loadClusters(u *unit, l *Loaded, known map[string]Known) (olds []*Cluster, blobs map[string][]byte, kepts map[string]*kept, err error) {
	blobs = map[string][]byte{}
	for _, cid := range append(append([]string(nil), u.clusters...), u.fresh...) {
		if _, ok := blobs[cid]; ok {
			continue
		}
		if tail, ok := l.Tails[cid]; ok {
			c := r.keep.take(cid)
			if c == nil || KnownOf(c.blob) != known[cid] {
				return nil, nil, nil, fmt.Errorf("cluster %s: read as kept, but no longer kept as read (Handle called concurrently?)", cid)
			}
			if len(tail) > 0 { // another process grew it
				if err := c.c.AppendPieces(tail); err != nil {
					return nil, nil, nil, err
				}
				c.blob, c.play = append(c.blob, tail...), nil
				c.parked = addParked(map[string]bool{}, c.c.Events)
			}
			blobs[cid] = c.blob
			olds = append(olds, c.c)
			if kepts == nil {
				kepts = map[string]*kept{}
			}
			kepts[cid] = c
			continue
		}
		b, ok := l.Blobs[cid]
		if !ok {
			continue
		}
		r.keep.drop(cid) // rewritten by another process, if it was kept
		c, err := UnmarshalCluster(cid, b)
		if err != nil {
			return nil, nil, nil, err
		}
		blobs[cid] = b
		olds = append(olds, c)
	}
	return olds, blobs, kepts, nil
}

// grow builds the unit's cluster: the old cluster holding the most events
// (the smallest id of those tied) grows in place, absorbing the others;
// with no old cluster, a new one is named after the smallest cluster id
// the unit names, or its smallest fresh id.
func grow(u *unit, olds []*Cluster) *grown {
	g := &grown{olds: olds}
	for _, c := range olds {
		g.rev = max(g.rev, c.Rev)
		if g.base == nil || len(c.Events) > len(g.base.Events) || len(c.Events) == len(g.base.Events) && c.ID < g.base.ID {
			g.base = c
		}
	}
	if g.base == nil {
		var id string
		if len(u.clusters) > 0 {
			id = u.clusters[0]
		} else {
			for _, c := range u.fresh {
				if id == "" || c < id {
					id = c
				}
			}
		}
		g.base = NewCluster(id)
	}
	base := g.base
	g.inPlace = len(olds) > 0
	g.nBase, g.nBaseDocs = len(base.Events), len(base.Docs)
	for _, c := range olds {
		if c != base {
			base.Absorb(c)
		}
	}
	base.datesFilled = false
	g.nOld, g.nOldDocs = len(base.Events), len(base.Docs)
	for _, it := range u.items {
		toks := make([]string, len(it.ev.Documents))
		for i, d := range it.ev.Documents {
			base.AddDoc(Doc{Token: d.Token, Type: d.Type, BirthDate: d.BirthDate})
			toks[i] = d.Token
		}
		e := Event{ID: it.ev.EventID, At: it.ev.OccurredAt.UnixMicro(), BirthDate: it.ev.BirthDate, Status: StatusOf(it.ev.Type), Type: it.ev.Type, Agency: it.ev.Agency}
		if it.ev.Type == eventtypes.LinkRetracted {
			e.Retract, e.Retracts = true, it.ev.Attrs["retracts"]
		}
		if base.AddEvent(e, toks) {
			g.added++
		}
	}
	g.renamed = len(olds) != 1
	return g
}

// parkedHere reports whether one of base's own retractions from before
// this batch names event id.
func (g *grown) parkedHere(id string) bool {
	if g.parked == nil {
		g.parked = addParked(map[string]bool{}, g.base.Events[:g.nBase])
	}
	return g.parked[id]
}

// stale reports a pointer a crash left unwritten: to a document or event
// base held itself before this batch (new and absorbed ones get theirs
// anyway), or to an event id parked in it, that plan found pointing
// elsewhere or nowhere.
func (g *grown) stale(u *unit, docCID, evCID map[string]string) bool {
	base := g.base
	for _, t := range u.tokens {
		if i := base.DocIndex(t); i >= 0 && i < g.nBaseDocs && docCID[t] != base.ID {
			return true
		}
	}
	for _, e := range u.events { // its events and the ones it parks
		if evCID[e] == base.ID {
			continue
		}
		if i := base.EventIndex(e); i >= 0 {
			if i < g.nBase {
				return true
			}
			continue
		}
		if g.parkedHere(e) {
			return true
		}
	}
	return false
}

// appendFrom is the size from which a cluster's blob grows by appended
// pieces rather than being rewritten whole. Pieces are never folded into
// the base by a later write: rewriting would cost as many bytes again as
// the pieces, and reading a blob of many pieces costs what reading one
// base of the same size does. A write that cannot append (the cluster
// absorbed into a new one, repaired, or a known document given a birth
// date) rewrites the blob as one base.
const appendFrom = 4096

// recordCluster records the new blob (a revision above the old ones and at
// least least, the round's NextRevision: so a batch redelivered after a
// crash, which may hold other events, never publishes a different state
// under the revision an earlier attempt used), the deletion of the
// clusters absorbed, and the pointers: a cluster a crash left half written
// rewrites all of them; otherwise only the new documents and events and
// those of the clusters absorbed need one (base's own were written when
// they arrived). A large cluster grown in place gets a piece appended to
// its blob, holding what it absorbed and the new events.
func (g *grown) recordCluster(w *Writes, stale bool, least int64) error {
	base := g.base
	base.Rev = max(g.rev+1, least)
	var piece []byte
	if g.inPlace && !stale && !base.datesFilled && base.blobLen >= appendFrom {
		var err error
		if piece, err = base.MarshalPiece(g.nBaseDocs, g.nBase); err != nil {
			return err
		}
	}
	if piece != nil {
		w.Appends[base.ID] = piece
		g.blob = append(g.blobs[base.ID][:base.blobLen], piece...)
		base.blobLen = len(g.blob)
	} else {
		blob, err := base.MarshalBinary()
		if err != nil {
			return err
		}
		w.Clusters[base.ID] = blob
		g.blob, base.blobLen = blob, len(blob)
	}
	for _, c := range g.olds {
		if c.ID != base.ID {
			w.DelClusters = append(w.DelClusters, c.ID)
		}
	}
	newDocs, newEvents := base.Docs[g.nBaseDocs:], base.Events[g.nBase:]
	if stale {
		newDocs, newEvents = base.Docs, base.Events
	}
	for _, d := range newDocs {
		w.Docs[d.Token] = base.ID
	}
	for _, e := range newEvents {
		w.Events[e.ID] = base.ID
		if e.Retract && !base.HasEvent(e.Retracts) {
			w.Events[e.Retracts] = base.ID // parked: the event joins us when it comes
		}
	}
	return nil
}

// replay returns the state before this batch and the replay of the new
// one. When the new events all come after the old ones of a single
// cluster, the old state is a prefix of the new replay; otherwise every old
// cluster is replayed on its own.
func (g *grown) replay() (*prior, *replayer, error) {
	base := g.base
	var before *prior
	if len(g.olds) == 1 && !base.datesFilled && base.after(g.nOld) {
		rp := play(base, g.nOld, func(o *Outcome) {
			before = newPrior()
			before.add(base, o)
		})
		return before, rp, nil
	}
	before = newPrior()
	for _, c := range g.olds {
		if c == base { // grown in place: decode it again as it was
			var err error
			if c, err = UnmarshalCluster(c.ID, g.blobs[c.ID]); err != nil {
				return nil, nil, err
			}
		}
		before.add(c, Replay(c))
	}
	return before, play(base, -1, nil), nil
}

// recordState records the pointers of the persons not in the cluster
// before (new, or from a cluster absorbed) and the conflicts hash: an event
// held now points to the cluster (written when it was not held there
// before, or all when repairing), one no longer held is deleted.
func (g *grown) recordState(w *Writes, out *Outcome, before *prior, stale bool) {
	base := g.base
	for p := range out.Persons {
		if before.ids[p] != base.ID {
			w.Persons[p] = base.ID
		}
	}
	for a := range out.Alias {
		if before.ids[a] != base.ID {
			w.Persons[a] = base.ID
		}
	}
	held := make(map[string]bool, len(out.Conflicts))
	for i := range out.Conflicts {
		e := out.Conflicts[i].EventID
		held[e] = true
		if stale || before.conflicts[e] != base.ID {
			w.SetConflict[e] = base.ID
		}
	}
	for e := range before.conflicts {
		if !held[e] {
			w.DelConflict = append(w.DelConflict, e)
		}
	}
}

// changes returns the messages for news, the changes not published before,
// each with the final state of every person it touched. Of docs, the
// documents that may have moved, each now held by a person other than
// was(d), the one before, and by a person no change touches, gets that
// person a "reassigned" change (history rewritten by a late event).
func (r *Resolver) changes(c *Cluster, out *Outcome, news []Change, docs []int, was func(d int) string) ([]kafka.Message, error) {
	covered := map[string]bool{}
	var changes []*schemas.IdentityChange
	mk := func(ch Change) *schemas.IdentityChange {
		ic := &schemas.IdentityChange{
			ChangeID: ch.ID, Kind: ch.Kind, EventID: ch.EventID, OccurredAt: time.UnixMicro(ch.At).UTC(),
			PersonID: ch.PersonID, OtherPersonIDs: ch.Others, Reason: ch.Reason, Revision: c.Rev,
		}
		in := map[string]bool{}
		for _, id := range append([]string{ch.PersonID}, ch.Others...) {
			live := out.Resolve(id)
			p := out.Persons[live]
			if p == nil || in[live] {
				continue
			}
			in[live], covered[live] = true, true
			ic.Persons = append(ic.Persons, personState(c, p))
		}
		return ic
	}
	for _, ch := range news {
		changes = append(changes, mk(ch))
	}
	var moved []string
	for _, d := range docs {
		if p := out.PersonOf[d]; was(d) != p && !covered[p] {
			covered[p] = true
			moved = append(moved, p)
		}
	}
	sort.Strings(moved)
	for _, p := range moved {
		ch := Change{ID: changeID(schemas.ChangeReassigned, strconv.FormatInt(c.Rev, 10), p, nil), Kind: schemas.ChangeReassigned, PersonID: p}
		changes = append(changes, mk(ch))
	}
	msgs := make([]kafka.Message, 0, len(changes))
	for _, ic := range changes {
		b, err := r.codec.EncodeChange(ic)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, kafka.Message{Topic: r.o.Topics.IdentityChanges(), Key: []byte(ic.PersonID), Value: b})
	}
	return msgs, nil
}

// personState is p as identity changes carry it: its documents ordered by
// type, then token (as `idlink lookup` lists them), however they are stored.
func personState(c *Cluster, p *Person) schemas.PersonState {
	ps := schemas.PersonState{PersonID: p.ID, Documents: make([]schemas.PersonDocument, len(p.Docs))}
	for i, d := range p.Docs {
		ps.Documents[i] = schemas.PersonDocument{Type: c.Docs[d].Type, Token: c.Docs[d].Token}
	}
	slices.SortFunc(ps.Documents, func(a, b schemas.PersonDocument) int {
		return cmp.Or(strings.Compare(a.Type, b.Type), strings.Compare(a.Token, b.Token))
	})
	return ps
}

// ConflictRecord is a held-back event as `idlink conflicts` shows it.
type ConflictRecord struct {
	EventID    string            `json:"event_id"`
	OccurredAt string            `json:"occurred_at"`
	Reason     string            `json:"reason"`
	PersonIDs  []string          `json:"person_ids"` // every person holding one of its documents (both sides), sorted
	Documents  []DocumentSummary `json:"documents"`
	// PersonID holds the event's first document; OtherPersonID is the first
	// other person in PersonIDs ("" when the event conflicts with the birth
	// date of the one person holding all its documents).
	PersonID      string `json:"person_id"`
	OtherPersonID string `json:"other_person_id"`
	// DocType is the single-holder type held twice ("" for a birth date).
	DocType string `json:"doc_type"`
}

// DocumentSummary names a document by type and token; a person's residence
// permits also carry their status ("active" or "revoked").
type DocumentSummary struct {
	Type   string `json:"type"`
	Token  string `json:"token"`
	Status string `json:"status,omitempty"`
}

func conflictRecord(c *Cluster, cf *Conflict) ConflictRecord {
	rec := ConflictRecord{EventID: cf.EventID, OccurredAt: time.UnixMicro(cf.At).UTC().Format(time.RFC3339Nano), Reason: cf.Reason, PersonIDs: cf.PersonIDs, PersonID: cf.First}
	if rec.PersonIDs == nil {
		rec.PersonIDs = []string{}
	}
	for _, id := range rec.PersonIDs {
		if id != rec.PersonID {
			rec.OtherPersonID = id
			break
		}
	}
	if t, ok := strings.CutPrefix(cf.Reason, reasonTypePref); ok && cf.Reason != ReasonBirthDate {
		rec.DocType = t
	}
	for _, d := range cf.Docs {
		rec.Documents = append(rec.Documents, DocumentSummary{Type: c.Docs[d].Type, Token: c.Docs[d].Token})
	}
	return rec
}

// workers is how many goroutines parallel uses.
func workers() int { return runtime.GOMAXPROCS(0) }

// parallel calls f(worker, i) for i in 0..n-1 on one goroutine per CPU, each
// worker (0 <= worker < workers()) taking a contiguous range.
func parallel(n int, f func(worker, i int)) {
	nw := workers()
	if n < 256 || nw == 1 {
		for i := 0; i < n; i++ {
			f(0, i)
		}
		return
	}
	var wg sync.WaitGroup
	per := (n + nw - 1) / nw
	for w, lo := 0, 0; lo < n; w, lo = w+1, lo+per {
		hi := min(lo+per, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				f(w, i)
			}
		}()
	}
	wg.Wait()
}

func taken(locks []string, got map[string]bool) []string {
	var out []string
	for _, l := range locks {
		if got[l] {
			out = append(out, l)
		}
	}
	return out
}

// sortedSet sorts ss and drops repeats, in place.
func sortedSet(ss []string) []string {
	slices.Sort(ss)
	return slices.Compact(ss)
}

// unionFind groups the items of a batch by index.
type unionFind struct{ parent []int }

func newUnionFind(n int) *unionFind {
	u := &unionFind{parent: make([]int, n)}
	for i := range u.parent {
		u.parent[i] = i
	}
	return u
}

func (u *unionFind) find(x int) int {
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

func (u *unionFind) union(a, b int) {
	ra, rb := u.find(a), u.find(b)
	if ra != rb {
		if ra < rb {
			ra, rb = rb, ra
		}
		u.parent[ra] = rb
	}
}
