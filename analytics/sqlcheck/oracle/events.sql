-- The view events (fast, over event_rows), then its plain query.
SELECT event_id, type, agency, occurred_at, occurred_date, tz_offset_s, region, birth_date, channel, scheme,
    relying_party, outcome, reason, retracts
FROM events
ORDER BY event_id;

SELECT DISTINCT event_id, type, agency, occurred_at, occurred_date, tz_offset_s, region, birth_date, channel, scheme,
    relying_party, outcome, reason, retracts
FROM event_documents
ORDER BY event_id;
