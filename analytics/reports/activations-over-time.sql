-- Medical-insurance-code activations per day (the event's local date, at the
-- UTC offset the agency gave), document type and channel, for the dashboard.
-- Distinct event keys per (day, g) in event_keys (see 0003_doc_state.sql),
-- counted in 64 event_key ranges (--@ranges: analytics.ExpandRanges writes
-- one UNION ALL branch per range) whose counts add up, as in
-- activations-by-doc-type; event_groups names each g.
SELECT
    day,
    doc_type,
    channel,
    events
FROM
(
    SELECT day, g, sum(n) AS events
    FROM
    (
        --@ranges 64
        SELECT occurred_date AS day, g, uniqExact(event_key) AS n
        FROM event_keys
        WHERE type = 'insurance.code_activated' AND event_key BETWEEN @lo AND @hi
        GROUP BY day, g
        --@end
    )
    GROUP BY day, g
) AS counts
ANY LEFT JOIN
(
    SELECT g, doc_type, channel
    FROM event_groups
    WHERE type = 'insurance.code_activated'
) AS names USING (g)
ORDER BY day, doc_type, channel
