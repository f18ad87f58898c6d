-- Initial schema. SQL here must run on ClickHouse 18.16 and on current
-- releases: MergeTree family only, no LowCardinality, no Nullable, no
-- DateTime64. Every statement is idempotent (IF NOT EXISTS), so a migration
-- interrupted before it was recorded can simply run again.

-- One row per (event, document) an agency event names; an event naming no
-- document (link.retracted may) has one row with empty doc_type/doc_token.
-- Replays insert identical rows: reports count distinct event ids, and the
-- ReplacingMergeTree key folds the copies away when parts merge.
-- event_key and doc_key are 64-bit hashes the server computes on insert:
-- reports count and join on them instead of the strings, which is several
-- times faster on big tables (a collision among 10M ids has a probability of
-- about 3e-6). No PARTITION BY: a batch spanning many months (a replay, a
-- backfill) would otherwise write one part per month, which halved the
-- insert rate in BenchmarkSinkInsert.
CREATE TABLE IF NOT EXISTS event_documents (
    event_id      String,
    type          String,
    agency        String,
    occurred_at   DateTime,
    occurred_date Date,
    tz_offset_s   Int32,
    region        String,
    birth_date    String,
    channel       String,
    scheme        String,
    relying_party String,
    outcome       String,
    reason        String,
    retracts      String,
    doc_type      String,
    doc_token     String,
    produced_at   DateTime,
    inserted_at   DateTime,
    event_key     UInt64 MATERIALIZED cityHash64(event_id),
    doc_key       UInt64 MATERIALIZED cityHash64(doc_token)
) ENGINE = ReplacingMergeTree
ORDER BY (type, doc_type, event_id, doc_token);

-- Identity changes as the resolver published them (documents are in
-- doc_person). person_ids lists every person the change touched.
CREATE TABLE IF NOT EXISTS identity_changes (
    change_id        String,
    kind             String,
    event_id         String,
    occurred_at      DateTime,
    person_id        String,
    other_person_ids Array(String),
    reason           String,
    revision         UInt64,
    person_ids       Array(String),
    documents        UInt32,
    inserted_at      DateTime
) ENGINE = ReplacingMergeTree
ORDER BY (kind, change_id);

-- The person of each document as of each change that touched it. The
-- current person of a document is argMax(person_id, revision) (reports use
-- the hashes: argMax(person_key, revision) by doc_key); a document never
-- named by a change is a person of its own.
CREATE TABLE IF NOT EXISTS doc_person (
    doc_token   String,
    doc_type    String,
    person_id   String,
    revision    UInt64,
    change_id   String,
    occurred_at DateTime,
    inserted_at DateTime,
    doc_key     UInt64 MATERIALIZED cityHash64(doc_token),
    person_key  UInt64 MATERIALIZED cityHash64(person_id)
) ENGINE = ReplacingMergeTree(revision)
ORDER BY (doc_token, doc_type);
