-- Medical-insurance enrolments (insurance.enrolled) by document type.
-- events: distinct enrolments naming a document of the type; persons:
-- distinct persons, as identity resolution stands now, holding a document of
-- the type that an enrolment named.
--
-- The plain query over event_documents_now gives the same rows
-- (sqlcheck/oracle/enrollments-by-doc-type.sql); this one counts persons
-- from document_activity.
SELECT doc_type, sum(events) AS events, sum(persons) AS persons
FROM
(
    SELECT doc_type, count() AS events, toUInt64(0) AS persons
    FROM report_event_doc_types
    WHERE type = 'insurance.enrolled'
    GROUP BY doc_type
    UNION ALL
    SELECT doc_type, toUInt64(0) AS events, uniqExact(person_key) AS persons
    FROM document_activity
    WHERE enrolled = 1
    GROUP BY doc_type
)
GROUP BY doc_type
ORDER BY doc_type
