-- The plain query of reports/verifications.sql.
SELECT relying_party, doc_type, outcome, reason, uniqExact(event_id) AS events
FROM event_documents_now
WHERE type = 'identity.verified'
GROUP BY relying_party, doc_type, outcome, reason
ORDER BY relying_party, doc_type, outcome, reason
