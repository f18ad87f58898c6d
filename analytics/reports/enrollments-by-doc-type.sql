-- Medical-insurance enrolments by document type, persons as in
-- activations-by-doc-type.
SELECT
    doc_type,
    uniqExact(event_key) AS events,
    uniqExact(person) AS persons
FROM
(
    SELECT
        event_key,
        doc_type,
        if(current_person = 0, doc_key, current_person) AS person
    FROM
    (
        SELECT event_key, doc_type, doc_key
        FROM event_documents
        WHERE type = 'insurance.enrolled'
    ) AS docs
    ANY LEFT JOIN
    (
        SELECT doc_key, argMax(person_key, revision) AS current_person
        FROM doc_person
        GROUP BY doc_key
    ) AS current USING (doc_key)
)
GROUP BY doc_type
ORDER BY doc_type
