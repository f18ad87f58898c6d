-- The view document_activity (fast, over document_state), then its plain
-- query over documents_now and event_documents.
SELECT doc_type, doc_key, person_key, activated_online, activated_offline, activated_other, enrolled, rejected,
    online_province_codes, offline_province_codes
FROM document_activity
ORDER BY doc_type, doc_key;

SELECT
    doc_type,
    cityHash64(doc_token) AS doc_key,
    cityHash64(person_id) AS person_key,
    online AS activated_online,
    offline AS activated_offline,
    other AS activated_other,
    enrolments AS enrolled,
    rejections AS rejected,
    online_codes AS online_province_codes,
    offline_codes AS offline_province_codes
FROM
(
    SELECT doc_type, doc_token, person_id
    FROM documents_now
) AS holders
ANY LEFT JOIN
(
    SELECT
        doc_type,
        doc_token,
        toUInt8(countIf(type = 'insurance.code_activated' AND channel = 'online') > 0) AS online,
        toUInt8(countIf(type = 'insurance.code_activated' AND channel = 'offline') > 0) AS offline,
        toUInt8(countIf(type = 'insurance.code_activated' AND channel NOT IN ('online', 'offline')) > 0) AS other,
        toUInt8(countIf(type = 'insurance.enrolled') > 0) AS enrolments,
        toUInt8(countIf(outcome = 'rejected') > 0) AS rejections,
        arraySort(groupUniqArrayIf(substring(region, 1, 2), type = 'insurance.code_activated' AND channel = 'online' AND has(['', '11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34', '35', '36', '37', '41', '42', '43', '44', '45', '46', '50', '51', '52', '53', '54', '61', '62', '63', '64', '65', '71', '81', '82'], substring(region, 1, 2)))) AS online_codes,
        arraySort(groupUniqArrayIf(substring(region, 1, 2), type = 'insurance.code_activated' AND channel = 'offline' AND has(['', '11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34', '35', '36', '37', '41', '42', '43', '44', '45', '46', '50', '51', '52', '53', '54', '61', '62', '63', '64', '65', '71', '81', '82'], substring(region, 1, 2)))) AS offline_codes
    FROM event_documents
    WHERE doc_token != ''
    GROUP BY doc_type, doc_token
) AS uses USING (doc_type, doc_token)
ORDER BY doc_type, doc_key;
