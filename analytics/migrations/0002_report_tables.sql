-- Narrow tables the person-counting reports read instead of joining
-- event_documents with argMax(person_key, revision) over all of doc_person
-- (2-14 s at 10M events on ClickHouse 18.16). Materialized views keep them
-- in step with every insert into event_documents and doc_person; the INSERT
-- ... SELECT statements at the end fill them from rows written before this
-- migration. Every table folds identical rows (ReplacingMergeTree), so a
-- replayed insert, or this file running twice, changes no report. Views are
-- created before the back-fill: a row inserted in between lands twice, which
-- folds away like any replay. The views hash the strings themselves rather
-- than read the MATERIALIZED columns of their source.

-- The current person of every document: the row of its latest revision in
-- doc_person (stored as revision + 1), or person_key 0 (the document is a
-- person of its own) at revision 0 for a typed document only seen in events.
-- Reports read it with FINAL, one doc_key range at a time.
CREATE TABLE IF NOT EXISTS doc_current (
    doc_key    UInt64,
    doc_type   String,
    person_key UInt64,
    revision   UInt64
) ENGINE = ReplacingMergeTree(revision)
ORDER BY doc_key;

CREATE MATERIALIZED VIEW IF NOT EXISTS doc_current_from_changes TO doc_current AS
SELECT
    cityHash64(doc_token) AS doc_key,
    doc_type,
    cityHash64(person_id) AS person_key,
    revision + 1 AS revision
FROM doc_person;

CREATE MATERIALIZED VIEW IF NOT EXISTS doc_current_from_events TO doc_current AS
SELECT
    cityHash64(doc_token) AS doc_key,
    doc_type,
    toUInt64(0) AS person_key,
    toUInt64(0) AS revision
FROM event_documents
WHERE doc_token != '' AND doc_type != '';

-- Which documents each event type, document type and channel saw: one row
-- per distinct (type, document, channel) once parts merge. Ordered by
-- (type, doc_key) so a report reads one type, one doc_key range at a time.
CREATE TABLE IF NOT EXISTS doc_groups (
    type     String,
    doc_key  UInt64,
    doc_type String,
    channel  String
) ENGINE = ReplacingMergeTree
ORDER BY (type, doc_key, doc_type, channel);

CREATE MATERIALIZED VIEW IF NOT EXISTS doc_groups_from_events TO doc_groups AS
SELECT
    type,
    cityHash64(doc_token) AS doc_key,
    doc_type,
    channel
FROM event_documents
WHERE doc_token != '';

-- The document types ever seen (a handful): linked-persons numbers them to
-- count a person's types with a bit mask.
CREATE TABLE IF NOT EXISTS doc_types (
    doc_type String
) ENGINE = ReplacingMergeTree
ORDER BY doc_type;

CREATE MATERIALIZED VIEW IF NOT EXISTS doc_types_from_changes TO doc_types AS
SELECT DISTINCT doc_type
FROM doc_person;

CREATE MATERIALIZED VIEW IF NOT EXISTS doc_types_from_events TO doc_types AS
SELECT DISTINCT doc_type
FROM event_documents
WHERE doc_type != '';

-- Back-fill from the rows already there.
INSERT INTO doc_current (doc_key, doc_type, person_key, revision)
SELECT cityHash64(doc_token), doc_type, cityHash64(person_id), revision + 1
FROM doc_person;

INSERT INTO doc_current (doc_key, doc_type, person_key, revision)
SELECT cityHash64(doc_token), doc_type, toUInt64(0), toUInt64(0)
FROM event_documents
WHERE doc_token != '' AND doc_type != '';

INSERT INTO doc_groups (type, doc_key, doc_type, channel)
SELECT type, cityHash64(doc_token), doc_type, channel
FROM event_documents
WHERE doc_token != '';

INSERT INTO doc_types (doc_type)
SELECT DISTINCT doc_type
FROM
(
    SELECT doc_type FROM doc_person
    UNION ALL
    SELECT doc_type FROM event_documents WHERE doc_type != ''
);
