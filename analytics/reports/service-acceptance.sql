-- Which services accept which documents: per service and document type, the
-- events that passed and those rejected, and the share that passed. Every
-- event with an outcome counts: identity.verified (passed or rejected),
-- driver_qualification.registered and insurance.offsite_filed (accepted or
-- rejected). The service is the event's relying_party, or its type when it
-- names none. An event naming several types counts under each.
-- report_event_doc_types holds one row per event and document type, so
-- countIf counts distinct events; the plain query over event_documents_now
-- gives the same rows (sqlcheck/oracle/service-acceptance.sql).
SELECT
    if(relying_party != '', relying_party, type) AS service,
    doc_type,
    countIf(outcome IN ('passed', 'accepted')) AS passed,
    countIf(outcome = 'rejected') AS rejected,
    round(passed / (passed + rejected), 4) AS acceptance_rate
FROM report_event_doc_types
WHERE outcome IN ('passed', 'accepted', 'rejected')
GROUP BY service, doc_type
ORDER BY service, doc_type
