-- The linking that would let rejected persons through: per service and
-- document type it rejected, the persons it rejected who hold, as identity
-- resolution stands now, a document of another type that the same service
-- accepted (passed or accepted) for anyone, with that alternative type. A
-- person holding several such types counts under each. Services are as in
-- service-acceptance.
--
-- The plain query over event_documents_now and documents_now gives the same
-- rows (sqlcheck/oracle/blocked-but-linked.sql). This one reads the
-- documents of the persons holding a rejected document from
-- document_activity, grouped by person, and the services' outcomes from
-- service_outcomes.
SELECT service, rejected_doc_type, alternative_doc_type, uniqExact(person_key) AS persons
FROM
(
    SELECT person_key, service, rejected_doc_type, held_types
    FROM
    (
        SELECT person_key, held_types, rejected_doc.1 AS rejected_doc_type, rejected_doc.2 AS doc_key
        FROM
        (
            SELECT
                person_key,
                groupUniqArray(doc_type) AS held_types,
                groupUniqArrayIf((doc_type, doc_key), rejected = 1) AS rejected_docs
            FROM document_activity
            WHERE person_key IN (SELECT person_key FROM document_activity WHERE rejected = 1)
            GROUP BY person_key
        )
        ARRAY JOIN rejected_docs AS rejected_doc
    ) AS rejected
    ALL INNER JOIN
    (
        SELECT service, doc_type AS rejected_doc_type, doc_key
        FROM service_outcomes
        WHERE outcome = 'rejected'
    ) AS rejections USING (rejected_doc_type, doc_key)
)
ARRAY JOIN held_types AS alternative_doc_type
WHERE alternative_doc_type != rejected_doc_type
    AND (service, alternative_doc_type) IN
    (
        SELECT service, doc_type
        FROM service_outcomes
        WHERE outcome IN ('passed', 'accepted')
    )
GROUP BY service, rejected_doc_type, alternative_doc_type
ORDER BY service, rejected_doc_type, alternative_doc_type
