-- The view document_persons_now (fast, over document_persons), then its
-- plain query over documents_now and doc_person: every document an identity
-- change named, with the person holding it now.
SELECT doc_type, doc_key, person_key
FROM document_persons_now
ORDER BY doc_type, doc_key;

SELECT doc_type, cityHash64(doc_token) AS doc_key, cityHash64(person_id) AS person_key
FROM documents_now
WHERE (doc_type, doc_token) IN (SELECT doc_type, doc_token FROM doc_person)
ORDER BY doc_type, doc_key
