-- Medical-insurance enrolments by document type, events and persons counted
-- as in activations-by-doc-type.
--
-- Events: distinct event keys per group_key of event_groups, in 32
-- event_key ranges whose counts add up; an enrolment's group key is
-- cityHash64(doc_type, ''), named from doc_types (and '', for an enrolment
-- naming no document).
--
-- Persons: the documents of doc_state_by_type with the enrolment bit (4),
-- each with its current person, read with FINAL in one branch per document
-- type (--@types, as in activations-by-doc-type), each counting its type's
-- persons completely; type_key is named from doc_types.
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
            --@ranges 32
            SELECT group_key AS g, uniqExact(event_key) AS n
            FROM event_groups
            WHERE event_type_key = cityHash64('insurance.enrolled') AND event_key BETWEEN @lo AND @hi
            GROUP BY g
            --@end
        )
        GROUP BY g
    ) AS counts
    ANY LEFT JOIN
    (
        SELECT cityHash64(doc_type, '') AS g, doc_type
        FROM
        (
            SELECT DISTINCT doc_type FROM doc_types
            UNION ALL
            SELECT '' AS doc_type
        )
    ) AS names USING (g)
    UNION ALL
    SELECT doc_type, toUInt64(0) AS n_events, n_persons
    FROM
    (
        --@types type_key
        SELECT type_key, uniqExact(if(p = 0, doc_key, p)) AS n_persons
        FROM
        (
            SELECT doc_key, type_key, finalizeAggregation(person) AS p, finalizeAggregation(flags) AS f
            FROM doc_state_by_type FINAL
            WHERE @type
        )
        WHERE bitAnd(f, 4) != 0
        GROUP BY type_key
        --@end
    ) AS persons
    ANY LEFT JOIN
    (
        SELECT DISTINCT cityHash64(doc_type) AS type_key, doc_type
        FROM doc_types
    ) AS types USING (type_key)
)
GROUP BY doc_type
ORDER BY doc_type
