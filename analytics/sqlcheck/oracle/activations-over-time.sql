-- The plain query of reports/activations-over-time.sql.
SELECT occurred_date AS day, doc_type, channel, uniqExact(event_id) AS events
FROM event_documents_now
WHERE type = 'insurance.code_activated'
GROUP BY day, doc_type, channel
ORDER BY day, doc_type, channel
