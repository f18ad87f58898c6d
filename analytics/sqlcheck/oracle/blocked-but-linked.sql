-- The plain query of reports/blocked-but-linked.sql.
SELECT service, rejected_doc_type, alternative_doc_type, uniqExact(person_id) AS persons
FROM
(
    SELECT DISTINCT if(relying_party != '', relying_party, type) AS service, doc_type AS rejected_doc_type, person_id
    FROM event_documents_now
    WHERE outcome = 'rejected'
) AS rejected
ALL INNER JOIN
(
    SELECT DISTINCT person_id, doc_type AS alternative_doc_type
    FROM documents_now
) AS held USING (person_id)
WHERE alternative_doc_type != rejected_doc_type
    AND (service, alternative_doc_type) IN
    (
        SELECT DISTINCT if(relying_party != '', relying_party, type), doc_type
        FROM event_documents_now
        WHERE outcome IN ('passed', 'accepted')
    )
GROUP BY service, rejected_doc_type, alternative_doc_type
ORDER BY service, rejected_doc_type, alternative_doc_type
