-- Medical-insurance-code activations per day (the event's local date, at the
-- UTC offset the agency gave), document type and channel, for the dashboard.
SELECT
    occurred_date AS day,
    doc_type,
    channel,
    uniqExact(event_key) AS events
FROM event_documents
WHERE type = 'insurance.code_activated'
GROUP BY day, doc_type, channel
ORDER BY day, doc_type, channel
