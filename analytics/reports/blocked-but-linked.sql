-- The linking that would let rejected persons through: per service and
-- rejected document type, the persons the service rejected who hold a
-- document of another type that the same service accepted for someone, with
-- that alternative type. A person holding several such types counts under
-- each. Services, outcomes and document types are read as in
-- service-acceptance (passed and accepted both accept).
--
-- Persons and the documents they hold are those of the identity resolution
-- as it stands now: doc_owner (see 0004_type_ordered_state.sql) holds every
-- document's person at its latest revision, or person_key 0 for a document
-- no change named yet, which is then a person of its own (its doc_key
-- stands for the person). A rejection of a document that has since been
-- split off its former person counts under the person holding it now.
-- Every join is ALL INNER JOIN on a right side with one row per key, so the
-- result is the same whatever join_use_nulls and the engine's ANY semantics.
SELECT
    service,
    rejected_doc_type,
    alternative_doc_type,
    uniqExact(person) AS persons
FROM
(
    SELECT service, rejected_doc_type, if(person_key = 0, doc_key, person_key) AS person
    FROM
    (
        SELECT DISTINCT
            if(relying_party != '', relying_party, type) AS service,
            doc_type AS rejected_doc_type,
            doc_key
        FROM event_documents
        WHERE outcome = 'rejected' AND doc_token != ''
    ) AS rejections
    ALL INNER JOIN
    (
        SELECT doc_key, person_key
        FROM doc_owner FINAL
    ) AS owners USING (doc_key)
) AS rejected
ALL INNER JOIN
(
    SELECT person, alternative_doc_type
    FROM
    (
        SELECT DISTINCT if(person_key = 0, doc_key, person_key) AS person, type_key
        FROM doc_owner FINAL
    ) AS holdings
    ALL INNER JOIN
    (
        SELECT DISTINCT cityHash64(doc_type) AS type_key, doc_type AS alternative_doc_type
        FROM doc_types
    ) AS types USING (type_key)
) AS held USING (person)
WHERE alternative_doc_type != rejected_doc_type
    AND (service, alternative_doc_type) IN
    (
        SELECT DISTINCT if(relying_party != '', relying_party, type), doc_type
        FROM event_documents
        WHERE outcome IN ('passed', 'accepted') AND doc_token != ''
    )
GROUP BY service, rejected_doc_type, alternative_doc_type
ORDER BY service, rejected_doc_type, alternative_doc_type
