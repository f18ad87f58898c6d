-- Report tables laid out for the counts the reports make: ordered so that
-- distinct counts need no merge of big hash sets across threads, and keyed
-- by numbers instead of strings (at 10M events on 18.16, those merges and
-- the string keys were most of the CPU of the reports).
--
-- doc_state_by_type replaces doc_state (0003): the same rows, ordered by
-- document type first. A report reads it one type_key range at a time and
-- counts persons per type inside the range, so every type's set of persons
-- is built in one stream and never merged with another thread's (the
-- persons side of activations-by-doc-type fell from ~2.1 to ~1.2 s of CPU).
-- Its columns, views and back-fill are those of doc_state; see 0003 for
-- what they hold and why a row inserted between view and back-fill does no
-- harm. The back-fill reads the source tables, not doc_state, so that this
-- file can run again after its DROPs.
--
-- event_groups holds one row per (activation or enrolment event, group it
-- counts under), keyed by numbers only: the event type's hash, the event's
-- and group_key = cityHash64(doc_type, channel) for an activation,
-- cityHash64(doc_type, '') for an enrolment (its report groups by type
-- alone). Ordered by event key, it lets a report count distinct events in
-- event_key ranges whose counts add up, each with small hash sets (~0.2
-- against ~0.85 s of CPU for the events of activations-by-doc-type, which
-- counted over event_documents); merges fold the copies replays add.
-- The view activation_group_names names an activation's group key by
-- hashing the candidates: every type in doc_types (and '', for an event
-- naming no document) with 'online', 'offline' and the other activation
-- channels, which activation_channels lists (it stays empty unless a
-- channel outside the contract occurs, so its view writes nothing). A table of names fed on every insert cost the
-- sink ~6 ms of ClickHouse CPU per 12,500 rows, about a quarter of the
-- insert.
--
-- doc_owner replaces doc_current (0002) for linked-persons: the same rows
-- (each document's person at its latest revision, or 0 for a document no
-- change named yet), with the type as type_key = cityHash64(doc_type)
-- instead of the string. FINAL then merges numbers only, and the report
-- maps types to bits with transform() on the number (over 9.3M rows ~0.07 s
-- of CPU against ~0.28 s on the string).
CREATE TABLE IF NOT EXISTS doc_state_by_type (
    doc_key  UInt64,
    type_key UInt64,
    person   AggregateFunction(argMax, UInt64, UInt64),
    flags    AggregateFunction(groupBitOr, UInt64)
) ENGINE = AggregatingMergeTree
ORDER BY (type_key, doc_key);

CREATE MATERIALIZED VIEW IF NOT EXISTS doc_state_by_type_from_changes TO doc_state_by_type AS
SELECT
    cityHash64(doc_token) AS doc_key,
    cityHash64(doc_type) AS type_key,
    argMaxState(cityHash64(person_id), revision + 1) AS person,
    groupBitOrState(toUInt64(0)) AS flags
FROM doc_person
GROUP BY doc_key, type_key;

CREATE MATERIALIZED VIEW IF NOT EXISTS doc_state_by_type_from_events TO doc_state_by_type AS
SELECT
    cityHash64(doc_token) AS doc_key,
    cityHash64(doc_type) AS type_key,
    argMaxState(toUInt64(0), toUInt64(0)) AS person,
    groupBitOrState(toUInt64(multiIf(
        type = 'insurance.code_activated' AND channel = 'online', 1,
        type = 'insurance.code_activated' AND channel = 'offline', 2,
        type = 'insurance.enrolled', 4,
        0))) AS flags
FROM event_documents
WHERE doc_token != '' AND type IN ('insurance.code_activated', 'insurance.enrolled')
GROUP BY doc_key, type_key;

CREATE TABLE IF NOT EXISTS event_groups (
    event_type_key UInt64,
    event_key      UInt64,
    group_key      UInt64,
    occurred_date  Date
) ENGINE = ReplacingMergeTree
ORDER BY (event_type_key, event_key, group_key);

CREATE MATERIALIZED VIEW IF NOT EXISTS event_groups_from_events TO event_groups AS
SELECT
    cityHash64(type) AS event_type_key,
    cityHash64(event_id) AS event_key,
    cityHash64(doc_type, if(type = 'insurance.code_activated', channel, '')) AS group_key,
    occurred_date
FROM event_documents
WHERE type IN ('insurance.code_activated', 'insurance.enrolled');

CREATE TABLE IF NOT EXISTS activation_channels (
    channel String
) ENGINE = ReplacingMergeTree
ORDER BY channel;

CREATE MATERIALIZED VIEW IF NOT EXISTS activation_channels_from_events TO activation_channels AS
SELECT DISTINCT channel
FROM event_documents
WHERE type = 'insurance.code_activated' AND channel NOT IN ('online', 'offline');

CREATE VIEW IF NOT EXISTS activation_group_names AS
SELECT cityHash64(doc_type, channel) AS g, doc_type, channel
FROM
(
    SELECT DISTINCT doc_type FROM doc_types
    UNION ALL
    SELECT '' AS doc_type
)
ARRAY JOIN arrayConcat(['online', 'offline'], (SELECT groupUniqArray(channel) FROM activation_channels)) AS channel;

CREATE TABLE IF NOT EXISTS doc_owner (
    doc_key    UInt64,
    type_key   UInt64,
    person_key UInt64,
    revision   UInt64
) ENGINE = ReplacingMergeTree(revision)
ORDER BY doc_key;

CREATE MATERIALIZED VIEW IF NOT EXISTS doc_owner_from_changes TO doc_owner AS
SELECT
    cityHash64(doc_token) AS doc_key,
    cityHash64(doc_type) AS type_key,
    cityHash64(person_id) AS person_key,
    revision + 1 AS revision
FROM doc_person;

CREATE MATERIALIZED VIEW IF NOT EXISTS doc_owner_from_events TO doc_owner AS
SELECT
    cityHash64(doc_token) AS doc_key,
    cityHash64(doc_type) AS type_key,
    toUInt64(0) AS person_key,
    toUInt64(0) AS revision
FROM event_documents
WHERE doc_token != '' AND doc_type != '';

INSERT INTO doc_state_by_type (doc_key, type_key, person, flags)
SELECT
    cityHash64(doc_token) AS doc_key,
    cityHash64(doc_type) AS type_key,
    argMaxState(cityHash64(person_id), revision + 1) AS person,
    groupBitOrState(toUInt64(0)) AS flags
FROM doc_person
GROUP BY doc_key, type_key;

INSERT INTO doc_state_by_type (doc_key, type_key, person, flags)
SELECT
    cityHash64(doc_token) AS doc_key,
    cityHash64(doc_type) AS type_key,
    argMaxState(toUInt64(0), toUInt64(0)) AS person,
    groupBitOrState(toUInt64(multiIf(
        type = 'insurance.code_activated' AND channel = 'online', 1,
        type = 'insurance.code_activated' AND channel = 'offline', 2,
        type = 'insurance.enrolled', 4,
        0))) AS flags
FROM event_documents
WHERE doc_token != '' AND type IN ('insurance.code_activated', 'insurance.enrolled')
GROUP BY doc_key, type_key;

INSERT INTO event_groups (event_type_key, event_key, group_key, occurred_date)
SELECT cityHash64(type), cityHash64(event_id), cityHash64(doc_type, if(type = 'insurance.code_activated', channel, '')), occurred_date
FROM event_documents
WHERE type IN ('insurance.code_activated', 'insurance.enrolled');

INSERT INTO activation_channels (channel)
SELECT DISTINCT channel
FROM event_documents
WHERE type = 'insurance.code_activated' AND channel NOT IN ('online', 'offline');

INSERT INTO doc_owner (doc_key, type_key, person_key, revision)
SELECT cityHash64(doc_token), cityHash64(doc_type), cityHash64(person_id), revision + 1
FROM doc_person;

INSERT INTO doc_owner (doc_key, type_key, person_key, revision)
SELECT cityHash64(doc_token), cityHash64(doc_type), toUInt64(0), toUInt64(0)
FROM event_documents
WHERE doc_token != '' AND doc_type != '';

DROP TABLE IF EXISTS doc_state_from_changes;

DROP TABLE IF EXISTS doc_state_from_events;

DROP TABLE IF EXISTS doc_state;

DROP TABLE IF EXISTS doc_current_from_changes;

DROP TABLE IF EXISTS doc_current_from_events;

DROP TABLE IF EXISTS doc_current;
