-- Medical-insurance enrolments by document type, persons as in
-- activations-by-doc-type.
-- The persons side reads doc_groups (the documents each type, document type
-- and channel saw) and doc_current (each document's current person, see
-- 0002_report_tables.sql) in 16 doc_key ranges, one UNION ALL branch each:
-- the branches differ only in their range. Each range is a small hash join
-- that reads only its part of both tables (they are ordered by doc_key) and
-- the branches run in parallel; one big join was 2-4x slower on 18.16. The
-- events side and the persons side are branches of one UNION ALL too, so
-- they run at the same time. g is a 64-bit hash of the group's names:
-- grouping by it is about twice as fast as grouping by the strings.
SELECT
    anyIf(group_type, side = 0) AS doc_type,
    sum(n_events) AS events,
    sum(n_persons) AS persons
FROM
(
    SELECT
        0 AS side,
        cityHash64(doc_type) AS g,
        any(doc_type) AS group_type,
        uniqExact(event_key) AS n_events,
        toUInt64(0) AS n_persons
    FROM event_documents
    WHERE type = 'insurance.enrolled'
    GROUP BY g
    UNION ALL
    SELECT
        1 AS side,
        g,
        '' AS group_type,
        toUInt64(0) AS n_events,
        uniqExact(person) AS n_persons
    FROM
    (
        SELECT g, if(person_key = 0, doc_key, person_key) AS person
        FROM
        (
            SELECT doc_key, cityHash64(doc_type) AS g
            FROM doc_groups
            WHERE type = 'insurance.enrolled' AND doc_key BETWEEN 0 AND 1152921504606846975
        ) AS docs
        ANY LEFT JOIN
        (
            SELECT doc_key, person_key
            FROM doc_current FINAL
            WHERE doc_key BETWEEN 0 AND 1152921504606846975
        ) AS current USING (doc_key)
        UNION ALL
        SELECT g, if(person_key = 0, doc_key, person_key) AS person
        FROM
        (
            SELECT doc_key, cityHash64(doc_type) AS g
            FROM doc_groups
            WHERE type = 'insurance.enrolled' AND doc_key BETWEEN 1152921504606846976 AND 2305843009213693951
        ) AS docs
        ANY LEFT JOIN
        (
            SELECT doc_key, person_key
            FROM doc_current FINAL
            WHERE doc_key BETWEEN 1152921504606846976 AND 2305843009213693951
        ) AS current USING (doc_key)
        UNION ALL
        SELECT g, if(person_key = 0, doc_key, person_key) AS person
        FROM
        (
            SELECT doc_key, cityHash64(doc_type) AS g
            FROM doc_groups
            WHERE type = 'insurance.enrolled' AND doc_key BETWEEN 2305843009213693952 AND 3458764513820540927
        ) AS docs
        ANY LEFT JOIN
        (
            SELECT doc_key, person_key
            FROM doc_current FINAL
            WHERE doc_key BETWEEN 2305843009213693952 AND 3458764513820540927
        ) AS current USING (doc_key)
        UNION ALL
        SELECT g, if(person_key = 0, doc_key, person_key) AS person
        FROM
        (
            SELECT doc_key, cityHash64(doc_type) AS g
            FROM doc_groups
            WHERE type = 'insurance.enrolled' AND doc_key BETWEEN 3458764513820540928 AND 4611686018427387903
        ) AS docs
        ANY LEFT JOIN
        (
            SELECT doc_key, person_key
            FROM doc_current FINAL
            WHERE doc_key BETWEEN 3458764513820540928 AND 4611686018427387903
        ) AS current USING (doc_key)
        UNION ALL
        SELECT g, if(person_key = 0, doc_key, person_key) AS person
        FROM
        (
            SELECT doc_key, cityHash64(doc_type) AS g
            FROM doc_groups
            WHERE type = 'insurance.enrolled' AND doc_key BETWEEN 4611686018427387904 AND 5764607523034234879
        ) AS docs
        ANY LEFT JOIN
        (
            SELECT doc_key, person_key
            FROM doc_current FINAL
            WHERE doc_key BETWEEN 4611686018427387904 AND 5764607523034234879
        ) AS current USING (doc_key)
        UNION ALL
        SELECT g, if(person_key = 0, doc_key, person_key) AS person
        FROM
        (
            SELECT doc_key, cityHash64(doc_type) AS g
            FROM doc_groups
            WHERE type = 'insurance.enrolled' AND doc_key BETWEEN 5764607523034234880 AND 6917529027641081855
        ) AS docs
        ANY LEFT JOIN
        (
            SELECT doc_key, person_key
            FROM doc_current FINAL
            WHERE doc_key BETWEEN 5764607523034234880 AND 6917529027641081855
        ) AS current USING (doc_key)
        UNION ALL
        SELECT g, if(person_key = 0, doc_key, person_key) AS person
        FROM
        (
            SELECT doc_key, cityHash64(doc_type) AS g
            FROM doc_groups
            WHERE type = 'insurance.enrolled' AND doc_key BETWEEN 6917529027641081856 AND 8070450532247928831
        ) AS docs
        ANY LEFT JOIN
        (
            SELECT doc_key, person_key
            FROM doc_current FINAL
            WHERE doc_key BETWEEN 6917529027641081856 AND 8070450532247928831
        ) AS current USING (doc_key)
        UNION ALL
        SELECT g, if(person_key = 0, doc_key, person_key) AS person
        FROM
        (
            SELECT doc_key, cityHash64(doc_type) AS g
            FROM doc_groups
            WHERE type = 'insurance.enrolled' AND doc_key BETWEEN 8070450532247928832 AND 9223372036854775807
        ) AS docs
        ANY LEFT JOIN
        (
            SELECT doc_key, person_key
            FROM doc_current FINAL
            WHERE doc_key BETWEEN 8070450532247928832 AND 9223372036854775807
        ) AS current USING (doc_key)
        UNION ALL
        SELECT g, if(person_key = 0, doc_key, person_key) AS person
        FROM
        (
            SELECT doc_key, cityHash64(doc_type) AS g
            FROM doc_groups
            WHERE type = 'insurance.enrolled' AND doc_key BETWEEN 9223372036854775808 AND 10376293541461622783
        ) AS docs
        ANY LEFT JOIN
        (
            SELECT doc_key, person_key
            FROM doc_current FINAL
            WHERE doc_key BETWEEN 9223372036854775808 AND 10376293541461622783
        ) AS current USING (doc_key)
        UNION ALL
        SELECT g, if(person_key = 0, doc_key, person_key) AS person
        FROM
        (
            SELECT doc_key, cityHash64(doc_type) AS g
            FROM doc_groups
            WHERE type = 'insurance.enrolled' AND doc_key BETWEEN 10376293541461622784 AND 11529215046068469759
        ) AS docs
        ANY LEFT JOIN
        (
            SELECT doc_key, person_key
            FROM doc_current FINAL
            WHERE doc_key BETWEEN 10376293541461622784 AND 11529215046068469759
        ) AS current USING (doc_key)
        UNION ALL
        SELECT g, if(person_key = 0, doc_key, person_key) AS person
        FROM
        (
            SELECT doc_key, cityHash64(doc_type) AS g
            FROM doc_groups
            WHERE type = 'insurance.enrolled' AND doc_key BETWEEN 11529215046068469760 AND 12682136550675316735
        ) AS docs
        ANY LEFT JOIN
        (
            SELECT doc_key, person_key
            FROM doc_current FINAL
            WHERE doc_key BETWEEN 11529215046068469760 AND 12682136550675316735
        ) AS current USING (doc_key)
        UNION ALL
        SELECT g, if(person_key = 0, doc_key, person_key) AS person
        FROM
        (
            SELECT doc_key, cityHash64(doc_type) AS g
            FROM doc_groups
            WHERE type = 'insurance.enrolled' AND doc_key BETWEEN 12682136550675316736 AND 13835058055282163711
        ) AS docs
        ANY LEFT JOIN
        (
            SELECT doc_key, person_key
            FROM doc_current FINAL
            WHERE doc_key BETWEEN 12682136550675316736 AND 13835058055282163711
        ) AS current USING (doc_key)
        UNION ALL
        SELECT g, if(person_key = 0, doc_key, person_key) AS person
        FROM
        (
            SELECT doc_key, cityHash64(doc_type) AS g
            FROM doc_groups
            WHERE type = 'insurance.enrolled' AND doc_key BETWEEN 13835058055282163712 AND 14987979559889010687
        ) AS docs
        ANY LEFT JOIN
        (
            SELECT doc_key, person_key
            FROM doc_current FINAL
            WHERE doc_key BETWEEN 13835058055282163712 AND 14987979559889010687
        ) AS current USING (doc_key)
        UNION ALL
        SELECT g, if(person_key = 0, doc_key, person_key) AS person
        FROM
        (
            SELECT doc_key, cityHash64(doc_type) AS g
            FROM doc_groups
            WHERE type = 'insurance.enrolled' AND doc_key BETWEEN 14987979559889010688 AND 16140901064495857663
        ) AS docs
        ANY LEFT JOIN
        (
            SELECT doc_key, person_key
            FROM doc_current FINAL
            WHERE doc_key BETWEEN 14987979559889010688 AND 16140901064495857663
        ) AS current USING (doc_key)
        UNION ALL
        SELECT g, if(person_key = 0, doc_key, person_key) AS person
        FROM
        (
            SELECT doc_key, cityHash64(doc_type) AS g
            FROM doc_groups
            WHERE type = 'insurance.enrolled' AND doc_key BETWEEN 16140901064495857664 AND 17293822569102704639
        ) AS docs
        ANY LEFT JOIN
        (
            SELECT doc_key, person_key
            FROM doc_current FINAL
            WHERE doc_key BETWEEN 16140901064495857664 AND 17293822569102704639
        ) AS current USING (doc_key)
        UNION ALL
        SELECT g, if(person_key = 0, doc_key, person_key) AS person
        FROM
        (
            SELECT doc_key, cityHash64(doc_type) AS g
            FROM doc_groups
            WHERE type = 'insurance.enrolled' AND doc_key BETWEEN 17293822569102704640 AND 18446744073709551615
        ) AS docs
        ANY LEFT JOIN
        (
            SELECT doc_key, person_key
            FROM doc_current FINAL
            WHERE doc_key BETWEEN 17293822569102704640 AND 18446744073709551615
        ) AS current USING (doc_key)
    )
    GROUP BY g
)
GROUP BY g
ORDER BY doc_type
