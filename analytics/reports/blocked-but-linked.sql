-- The linking that would let rejected persons through: per service and
-- document type it rejected, the persons it rejected who hold, as identity
-- resolution stands now, a document of another type that the same service
-- accepted (passed or accepted) for anyone, with that alternative type. A
-- person holding several such types counts under each. Services are as in
-- service-acceptance.
--
-- The plain query over event_documents_now and documents_now gives the same
-- rows (sqlcheck/oracle/blocked-but-linked.sql). This one reads the persons
-- of the documents from document_persons_now and the services' outcomes from
-- service_outcomes: the rejected documents with their persons, then every
-- document of a type some service accepted, matched to them by person. A
-- document no identity change named yet is not in document_persons_now; it is
-- a person of its own holding no other type, so it adds no row.
SELECT service, rejected_doc_type, alternative_doc_type, uniqExact(person_key) AS persons
FROM
(
    SELECT person_key, doc_type AS alternative_doc_type
    FROM document_persons_now
    WHERE doc_type IN (SELECT doc_type FROM service_outcomes WHERE outcome IN ('passed', 'accepted'))
) AS held
ALL INNER JOIN
(
    SELECT DISTINCT person_key, service, rejected_doc_type
    FROM
    (
        SELECT doc_type AS rejected_doc_type, doc_key, person_key
        FROM document_persons_now
    ) AS documents
    ALL INNER JOIN
    (
        SELECT service, doc_type AS rejected_doc_type, doc_key
        FROM service_outcomes
        WHERE outcome = 'rejected'
    ) AS rejections USING (rejected_doc_type, doc_key)
) AS rejected USING (person_key)
WHERE alternative_doc_type != rejected_doc_type
    AND (service, alternative_doc_type) IN
    (
        SELECT service, doc_type
        FROM service_outcomes
        WHERE outcome IN ('passed', 'accepted')
    )
GROUP BY service, rejected_doc_type, alternative_doc_type
ORDER BY service, rejected_doc_type, alternative_doc_type
