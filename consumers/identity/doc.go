// Package identity is the identity-resolution consumer: it links every
// document a person holds under one stable person ID in Redis, holds
// conflicting links back for review, splits persons when a link is retracted,
// and publishes each change on the identity.changes topic.
//
// # Model
//
// Documents and the events naming them form clusters: documents connected by
// any event, applied or held back. A cluster is the unit of storage and of
// replay. The state of a cluster is Replay of its events in (occurred_at,
// event_id) order, with every withdrawn event linking nothing (CONTRACT §2),
// so it depends only on the set of events, never on arrival order, batching
// or repeats. Person ids derive from the events that created them, so every
// process names persons alike.
//
// # Storage (RedisStore)
//
// One blob per cluster (MarshalBinary: documents, events; codes frozen): a
// base segment, and for a large cluster grown in place, pieces appended to
// it (MarshalPiece, Redis APPEND) holding only what each batch added. The
// first bytes of a blob name its base, since no base revision is written
// twice. Bucketed pointer hashes map token, event id and person id to
// cluster id. A retraction whose target has not arrived parks the target's
// id in the retraction's cluster, so the target joins it when it comes.
// The conflicts hash maps each held event to its cluster; `idlink
// conflicts` replays those clusters for the records.
//
// # The protocol of a batch
//
// Resolver.Handle decodes the batch (undecodable or invalid messages become
// dead letters), drops repeated event ids, and runs rounds until every item
// is resolved. A round is these phases, each a function of its own:
//
//  1. plan (Resolver.plan, groupUnits, planLocks): one round trip reads the
//     cluster of every token and event id the batch names; items sharing a
//     cluster, a new token or a parked id, and retractions with their
//     targets, become units; each unit lists its locks (one of 256 per
//     cluster id, plus the parking lock of every event id it names).
//  2. lock (Store.LockLoad, admit): one round trip takes the locks (an owner
//     and a deadline each, by a Lua script) and reads the blobs and the
//     pointers again. A unit goes ahead only if it got all its locks and no
//     pointer moved since plan (another process resolved it in between);
//     the others wait for the next round, their locks released now.
//     A round that goes ahead takes a revision number (Store.NextRevision,
//     larger than any handed out before): every cluster it writes gets a
//     revision at least that, so an attempt after a crash never publishes
//     another state under an earlier attempt's revision.
//  3. resolve (resolveUnits, resolve): per unit, on every CPU: load the
//     blobs (loadClusters), add the unit's events to the unit's largest
//     cluster, which absorbs the others (grow), check for pointers a crash
//     left unwritten (stale), replay before and after (replay), and record
//     the writes: the blob one revision up (whole, or a piece), pointers
//     for what is new to the cluster, the conflicts hash (recordCluster,
//     recordState), and the identity changes not published before
//     (changes). A cluster the resolver keeps (below) is not decoded nor
//     replayed: the replays of the clusters it absorbs join its replay,
//     which then applies the unit's events alone (Resolver.extend).
//  4. publish (Resolver.publish): the changes and dead letters go to Kafka,
//     acknowledged, before anything is written to Redis.
//  5. commit (Store.Commit): one round trip writes the blobs, then the
//     pointers, person ids and conflict records, deletes absorbed clusters
//     and releases the locks.
//
// Only when every round has committed does Handle return nil, and only then
// does the consumer commit the batch's Kafka offsets (pipeline.RunConsumer):
// an offset is committed only for events whose state is durable in Redis.
//
// # Crashes and repair
//
// A process may die at any point; its locks expire (the lock TTL) and the
// batch is redelivered, since its offsets were not committed.
//   - Before publish: nothing was written; the redelivery does it all.
//   - After publish, before commit: the changes are published twice, with
//     the same change ids and revisions (replays are deterministic);
//     consumers of identity.changes deduplicate by change id.
//   - During commit: blobs are written first (on Redis Cluster in a round
//     trip of their own), so what is left is new blobs with some pointers
//     missing or pointing to an absorbed cluster. The redelivered batch
//     finds its events already in the blob, sees the missing pointers
//     (stale), and rewrites all of them; a blob left under a fresh id is
//     absorbed rather than overwritten (TestCrashMidCommit).
//   - After commit, before the offsets: the redelivery finds every event in
//     its cluster and changes nothing.
//
// # Cost, and kept clusters
//
// A cluster read from its blob is decoded and replayed whole, so its cost
// grows with its size. A feed that names documents of many persons
// together (a chain of conflicting links, a placeholder number) grows one
// cluster without bound; so a cluster of Options.KeepFrom events or more
// is kept decoded in the resolver's memory between batches, with its
// replay (keeper; bounded by Options.KeepBudget). The next batch sends
// Redis the blob's head and length it knows (Store.LockLoadSince) and gets
// only what other processes appended since, or the whole blob if another
// process rewrote it. Its events apply to the kept replay when each sorts
// after every event played, or is independent of the events played after
// it (replayer.independent: no retraction after it, and no event after it
// names its documents or those of the persons holding them); otherwise,
// or for any retraction, the cluster is replayed whole. Either way the
// result is the replay of every event in (occurred_at, event_id) order, so
// it stays sequence neutral: TestKeptMatchesReplayed checks it batch by
// batch against a resolver that keeps nothing. So an event landing in a
// large cluster in steady traffic costs in proportion to the event: the
// bench's hub phase measures it.
//
// A kept cluster is taken out of the keeper while its batch works on it
// and put back only once the batch is committed; a process that dies
// loses only memory.
package identity
