-- Medical-insurance-code activations by document type and channel. An event
-- naming several documents counts under each of their types; persons are
-- counted under the identity resolution as it stands now: a document's
-- person is the one of its latest revision in doc_person, or the document
-- itself if no change named it. Keys are the 64-bit hashes (see 0001_init
-- and 0004_type_ordered_state).
--
-- Every count is by g = cityHash64(doc_type, channel), which the view
-- activation_group_names names at the end (see 0004_type_ordered_state).
--
-- Events: event_groups holds a row per (event, g), ordered by event_key,
-- and is read in 32 event_key ranges, one UNION ALL branch each: every
-- event falls in one range, so the ranges' distinct counts add up, and each
-- range's hash sets are small (at 10M events ~0.25 s of CPU, against 0.35 s
-- for count() over FINAL and 0.85 s for uniqExact over event_documents).
-- Every branch costs analysis time before anything is read (on an empty
-- database, ~0.15 s of CPU with 32 ranges on both sides, ~0.27 s with 64,
-- ~0.06 s now), so the ranges are not more finely cut; 8, 16 and 64 ranges
-- were no faster at 10M events.
--
-- Persons, channels 'online' and 'offline': doc_state_by_type holds each
-- document's type, current person and which channels activated it, so no
-- join is needed. It is read with FINAL in one branch per document type of
-- the contract and one for any other type (--@types, see
-- analytics.ExpandBlocks), so each branch counts its type's persons
-- completely and the branches' counts only need adding. A contract type's
-- branch names its type; the other branch names its types from doc_types.
-- These branches come first, at the top level of the UNION ALL: they are the
-- longest (~0.17 s of CPU per type at 10M events), and 18.16 hands the
-- branches to its threads in order, so the short event ranges fill in the
-- time the threads would otherwise wait at the end. At 10M events, against
-- 32 type_key ranges joined with doc_types after the event ranges: 0.86-1.03
-- s against 1.03-1.12 s.
--
-- Persons, any other channel (none in the contract): the documents in
-- doc_other_channels joined with their person in doc_state_by_type; both
-- sides are empty unless such a channel occurs.
SELECT doc_type, channel, events, persons
FROM
(
    SELECT g, sum(n_events) AS events, sum(n_persons) AS persons
    FROM
    (
        --@types type_key
        SELECT cityHash64(@name, channel) AS g, toUInt64(0) AS n_events, n_persons
        FROM
        (
            SELECT
                type_key,
                uniqExactIf(if(p = 0, doc_key, p), bitAnd(f, 1) != 0) AS online,
                uniqExactIf(if(p = 0, doc_key, p), bitAnd(f, 2) != 0) AS offline
            FROM
            (
                SELECT doc_key, type_key, finalizeAggregation(person) AS p, finalizeAggregation(flags) AS f
                FROM doc_state_by_type FINAL
                WHERE @type
            )
            GROUP BY type_key
        )
        ARRAY JOIN
            ['online', 'offline'] AS channel,
            [online, offline] AS n_persons
        WHERE n_persons > 0
        --@end
        UNION ALL
        SELECT
            cityHash64(doc_type, channel) AS g,
            toUInt64(0) AS n_events,
            uniqExact(if(p = 0, doc_key, p)) AS n_persons
        FROM doc_other_channels AS docs
        ANY LEFT JOIN
        (
            SELECT doc_key, finalizeAggregation(person) AS p
            FROM doc_state_by_type FINAL
            WHERE (type_key, doc_key) IN (SELECT cityHash64(doc_type), doc_key FROM doc_other_channels)
        ) AS current USING (doc_key)
        GROUP BY g
        UNION ALL
        --@ranges 32
        SELECT group_key AS g, uniqExact(event_key) AS n_events, toUInt64(0) AS n_persons
        FROM event_groups
        WHERE event_type_key = cityHash64('insurance.code_activated') AND event_key BETWEEN @lo AND @hi
        GROUP BY g
        --@end
    )
    GROUP BY g
) AS counts
ANY LEFT JOIN activation_group_names AS names USING (g)
ORDER BY doc_type, channel
