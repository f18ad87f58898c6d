-- Medical-insurance enrolments by document type, persons as in
-- activations-by-doc-type.
--
-- Events: distinct event keys per document type in event_documents.
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
    SELECT doc_type, uniqExact(event_key) AS n_events, toUInt64(0) AS n_persons
    FROM event_documents
    WHERE type = 'insurance.enrolled'
    GROUP BY doc_type
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
