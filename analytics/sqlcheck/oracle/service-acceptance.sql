-- The plain query of reports/service-acceptance.sql.
SELECT
    if(relying_party != '', relying_party, type) AS service,
    doc_type,
    uniqExactIf(event_id, outcome IN ('passed', 'accepted')) AS passed,
    uniqExactIf(event_id, outcome = 'rejected') AS rejected,
    round(passed / (passed + rejected), 4) AS acceptance_rate
FROM event_documents_now
WHERE outcome IN ('passed', 'accepted', 'rejected')
GROUP BY service, doc_type
ORDER BY service, doc_type
