-- Medical-insurance-code activations (insurance.code_activated) by document
-- type and channel. events: distinct activations naming a document of the
-- type (an event naming several types counts under each); persons: distinct
-- persons, as identity resolution stands now, holding a document of the type
-- that an activation through the channel named.
--
-- The plain query over event_documents_now gives the same rows
-- (sqlcheck/oracle/activations-by-doc-type.sql); this one counts persons
-- from document_activity (online, offline) and activation_exceptions_now
-- (other channels) instead of joining every activation with its document's
-- person.
SELECT doc_type, channel, sum(events) AS events, sum(persons) AS persons
FROM
(
    SELECT doc_type, channel, count() AS events, toUInt64(0) AS persons
    FROM report_event_doc_types
    WHERE type = 'insurance.code_activated'
    GROUP BY doc_type, channel
    UNION ALL
    SELECT doc_type, channel, toUInt64(0) AS events, persons
    FROM
    (
        SELECT
            doc_type,
            uniqExactIf(person_key, activated_online = 1) AS online,
            uniqExactIf(person_key, activated_offline = 1) AS offline
        FROM document_activity
        GROUP BY doc_type
    )
    ARRAY JOIN
        ['online', 'offline'] AS channel,
        [online, offline] AS persons
    WHERE persons > 0
    UNION ALL
    SELECT doc_type, channel, toUInt64(0) AS events, uniqExact(person_key) AS persons
    FROM activation_exceptions_now
    WHERE channel NOT IN ('online', 'offline')
    GROUP BY doc_type, channel
)
GROUP BY doc_type, channel
ORDER BY doc_type, channel
