-- Which services accept which documents: per service and document type, the
-- events that passed and those rejected, and the share that passed. Every
-- event with an outcome counts: identity.verified (outcome passed or
-- rejected) and the event types whose outcome is accepted or rejected
-- (driver_qualification.registered, insurance.offsite_filed). The service is
-- the event's relying_party, or the event type when it names none. An event
-- naming several documents counts under each of their types; passed and
-- rejected count distinct events, so a replayed event counts once.
-- acceptance_rate is passed / (passed + rejected), rounded to 4 decimals.
SELECT
    if(relying_party != '', relying_party, type) AS service,
    doc_type,
    uniqExactIf(event_key, outcome IN ('passed', 'accepted')) AS passed,
    uniqExactIf(event_key, outcome = 'rejected') AS rejected,
    round(passed / (passed + rejected), 4) AS acceptance_rate
FROM event_documents
WHERE outcome IN ('passed', 'accepted', 'rejected')
GROUP BY service, doc_type
ORDER BY service, doc_type
