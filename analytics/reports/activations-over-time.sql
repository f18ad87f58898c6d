-- Medical-insurance-code activations per day (the event's local date, at the
-- UTC offset the agency gave), document type and channel: distinct events
-- (the dashboard's time chart). report_event_doc_types holds one row per
-- event and document type, so count() counts distinct events; the plain
-- query over event_documents_now gives the same rows
-- (sqlcheck/oracle/activations-over-time.sql).
SELECT occurred_date AS day, doc_type, channel, count() AS events
FROM report_event_doc_types
WHERE type = 'insurance.code_activated'
GROUP BY day, doc_type, channel
ORDER BY day, doc_type, channel
