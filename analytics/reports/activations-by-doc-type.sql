-- Medical-insurance-code activations by document type and channel. An event
-- naming several documents counts under each of their types; persons are
-- counted under the identity resolution as it stands now: a document's
-- person is the one of its latest revision in doc_person, or the document
-- itself if no change named it. Keys are the 64-bit hashes (see 0001_init).
--
-- g is cityHash64(doc_type, channel): grouping by it is about twice as fast
-- as grouping by the strings.
--
-- Events: distinct event keys per g in event_documents, which also names
-- each group. (A per-event table ordered by event_key, counted one key range
-- at a time, took this part from ~0.8 to ~0.35 s of CPU, but its views cost
-- the analytics sink 40% of its insert rate, so it is not used.)
--
-- Persons, channels 'online' and 'offline': one scan of doc_state (see
-- 0003_doc_state.sql), which holds each document's type, current person and
-- which channels activated it, so no join is needed. It is read with FINAL
-- in 16 doc_key ranges, which run in parallel. Its type_key (the hash of
-- the document type) is named from doc_types once counted; a type missing
-- there can only be '', which is what the join's default names.
--
-- Persons, any other channel (none in the contract): the documents in
-- doc_other_channels joined with their person in doc_state; both sides are
-- empty unless such a channel occurs.
--
-- The three counts are branches of one UNION ALL, so they run at the same
-- time.
SELECT
    anyIf(group_type, side = 0) AS doc_type,
    anyIf(group_channel, side = 0) AS channel,
    sum(n_events) AS events,
    sum(n_persons) AS persons
FROM
(
    SELECT
        0 AS side,
        cityHash64(doc_type, channel) AS g,
        any(doc_type) AS group_type,
        any(channel) AS group_channel,
        uniqExact(event_key) AS n_events,
        toUInt64(0) AS n_persons
    FROM event_documents
    WHERE type = 'insurance.code_activated'
    GROUP BY g
    UNION ALL
    SELECT
        1 AS side,
        cityHash64(doc_type, channel) AS g,
        '' AS group_type,
        '' AS group_channel,
        toUInt64(0) AS n_events,
        n_persons
    FROM
    (
        SELECT doc_type, online, offline
        FROM
        (
            SELECT
                type_key,
                uniqExactIf(person, bitAnd(f, 1) != 0) AS online,
                uniqExactIf(person, bitAnd(f, 2) != 0) AS offline
            FROM
            (
                --@ranges 16
                SELECT type_key, if(p = 0, doc_key, p) AS person, f
                FROM
                (
                    SELECT doc_key, type_key, finalizeAggregation(person) AS p, finalizeAggregation(flags) AS f
                    FROM doc_state FINAL
                    WHERE doc_key BETWEEN @lo AND @hi
                )
                WHERE bitAnd(f, 3) != 0
                --@end
            )
            GROUP BY type_key
        ) AS counts
        ANY LEFT JOIN
        (
            SELECT DISTINCT cityHash64(doc_type) AS type_key, doc_type
            FROM doc_types
        ) AS types USING (type_key)
    )
    ARRAY JOIN
        ['online', 'offline'] AS channel,
        [online, offline] AS n_persons
    WHERE n_persons > 0
    UNION ALL
    SELECT
        1 AS side,
        cityHash64(doc_type, channel) AS g,
        '' AS group_type,
        '' AS group_channel,
        toUInt64(0) AS n_events,
        uniqExact(if(p = 0, doc_key, p)) AS n_persons
    FROM doc_other_channels AS docs
    ANY LEFT JOIN
    (
        SELECT doc_key, finalizeAggregation(person) AS p
        FROM doc_state FINAL
        WHERE doc_key IN (SELECT doc_key FROM doc_other_channels)
    ) AS current USING (doc_key)
    GROUP BY g
)
GROUP BY g
ORDER BY doc_type, channel
