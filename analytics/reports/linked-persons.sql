-- Persons, as identity resolution stands now, by the number of distinct
-- document types they hold (a document no identity change named yet is a
-- person of its own, holding one type).
--
-- The plain query over persons_now gives the same rows
-- (sqlcheck/oracle/linked-persons.sql); this one groups document_activity by
-- person_key.
SELECT doc_types, count() AS persons
FROM
(
    SELECT person_key, uniqExact(doc_type) AS doc_types
    FROM document_activity
    GROUP BY person_key
)
GROUP BY doc_types
ORDER BY doc_types
