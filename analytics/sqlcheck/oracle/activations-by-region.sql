-- The plain query of reports/activations-by-region.sql.
SELECT
    substring(region, 1, 2) AS province_code,
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
    uniqExact(event_id) AS events,
    uniqExact(person_id) AS persons
FROM event_documents_now
WHERE type = 'insurance.code_activated'
GROUP BY province_code, channel
ORDER BY province_code, channel
