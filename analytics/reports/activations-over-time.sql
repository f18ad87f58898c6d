-- Medical-insurance-code activations per day (the event's local date, at the
-- UTC offset the agency gave), document type and channel: distinct events
-- (the dashboard's time chart).
SELECT occurred_date AS day, doc_type, channel, count() AS events
FROM event_doc_types
WHERE type = 'insurance.code_activated'
GROUP BY day, doc_type, channel
ORDER BY day, doc_type, channel
