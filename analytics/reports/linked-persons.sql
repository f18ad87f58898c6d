-- Persons by the number of distinct document types they hold, under the
-- identity resolution as it stands now. Documents named by an identity
-- change belong to the person of their latest revision; documents only ever
-- seen in events are persons of their own, holding one type. Types are
-- compared by their 64-bit hash (faster than the strings on 18.16).
SELECT
    doc_types,
    sum(n) AS persons
FROM
(
    SELECT
        doc_types,
        count() AS n
    FROM
    (
        SELECT
            person,
            uniqExact(type_key) AS doc_types
        FROM
        (
            SELECT
                doc_key,
                argMax(person_key, revision) AS person,
                any(cityHash64(doc_type)) AS type_key
            FROM doc_person
            GROUP BY doc_key
        )
        GROUP BY person
    )
    GROUP BY doc_types
    UNION ALL
    SELECT
        toUInt64(1) AS doc_types,
        uniqExact(doc_key) AS n
    FROM event_documents
    WHERE doc_type != '' AND doc_key NOT IN (SELECT doc_key FROM doc_person)
)
GROUP BY doc_types
HAVING persons > 0
ORDER BY doc_types
