-- The view report_activations (fast, over activation_rows), then its plain query
-- over the view events.
SELECT event_key, region, channel
FROM report_activations
ORDER BY event_key;

SELECT cityHash64(event_id) AS event_key, region, channel
FROM events
WHERE type = 'insurance.code_activated'
ORDER BY event_key;
