-- A fast path of blocked-but-linked (analytics/README.md): the person each
-- document belongs to now, in plain UInt64 columns that a report reads and
-- matches on without decoding document_state's aggregate states. Like
-- 0001_baseline it runs on ClickHouse 18.16 and on current releases, and
-- every statement may run again unharmed (IF NOT EXISTS; the backfill's
-- copies fold on merge).

-- A row is one document an identity change named (a row of doc_person),
-- with doc_key = cityHash64(doc_token), the change's revision and the
-- person_key (cityHash64 of the person_id, or of the doc_token when the
-- person_id is empty, as documents_now reads it) of the person it assigned
-- the document to; merges keep the row of the highest revision, which is the
-- document's person now. A document no change named yet has no row: it is a
-- person of its own, holding only itself. Read through document_persons_now.
CREATE TABLE IF NOT EXISTS document_persons (
    doc_type   String,
    doc_key    UInt64,
    revision   UInt64,
    person_key UInt64
) ENGINE = ReplacingMergeTree(revision)
ORDER BY (doc_type, doc_key);

CREATE MATERIALIZED VIEW IF NOT EXISTS document_persons_from_changes TO document_persons AS
SELECT
    doc_type,
    cityHash64(doc_token) AS doc_key,
    revision,
    if(person_id != '', cityHash64(person_id), cityHash64(doc_token)) AS person_key
FROM doc_person;

-- The rows doc_person held before the materialized view existed (a database
-- migrated with 0001_baseline earlier); rows the view also copied fold.
INSERT INTO document_persons (doc_type, doc_key, revision, person_key)
SELECT
    doc_type,
    cityHash64(doc_token) AS doc_key,
    revision,
    if(person_id != '', cityHash64(person_id), cityHash64(doc_token)) AS person_key
FROM doc_person;

-- A row is one document an identity change named, with its doc_key and the
-- person_key of the person holding it now (cityHash64(person_id) of
-- documents_now).
CREATE VIEW IF NOT EXISTS document_persons_now AS
SELECT doc_type, doc_key, person_key
FROM document_persons FINAL;
