-- The view report_event_doc_types (fast, over event_rows), then its plain
-- query over the view event_doc_types.
SELECT type, doc_type, event_key, occurred_date, channel, relying_party, outcome, reason
FROM report_event_doc_types
ORDER BY type, doc_type, event_key;

SELECT type, doc_type, cityHash64(event_id) AS event_key, occurred_date, channel, relying_party, outcome, reason
FROM event_doc_types
ORDER BY type, doc_type, event_key;
