-- The plain query of reports/linked-persons.sql.
SELECT types_held AS doc_types, count() AS persons
FROM
(
    SELECT length(doc_types) AS types_held
    FROM persons_now
)
GROUP BY types_held
ORDER BY types_held
