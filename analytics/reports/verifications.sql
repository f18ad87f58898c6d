-- Real-name verifications (identity.verified) by relying party, document
-- type, outcome and reason: distinct events (an event naming several types
-- counts under each). report_event_doc_types holds one row per event and
-- document type, so count() counts distinct events; the plain query over
-- event_documents_now gives the same rows (sqlcheck/oracle/verifications.sql).
SELECT relying_party, doc_type, outcome, reason, count() AS events
FROM report_event_doc_types
WHERE type = 'identity.verified'
GROUP BY relying_party, doc_type, outcome, reason
ORDER BY relying_party, doc_type, outcome, reason
