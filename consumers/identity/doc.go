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
// One blob per cluster (MarshalBinary: documents, events; codes frozen),
// and bucketed pointer hashes: token, event id and person id to cluster id.
// A retraction whose target has not arrived parks the target's id in the
// retraction's cluster, so the target joins it when it comes. Held events'
// records live in one conflicts hash, for `idlink conflicts`.
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
//     blobs (loadClusters), add the unit's events (grow: in place, or
//     absorbing several clusters into one), check for pointers a crash
//     left unwritten (stale), replay before and after (replay), and record
//     the writes: the blob one revision up, pointers, conflict records
//     (recordCluster, recordState), and the identity changes not published
//     before (changes).
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
// # Cost
//
// A touched cluster is read, replayed and rewritten whole, so an event's
// cost grows with its cluster.
package identity
