-- The view documents_now (fast, over document_state), then its plain query.
SELECT doc_type, doc_token, person_id, status, first_seen, last_seen
FROM documents_now
ORDER BY doc_type, doc_token;

SELECT
    doc_type,
    doc_token,
    if(latest_person != '', latest_person, doc_token) AS person_id,
    if(latest_permit = 'residence_permit.revoked', 'revoked', 'active') AS status,
    seen_first AS first_seen,
    seen_last AS last_seen
FROM
(
    SELECT doc_type, doc_token, argMax(person_id, revision) AS latest_person
    FROM
    (
        SELECT doc_type, doc_token, person_id, revision + 1 AS revision FROM doc_person
        UNION ALL
        SELECT doc_type, doc_token, '' AS person_id, toUInt64(0) AS revision FROM event_documents WHERE doc_token != ''
    )
    GROUP BY doc_type, doc_token
) AS holders
ANY LEFT JOIN
(
    SELECT
        doc_type,
        doc_token,
        min(occurred_at) AS seen_first,
        max(occurred_at) AS seen_last,
        argMaxIf(type, (occurred_at, event_id), type IN ('residence_permit.issued', 'residence_permit.revoked')) AS latest_permit
    FROM event_documents
    WHERE doc_token != ''
    GROUP BY doc_type, doc_token
) AS seen USING (doc_type, doc_token)
ORDER BY doc_type, doc_token;
