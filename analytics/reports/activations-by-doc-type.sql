-- Medical-insurance-code activations by document type and channel. An event
-- naming several documents counts under each of their types; persons are
-- counted under the identity resolution as it stands now: a document's
-- person is the one of its latest revision in doc_person, or the document
-- itself if no change named it. Keys are the 64-bit hashes (see 0001_init).
SELECT
    doc_type,
    channel,
    uniqExact(event_key) AS events,
    uniqExact(person) AS persons
FROM
(
    SELECT
        event_key,
        doc_type,
        channel,
        if(current_person = 0, doc_key, current_person) AS person
    FROM
    (
        SELECT event_key, doc_type, channel, doc_key
        FROM event_documents
        WHERE type = 'insurance.code_activated'
    ) AS docs
    ANY LEFT JOIN
    (
        SELECT doc_key, argMax(person_key, revision) AS current_person
        FROM doc_person
        GROUP BY doc_key
    ) AS current USING (doc_key)
)
GROUP BY doc_type, channel
ORDER BY doc_type, channel
