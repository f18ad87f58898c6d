-- Medical-insurance-code activations per day (the event's local date, at the
-- UTC offset the agency gave), document type and channel, for the dashboard.
-- Events are counted as in activations-by-doc-type: count() per day and
-- group_key over event_groups FINAL in 16 event_key ranges, the group keys
-- named by event_group_names at the end.
SELECT day, doc_type, channel, events
FROM
(
    SELECT day, g, sum(n) AS events
    FROM
    (
        --@ranges 16
        SELECT occurred_date AS day, group_key AS g, count() AS n
        FROM event_groups FINAL
        WHERE event_type_key = cityHash64('insurance.code_activated') AND event_key BETWEEN @lo AND @hi
        GROUP BY day, g
        --@end
    )
    GROUP BY day, g
) AS counts
ANY LEFT JOIN
(
    SELECT group_key AS g, any(doc_type) AS doc_type, any(channel) AS channel
    FROM event_group_names
    GROUP BY g
) AS names USING (g)
ORDER BY day, doc_type, channel
