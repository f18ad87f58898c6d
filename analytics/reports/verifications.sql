-- Real-name verifications (identity.verified) by relying party, document
-- type, outcome and reason: distinct events (an event naming several types
-- counts under each).
SELECT relying_party, doc_type, outcome, reason, count() AS events
FROM event_doc_types
WHERE type = 'identity.verified'
GROUP BY relying_party, doc_type, outcome, reason
ORDER BY relying_party, doc_type, outcome, reason
