-- The plain query of reports/enrollments-by-doc-type.sql.
SELECT doc_type, uniqExact(event_id) AS events, uniqExact(person_id) AS persons
FROM event_documents_now
WHERE type = 'insurance.enrolled'
GROUP BY doc_type
ORDER BY doc_type
