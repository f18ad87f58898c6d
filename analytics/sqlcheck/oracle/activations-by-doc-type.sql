-- The plain query of reports/activations-by-doc-type.sql.
SELECT doc_type, channel, uniqExact(event_id) AS events, uniqExact(person_id) AS persons
FROM event_documents_now
WHERE type = 'insurance.code_activated'
GROUP BY doc_type, channel
ORDER BY doc_type, channel
