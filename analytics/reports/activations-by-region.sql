-- Medical-insurance-code activations by province and channel. province_code
-- is the first two digits of the event's region ('' without one), province
-- its name among the 34 province-level divisions of GB/T 2260, or the code
-- itself outside them. events: distinct activations; persons: distinct
-- persons, as identity resolution stands now, holding a document the
-- activations named.
--
-- The plain query over event_documents_now gives the same rows
-- (sqlcheck/oracle/activations-by-region.sql); this one ORs
-- document_activity's province masks per person and counts the persons
-- with each province's bit, then adds activation_exceptions_now's.
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
    sum(events) AS events,
    sum(persons) AS persons
FROM
(
    SELECT substring(region, 1, 2) AS province_code, channel, count() AS events, toUInt64(0) AS persons
    FROM report_activations
    GROUP BY province_code, channel
    UNION ALL
    SELECT province_code, channel, toUInt64(0) AS events, persons
    FROM
    (
        SELECT province_code, online, offline
        FROM
        (
            SELECT
                province_bit,
                countIf(bitAnd(person_online, province_bit) != 0) AS online,
                countIf(bitAnd(person_offline, province_bit) != 0) AS offline
            FROM
            (
                SELECT person_key, groupBitOr(online_provinces) AS person_online, groupBitOr(offline_provinces) AS person_offline
                FROM document_activity
                WHERE online_provinces != 0 OR offline_provinces != 0
                GROUP BY person_key
            )
            ARRAY JOIN bitmaskToArray(bitOr(person_online, person_offline)) AS province_bit
            GROUP BY province_bit
        ) AS counts
        ALL INNER JOIN province_codes USING (province_bit)
    )
    ARRAY JOIN
        ['online', 'offline'] AS channel,
        [online, offline] AS persons
    WHERE persons > 0
    UNION ALL
    SELECT province_code, channel, toUInt64(0) AS events, uniqExact(person_key) AS persons
    FROM activation_exceptions_now
    GROUP BY province_code, channel
)
GROUP BY province_code, channel
ORDER BY province_code, channel
