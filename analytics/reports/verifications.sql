-- Real-name verifications by relying party, document type and outcome.
SELECT
    relying_party,
    doc_type,
    outcome,
    reason,
    uniqExact(event_key) AS events
FROM event_documents
WHERE type = 'identity.verified'
GROUP BY relying_party, doc_type, outcome, reason
ORDER BY relying_party, doc_type, outcome, reason
