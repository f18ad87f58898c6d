-- Medical-insurance-code activations by province and channel. The province
-- is the first two digits of the event's region (province_code) and its name
-- among the 34 province-level divisions of GB/T 2260; a code outside them is
-- its own name, and events without a region have an empty province_code and
-- province. events counts distinct events; persons counts the distinct
-- persons holding the activations' documents under the identity resolution
-- as it stands now (doc_owner, as in blocked-but-linked: a document no change
-- named yet is a person of its own).
--
-- Events and persons are counted in two branches of one UNION ALL and added
-- up, so that no join can leave an event without its count; the persons
-- branch joins with ALL INNER JOIN on doc_owner's one row per document.
SELECT
    province_code,
    transform(
        province_code,
        ['11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34',
         '35', '36', '37', '41', '42', '43', '44', '45', '46', '50', '51', '52',
         '53', '54', '61', '62', '63', '64', '65', '71', '81', '82'],
        ['Beijing', 'Tianjin', 'Hebei', 'Shanxi', 'Inner Mongolia', 'Liaoning', 'Jilin', 'Heilongjiang',
         'Shanghai', 'Jiangsu', 'Zhejiang', 'Anhui', 'Fujian', 'Jiangxi', 'Shandong', 'Henan',
         'Hubei', 'Hunan', 'Guangdong', 'Guangxi', 'Hainan', 'Chongqing', 'Sichuan', 'Guizhou',
         'Yunnan', 'Xizang', 'Shaanxi', 'Gansu', 'Qinghai', 'Ningxia', 'Xinjiang', 'Taiwan',
         'Hong Kong', 'Macao'],
        province_code) AS province,
    channel,
    sum(n_events) AS events,
    sum(n_persons) AS persons
FROM
(
    SELECT
        substring(region, 1, 2) AS province_code,
        channel,
        uniqExact(event_key) AS n_events,
        toUInt64(0) AS n_persons
    FROM event_documents
    WHERE type = 'insurance.code_activated'
    GROUP BY province_code, channel
    UNION ALL
    SELECT
        province_code,
        channel,
        toUInt64(0) AS n_events,
        uniqExact(if(person_key = 0, doc_key, person_key)) AS n_persons
    FROM
    (
        SELECT DISTINCT substring(region, 1, 2) AS province_code, channel, doc_key
        FROM event_documents
        WHERE type = 'insurance.code_activated' AND doc_token != ''
    ) AS activated
    ALL INNER JOIN
    (
        SELECT doc_key, person_key
        FROM doc_owner FINAL
    ) AS owners USING (doc_key)
    GROUP BY province_code, channel
)
GROUP BY province_code, channel
ORDER BY province_code, channel
