-- One row per document holding both what the activation and enrolment
-- reports group persons by and the document's current person, so that
-- counting persons is one scan instead of a hash join of doc_groups with
-- doc_current (the join alone took ~1.8 s of CPU at 10M events on 18.16).
-- It holds every document named by a change and every document of an
-- activation or enrolment; doc_groups (0002) is dropped at the end of this
-- file, as no report reads it any more. (linked-persons keeps reading
-- doc_current: feeding doc_state from every event made it cheaper for that
-- report once merged, but left twice as many unmerged rows right after a
-- bulk load, and FINAL then cost activations-by-doc-type ~3 s at 10M.)
--
-- person: argMax(person_key, revision + 1) over doc_person, and (0, 0) for
--   a document seen in an event: as in doc_current, 0 means "no change named
--   it, the document is a person of its own".
-- flags: bit OR of what events saw the document in:
--   1 = insurance.code_activated with channel 'online'
--   2 = insurance.code_activated with channel 'offline'
--   4 = insurance.enrolled (any channel)
--   Activations with any other channel (none in the contract) get no bit:
--   they are listed in doc_other_channels instead, which
--   activations-by-doc-type joins with doc_state, so an unexpected channel
--   is still counted (it costs nothing while the table is empty).
--
-- argMax and bit OR give the same result however rows are split into parts
-- and however often they repeat, so replayed inserts (and this file running
-- twice) change no report. Reports read the table with FINAL, one doc_key
-- range at a time, and finalizeAggregation. type_key is cityHash64(doc_type)
-- (doc_types names it): FINAL over UInt64 keys is ~15% cheaper than with the
-- string. The views hash the strings themselves, like those of 0002, and are
-- created before the back-fill: a row inserted in between is counted twice,
-- which argMax and bit OR ignore.
CREATE TABLE IF NOT EXISTS doc_state (
    doc_key  UInt64,
    type_key UInt64,
    person   AggregateFunction(argMax, UInt64, UInt64),
    flags    AggregateFunction(groupBitOr, UInt64)
) ENGINE = AggregatingMergeTree
ORDER BY (doc_key, type_key);

CREATE MATERIALIZED VIEW IF NOT EXISTS doc_state_from_changes TO doc_state AS
SELECT
    cityHash64(doc_token) AS doc_key,
    cityHash64(doc_type) AS type_key,
    argMaxState(cityHash64(person_id), revision + 1) AS person,
    groupBitOrState(toUInt64(0)) AS flags
FROM doc_person
GROUP BY doc_key, type_key;

CREATE MATERIALIZED VIEW IF NOT EXISTS doc_state_from_events TO doc_state AS
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

-- Documents of activations whose channel has no bit in doc_state.flags.
CREATE TABLE IF NOT EXISTS doc_other_channels (
    doc_key  UInt64,
    doc_type String,
    channel  String
) ENGINE = ReplacingMergeTree
ORDER BY (doc_key, doc_type, channel);

CREATE MATERIALIZED VIEW IF NOT EXISTS doc_other_channels_from_events TO doc_other_channels AS
SELECT
    cityHash64(doc_token) AS doc_key,
    doc_type,
    channel
FROM event_documents
WHERE doc_token != '' AND type = 'insurance.code_activated' AND channel NOT IN ('online', 'offline');

-- Back-fill from the rows already there.
INSERT INTO doc_state (doc_key, type_key, person, flags)
SELECT
    cityHash64(doc_token) AS doc_key,
    cityHash64(doc_type) AS type_key,
    argMaxState(cityHash64(person_id), revision + 1) AS person,
    groupBitOrState(toUInt64(0)) AS flags
FROM doc_person
GROUP BY doc_key, type_key;

INSERT INTO doc_state (doc_key, type_key, person, flags)
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

INSERT INTO doc_other_channels (doc_key, doc_type, channel)
SELECT cityHash64(doc_token), doc_type, channel
FROM event_documents
WHERE doc_token != '' AND type = 'insurance.code_activated' AND channel NOT IN ('online', 'offline');

-- No report reads doc_groups any more (0002): drop it and its view, which
-- every insert paid for.
DROP TABLE IF EXISTS doc_groups_from_events;

DROP TABLE IF EXISTS doc_groups;
