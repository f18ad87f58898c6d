-- The view event_doc_types (fast, over event_doc_type_rows), then its plain
-- query.
SELECT event_id, type, agency, doc_type, occurred_date, region, channel, relying_party, outcome, reason
FROM event_doc_types
ORDER BY event_id, doc_type;

SELECT DISTINCT event_id, type, agency, doc_type, occurred_date, region, channel, relying_party, outcome, reason
FROM event_documents
ORDER BY event_id, doc_type;
