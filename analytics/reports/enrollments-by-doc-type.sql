-- Medical-insurance enrolments by document type, persons as in
-- activations-by-doc-type.
--
-- Events: distinct event keys in event_keys (see 0003_doc_state.sql) per g =
-- cityHash64(doc_type, channel), counted in 64 event_key ranges (--@ranges:
-- analytics.ExpandRanges writes one UNION ALL branch per range) whose counts
-- add up, as in activations-by-doc-type; event_groups names each g, and the
-- counts of a document type's g (one per channel) add up too, since an
-- event has one channel.
--
-- Persons: one scan of doc_state for the documents with the enrolment bit
-- (4), each with its current person, read with FINAL in 16 doc_key ranges
-- that run in parallel; type_key is named from doc_types as in
-- activations-by-doc-type.
--
-- Both sides are branches of one UNION ALL, so they run at the same time.
SELECT
    doc_type,
    sum(n_events) AS events,
    sum(n_persons) AS persons
FROM
(
    SELECT doc_type, n_events, toUInt64(0) AS n_persons
    FROM
    (
        SELECT g, sum(n) AS n_events
        FROM
        (
            --@ranges 64
            SELECT g, uniqExact(event_key) AS n
            FROM event_keys
            WHERE type = 'insurance.enrolled' AND event_key BETWEEN @lo AND @hi
            GROUP BY g
            --@end
        )
        GROUP BY g
    ) AS counts
    ANY LEFT JOIN
    (
        SELECT g, doc_type
        FROM event_groups
        WHERE type = 'insurance.enrolled'
    ) AS names USING (g)
    UNION ALL
    SELECT doc_type, toUInt64(0) AS n_events, n_persons
    FROM
    (
        SELECT type_key, uniqExact(person) AS n_persons
        FROM
        (
            --@ranges 16
            SELECT type_key, if(p = 0, doc_key, p) AS person
            FROM
            (
                SELECT doc_key, type_key, finalizeAggregation(person) AS p, finalizeAggregation(flags) AS f
                FROM doc_state FINAL
                WHERE doc_key BETWEEN @lo AND @hi
            )
            WHERE bitAnd(f, 4) != 0
            --@end
        )
        GROUP BY type_key
    ) AS persons
    ANY LEFT JOIN
    (
        SELECT DISTINCT cityHash64(doc_type) AS type_key, doc_type
        FROM doc_types
    ) AS types USING (type_key)
)
GROUP BY doc_type
ORDER BY doc_type
