-- idlink's analytics schema (analytics/README.md): the tables the analytics
-- sink writes, the tables materialized views keep from them, and the views
-- analysts and the reports read. It runs on ClickHouse 18.16 and on current
-- releases: MergeTree engines only; no LowCardinality, Nullable,
-- DateTime64, SimpleAggregateFunction or window functions. Every statement
-- is idempotent (IF NOT EXISTS), so a migration interrupted before it was
-- recorded runs again unharmed. Names given to a view's or a materialized
-- view's expressions never repeat a column of the table they read (ClickHouse
-- 18.16 would read the name as the expression itself).
--
-- Identifiers: a document is its type and its token (HMAC-SHA256 of
-- `type:normalised_number`); doc_key is cityHash64(doc_token) and person_key
-- cityHash64(person_id), 64-bit numbers the reports count and match on.

-- A row is one province-level division of GB/T 2260 as the first two digits
-- of a region code ('' standing for no region), with its bit in
-- document_state's province masks: bit i for the (i+1)-th code below. The
-- statements after it read codes and bits as
-- (SELECT groupArray(province_code) FROM province_codes) and
-- (SELECT groupArray(province_bit) FROM province_codes).
CREATE VIEW IF NOT EXISTS province_codes AS
SELECT code AS province_code, bitShiftLeft(toUInt64(1), toUInt64(position - 1)) AS province_bit
FROM
(
    SELECT ['', '11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34', '35', '36', '37', '41', '42', '43', '44', '45', '46', '50', '51', '52', '53', '54', '61', '62', '63', '64', '65', '71', '81', '82'] AS codes
)
ARRAY JOIN codes AS code, arrayEnumerate(codes) AS position;

-- The tables the analytics sink writes (consumers/analytics, INSERTs with
-- explicit column lists).

-- A row is one document an accepted event named, with the event's fields; an
-- event naming no document has one row with empty doc_type and doc_token. A
-- redelivered event inserts its rows again; merges fold the copies.
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
    inserted_at   DateTime
) ENGINE = ReplacingMergeTree
ORDER BY (type, doc_type, event_id, doc_token);

-- A row is one change the identity resolver published on identity.changes
-- (kind created, merged, split, conflict_held, conflict_released or
-- reassigned, see schemas/types.go), with the ids of the persons it names; a
-- redelivered change folds on merge.
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

-- A row is the person holding one document as of one identity change that
-- named it, at that change's revision; the row of the latest revision is the
-- document's person now.
CREATE TABLE IF NOT EXISTS doc_person (
    doc_token   String,
    doc_type    String,
    person_id   String,
    revision    UInt64,
    change_id   String,
    occurred_at DateTime,
    inserted_at DateTime
) ENGINE = ReplacingMergeTree(revision)
ORDER BY (doc_token, doc_type);

-- The views analysts query: plain queries over the sink's tables, each
-- reading them as they are when it runs.

-- A row is one accepted event (replays and an event's documents folded).
CREATE VIEW IF NOT EXISTS events AS
SELECT DISTINCT event_id, type, agency, occurred_at, occurred_date, tz_offset_s, region, birth_date, channel, scheme,
    relying_party, outcome, reason, retracts
FROM event_documents;

-- A row is one accepted event and one type of document it named, with the
-- event's fields (an event naming no document has none).
CREATE VIEW IF NOT EXISTS event_doc_types AS
SELECT DISTINCT event_id, type, agency, doc_type, occurred_at, occurred_date, tz_offset_s, region, birth_date, channel,
    scheme, relying_party, outcome, reason, retracts
FROM event_documents
WHERE doc_type != '';

-- A row is one document, named by an event or by an identity change, with
-- the person holding it now (the one of its latest revision in doc_person;
-- a document no change has named yet is a person of its own, its person_id
-- its doc_token), its status ('revoked' when its latest residence-permit
-- event by (occurred_at, event_id) is a residence_permit.revoked, else
-- 'active') and the first and last occurred_at of the events naming it
-- (1970-01-01 00:00:00 while no event naming it is stored). The branches
-- of its UNION ALL materialize their constants: ClickHouse 18.16 refuses a
-- column constant in one branch and not in another.
CREATE VIEW IF NOT EXISTS documents_now AS
SELECT
    doc_type,
    doc_token,
    if(latest_person != '', latest_person, doc_token) AS person_id,
    if(latest_permit = 'residence_permit.revoked', 'revoked', 'active') AS status,
    seen_first AS first_seen,
    seen_last AS last_seen
FROM
(
    SELECT
        doc_type,
        doc_token,
        argMax(named_person, named_revision) AS latest_person,
        argMaxIf(permit_type, permit_order, permit_type != '') AS latest_permit,
        minIf(seen_at, seen = 1) AS seen_first,
        maxIf(seen_at, seen = 1) AS seen_last
    FROM
    (
        SELECT
            doc_type,
            doc_token,
            person_id AS named_person,
            revision + 1 AS named_revision,
            materialize(toDateTime(0)) AS seen_at,
            materialize(toUInt8(0)) AS seen,
            materialize('') AS permit_type,
            materialize((toDateTime(0), '')) AS permit_order
        FROM doc_person
        UNION ALL
        SELECT
            doc_type,
            doc_token,
            materialize('') AS named_person,
            materialize(toUInt64(0)) AS named_revision,
            occurred_at AS seen_at,
            materialize(toUInt8(1)) AS seen,
            if(type IN ('residence_permit.issued', 'residence_permit.revoked'), type, '') AS permit_type,
            (occurred_at, event_id) AS permit_order
        FROM event_documents
        WHERE doc_token != ''
    )
    GROUP BY doc_type, doc_token
);

-- A row is one document an accepted event named, with the event's fields and
-- the person holding the document now (person_id as in documents_now);
-- replays folded.
CREATE VIEW IF NOT EXISTS event_documents_now AS
SELECT event_id, type, agency, occurred_at, occurred_date, tz_offset_s, region, birth_date, channel, scheme,
    relying_party, outcome, reason, retracts, doc_type, doc_token, person_id
FROM
(
    SELECT event_id, type, agency, occurred_at, occurred_date, tz_offset_s, region, birth_date, channel, scheme,
        relying_party, outcome, reason, retracts, doc_type, doc_token
    FROM event_documents FINAL
    WHERE doc_token != ''
) AS named
ANY LEFT JOIN
(
    SELECT doc_type, doc_token, person_id
    FROM documents_now
) AS holders USING (doc_type, doc_token);

-- A row is one person now: the sorted types of the documents it holds, how
-- many documents, and the first and last occurred_at of the events naming
-- any of them.
CREATE VIEW IF NOT EXISTS persons_now AS
SELECT
    person_id,
    arraySort(groupUniqArray(doc_type)) AS doc_types,
    count() AS documents,
    minIf(doc_first_seen, doc_last_seen != toDateTime(0)) AS first_seen,
    max(doc_last_seen) AS last_seen
FROM
(
    SELECT person_id, doc_type, first_seen AS doc_first_seen, last_seen AS doc_last_seen
    FROM documents_now
)
GROUP BY person_id;

-- A row is one event held back as a conflict in the current state: its
-- latest conflict_held or conflict_released change (by revision, then
-- occurred_at, a release counting as the later of two at the same second) is
-- a conflict_held. reason is why it was held, person_ids the persons holding
-- its documents (both sides), held_at the occurred_at of that change (the
-- event's own, or that of the retraction whose re-decision held it) and
-- revision its revision.
CREATE VIEW IF NOT EXISTS conflicts_now AS
SELECT event_id, last_reason AS reason, last_person_ids AS person_ids, last_at AS held_at, last_revision AS revision
FROM
(
    SELECT
        event_id,
        argMax(kind, (revision, occurred_at, kind = 'conflict_released')) AS last_kind,
        argMax(reason, (revision, occurred_at, kind = 'conflict_released')) AS last_reason,
        argMax(other_person_ids, (revision, occurred_at, kind = 'conflict_released')) AS last_person_ids,
        argMax(occurred_at, (revision, occurred_at, kind = 'conflict_released')) AS last_at,
        max(revision) AS last_revision
    FROM identity_changes
    WHERE kind IN ('conflict_held', 'conflict_released')
    GROUP BY event_id
)
WHERE last_kind = 'conflict_held';

-- The fast paths of the reports (analytics/reports/): tables that
-- materialized views keep in step with every insert into the sink's tables,
-- and the views the reports read them through. Replays and the order of
-- inserts change none of them once merged, and the views read them with
-- FINAL, which folds what merges have not folded yet. Each report's plain
-- query over the views above is in analytics/sqlcheck/oracle/, which the
-- tests hold the reports to.

-- A row is one accepted event and one type of document it named ('' for an
-- event naming none), with the fields the reports group by and event_key =
-- cityHash64(event_id); copies fold on merge. Read through the view
-- report_event_doc_types.
CREATE TABLE IF NOT EXISTS event_rows (
    type          String,
    doc_type      String,
    event_key     UInt64,
    occurred_date Date,
    channel       String,
    relying_party String,
    outcome       String,
    reason        String
) ENGINE = ReplacingMergeTree
ORDER BY (type, doc_type, event_key);

CREATE MATERIALIZED VIEW IF NOT EXISTS event_rows_from_events TO event_rows AS
SELECT type, doc_type, cityHash64(event_id) AS event_key, occurred_date, channel, relying_party, outcome, reason
FROM event_documents;

-- A row is one accepted activation (insurance.code_activated) with the
-- fields activations-by-region groups by and event_key =
-- cityHash64(event_id); copies (one per document and per redelivery) fold
-- on merge. Read through the view report_activations.
CREATE TABLE IF NOT EXISTS activation_rows (
    event_key UInt64,
    region    String,
    channel   String
) ENGINE = ReplacingMergeTree
ORDER BY event_key;

CREATE MATERIALIZED VIEW IF NOT EXISTS activation_rows_from_events TO activation_rows AS
SELECT cityHash64(event_id) AS event_key, region, channel
FROM event_documents
WHERE type = 'insurance.code_activated';

-- A row is one document, named by an event or by an identity change, with
-- aggregate states that merges combine:
--   person_key: cityHash64(person_id) at the latest revision (stored as
--     revision + 1); an event contributes 0 at revision 0, so a document no
--     change named yet has 0;
--   uses: bit 1 activated online, 2 activated offline, 4 activated through
--     any other channel (insurance.code_activated), 8 enrolled
--     (insurance.enrolled), 16 rejected (an event with outcome 'rejected');
--   online_provinces, offline_provinces: the province_bit (province_codes)
--     of the first two digits of the regions of its online (offline)
--     activations, OR-ed; a code outside province_codes sets none (see
--     activation_exceptions).
-- Read through the view document_activity.
CREATE TABLE IF NOT EXISTS document_state (
    doc_type          String,
    doc_key           UInt64,
    person_key        AggregateFunction(argMax, UInt64, UInt64),
    uses              AggregateFunction(groupBitOr, UInt64),
    online_provinces  AggregateFunction(groupBitOr, UInt64),
    offline_provinces AggregateFunction(groupBitOr, UInt64)
) ENGINE = AggregatingMergeTree
ORDER BY (doc_type, doc_key);

CREATE MATERIALIZED VIEW IF NOT EXISTS document_state_from_changes TO document_state AS
SELECT
    doc_type,
    cityHash64(doc_token) AS doc_key,
    argMaxState(cityHash64(person_id), revision + 1) AS person_key,
    groupBitOrState(toUInt64(0)) AS uses,
    groupBitOrState(toUInt64(0)) AS online_provinces,
    groupBitOrState(toUInt64(0)) AS offline_provinces
FROM doc_person
GROUP BY doc_type, doc_key;

CREATE MATERIALIZED VIEW IF NOT EXISTS document_state_from_events TO document_state AS
SELECT
    doc_type,
    cityHash64(doc_token) AS doc_key,
    argMaxState(toUInt64(0), toUInt64(0)) AS person_key,
    groupBitOrState(toUInt64(multiIf(
        type = 'insurance.code_activated' AND channel = 'online', 1,
        type = 'insurance.code_activated' AND channel = 'offline', 2,
        type = 'insurance.code_activated', 4,
        type = 'insurance.enrolled', 8,
        0) + if(outcome = 'rejected', 16, 0))) AS uses,
    groupBitOrState(if(type = 'insurance.code_activated' AND channel = 'online',
        (transform(substring(region, 1, 2),
            (SELECT groupArray(province_code) FROM province_codes), (SELECT groupArray(province_bit) FROM province_codes),
            toUInt64(0)) AS province_bit),
        toUInt64(0))) AS online_provinces,
    groupBitOrState(if(type = 'insurance.code_activated' AND channel = 'offline', province_bit, toUInt64(0))) AS offline_provinces
FROM event_documents
WHERE doc_token != ''
GROUP BY doc_type, doc_key;

-- A row is one document activated through a channel other than online and
-- offline, or in a region whose first two digits are not in province_codes,
-- with that province code and channel (the activations document_state's
-- province masks do not place); copies fold on merge.
CREATE TABLE IF NOT EXISTS activation_exceptions (
    doc_type      String,
    doc_key       UInt64,
    province_code String,
    channel       String
) ENGINE = ReplacingMergeTree
ORDER BY (doc_type, doc_key, province_code, channel);

CREATE MATERIALIZED VIEW IF NOT EXISTS activation_exceptions_from_events TO activation_exceptions AS
SELECT doc_type, cityHash64(doc_token) AS doc_key, substring(region, 1, 2) AS province_code, channel
FROM event_documents
WHERE type = 'insurance.code_activated' AND doc_token != ''
    AND (channel NOT IN ('online', 'offline')
        OR transform(substring(region, 1, 2),
            (SELECT groupArray(province_code) FROM province_codes), (SELECT groupArray(province_bit) FROM province_codes),
            toUInt64(0)) = 0);

-- A row is one document a service rejected (outcome 'rejected'), or one
-- document type a service passed or accepted (outcome 'passed' or
-- 'accepted', doc_key 0); the service is the event's relying_party, or its
-- type when it names none. Copies fold on merge.
CREATE TABLE IF NOT EXISTS service_outcomes (
    outcome  String,
    service  String,
    doc_type String,
    doc_key  UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (outcome, service, doc_type, doc_key);

CREATE MATERIALIZED VIEW IF NOT EXISTS service_outcomes_from_events TO service_outcomes AS
SELECT
    outcome,
    if(relying_party != '', relying_party, type) AS service,
    doc_type,
    if(outcome = 'rejected', cityHash64(doc_token), toUInt64(0)) AS doc_key
FROM event_documents
WHERE outcome IN ('passed', 'accepted', 'rejected') AND doc_token != '';

-- A row is one accepted event and one type of document it named, with the
-- fields the reports group by.
CREATE VIEW IF NOT EXISTS report_event_doc_types AS
SELECT type, doc_type, event_key, occurred_date, channel, relying_party, outcome, reason
FROM event_rows FINAL
WHERE doc_type != '';

-- A row is one accepted activation (insurance.code_activated), with the
-- fields the reports group by.
CREATE VIEW IF NOT EXISTS report_activations AS
SELECT event_key, region, channel
FROM activation_rows FINAL;

-- A row is one document with its type, doc_key, the person_key of the
-- person holding it now (cityHash64(person_id) of documents_now), whether an
-- activation online, offline or through any other channel, an enrolment and
-- an event with outcome 'rejected' named it (1 or 0), and the province codes
-- (and their province_bits OR-ed, online_provinces and offline_provinces) of
-- its online and offline activations that are in province_codes
-- (activation_exceptions holds the others). It tells of each document what
-- the reports would otherwise learn by joining event_documents_now with
-- documents_now.
CREATE VIEW IF NOT EXISTS document_activity AS
SELECT
    doc_type,
    doc_key,
    if(latest_key != 0, latest_key, doc_key) AS person_key,
    toUInt8(bitAnd(use_bits, 1) != 0) AS activated_online,
    toUInt8(bitAnd(use_bits, 2) != 0) AS activated_offline,
    toUInt8(bitAnd(use_bits, 4) != 0) AS activated_other,
    toUInt8(bitAnd(use_bits, 8) != 0) AS enrolled,
    toUInt8(bitAnd(use_bits, 16) != 0) AS rejected,
    online_bits AS online_provinces,
    offline_bits AS offline_provinces,
    arrayMap(b -> arrayElement((SELECT groupArray(province_code) FROM province_codes), toUInt32(log2(b)) + 1),
        bitmaskToArray(online_bits)) AS online_province_codes,
    arrayMap(b -> arrayElement((SELECT groupArray(province_code) FROM province_codes), toUInt32(log2(b)) + 1),
        bitmaskToArray(offline_bits)) AS offline_province_codes
FROM
(
    SELECT
        doc_type,
        doc_key,
        finalizeAggregation(person_key) AS latest_key,
        finalizeAggregation(uses) AS use_bits,
        finalizeAggregation(online_provinces) AS online_bits,
        finalizeAggregation(offline_provinces) AS offline_bits
    FROM document_state FINAL
);

-- A row is one activation of activation_exceptions (document, province code,
-- channel) with the person_key of the person holding the document now.
CREATE VIEW IF NOT EXISTS activation_exceptions_now AS
SELECT doc_type, doc_key, province_code, channel, person_key
FROM
(
    SELECT DISTINCT doc_type, doc_key, province_code, channel
    FROM activation_exceptions
) AS exceptions
ALL INNER JOIN
(
    SELECT doc_type, doc_key, person_key
    FROM document_activity
    WHERE (doc_type, doc_key) IN (SELECT doc_type, doc_key FROM activation_exceptions)
) AS holders USING (doc_type, doc_key);
