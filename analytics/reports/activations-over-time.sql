-- Medical-insurance-code activations per day (the event's local date, at the
-- UTC offset the agency gave), document type and channel, for the dashboard.
-- Events: event_groups holds a row per (event, group_key), so once FINAL
-- has folded the copies replays add, count() per day and group is the
-- number of distinct events. It is read in 16 event_key ranges, one UNION
-- ALL branch each, which run in parallel; the view activation_group_names
-- names the group keys at the end. (uniqExact per range, as
-- activations-by-doc-type counts, costs more here: at 10M events it builds
-- ~2,500 small sets per range, 0.8 s of CPU in 64 ranges against 0.55 s.)
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
ANY LEFT JOIN activation_group_names AS names USING (g)
ORDER BY day, doc_type, channel
