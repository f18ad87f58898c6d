-- Persons by the number of distinct document types they hold, under the
-- identity resolution as it stands now: every document in doc_current (see
-- 0002_report_tables.sql) belongs to the person of its latest revision in
-- doc_person, or is a person of its own, holding one type, if no change
-- named it. A person's types are a bit mask (bit i: the i-th of the sorted
-- document types in doc_types; documents.Types has far fewer than 63), which
-- aggregates much faster than uniqExact per person on 18.16. doc_current is
-- read in 16 doc_key ranges, one UNION ALL branch each (they differ only in
-- their range), so the reads run in parallel and feed one parallel GROUP BY.
SELECT
    length(bitmaskToArray(types)) AS doc_types,
    count() AS persons
FROM
(
    SELECT person, groupBitOr(type_bit) AS types
    FROM
    (
        SELECT
            if(person_key = 0, doc_key, person_key) AS person,
            bitShiftLeft(toUInt64(1), indexOf((SELECT arraySort(groupUniqArray(doc_type)) FROM doc_types), doc_type) % 64) AS type_bit
        FROM doc_current FINAL
        WHERE doc_key BETWEEN 0 AND 1152921504606846975
        UNION ALL
        SELECT
            if(person_key = 0, doc_key, person_key) AS person,
            bitShiftLeft(toUInt64(1), indexOf((SELECT arraySort(groupUniqArray(doc_type)) FROM doc_types), doc_type) % 64) AS type_bit
        FROM doc_current FINAL
        WHERE doc_key BETWEEN 1152921504606846976 AND 2305843009213693951
        UNION ALL
        SELECT
            if(person_key = 0, doc_key, person_key) AS person,
            bitShiftLeft(toUInt64(1), indexOf((SELECT arraySort(groupUniqArray(doc_type)) FROM doc_types), doc_type) % 64) AS type_bit
        FROM doc_current FINAL
        WHERE doc_key BETWEEN 2305843009213693952 AND 3458764513820540927
        UNION ALL
        SELECT
            if(person_key = 0, doc_key, person_key) AS person,
            bitShiftLeft(toUInt64(1), indexOf((SELECT arraySort(groupUniqArray(doc_type)) FROM doc_types), doc_type) % 64) AS type_bit
        FROM doc_current FINAL
        WHERE doc_key BETWEEN 3458764513820540928 AND 4611686018427387903
        UNION ALL
        SELECT
            if(person_key = 0, doc_key, person_key) AS person,
            bitShiftLeft(toUInt64(1), indexOf((SELECT arraySort(groupUniqArray(doc_type)) FROM doc_types), doc_type) % 64) AS type_bit
        FROM doc_current FINAL
        WHERE doc_key BETWEEN 4611686018427387904 AND 5764607523034234879
        UNION ALL
        SELECT
            if(person_key = 0, doc_key, person_key) AS person,
            bitShiftLeft(toUInt64(1), indexOf((SELECT arraySort(groupUniqArray(doc_type)) FROM doc_types), doc_type) % 64) AS type_bit
        FROM doc_current FINAL
        WHERE doc_key BETWEEN 5764607523034234880 AND 6917529027641081855
        UNION ALL
        SELECT
            if(person_key = 0, doc_key, person_key) AS person,
            bitShiftLeft(toUInt64(1), indexOf((SELECT arraySort(groupUniqArray(doc_type)) FROM doc_types), doc_type) % 64) AS type_bit
        FROM doc_current FINAL
        WHERE doc_key BETWEEN 6917529027641081856 AND 8070450532247928831
        UNION ALL
        SELECT
            if(person_key = 0, doc_key, person_key) AS person,
            bitShiftLeft(toUInt64(1), indexOf((SELECT arraySort(groupUniqArray(doc_type)) FROM doc_types), doc_type) % 64) AS type_bit
        FROM doc_current FINAL
        WHERE doc_key BETWEEN 8070450532247928832 AND 9223372036854775807
        UNION ALL
        SELECT
            if(person_key = 0, doc_key, person_key) AS person,
            bitShiftLeft(toUInt64(1), indexOf((SELECT arraySort(groupUniqArray(doc_type)) FROM doc_types), doc_type) % 64) AS type_bit
        FROM doc_current FINAL
        WHERE doc_key BETWEEN 9223372036854775808 AND 10376293541461622783
        UNION ALL
        SELECT
            if(person_key = 0, doc_key, person_key) AS person,
            bitShiftLeft(toUInt64(1), indexOf((SELECT arraySort(groupUniqArray(doc_type)) FROM doc_types), doc_type) % 64) AS type_bit
        FROM doc_current FINAL
        WHERE doc_key BETWEEN 10376293541461622784 AND 11529215046068469759
        UNION ALL
        SELECT
            if(person_key = 0, doc_key, person_key) AS person,
            bitShiftLeft(toUInt64(1), indexOf((SELECT arraySort(groupUniqArray(doc_type)) FROM doc_types), doc_type) % 64) AS type_bit
        FROM doc_current FINAL
        WHERE doc_key BETWEEN 11529215046068469760 AND 12682136550675316735
        UNION ALL
        SELECT
            if(person_key = 0, doc_key, person_key) AS person,
            bitShiftLeft(toUInt64(1), indexOf((SELECT arraySort(groupUniqArray(doc_type)) FROM doc_types), doc_type) % 64) AS type_bit
        FROM doc_current FINAL
        WHERE doc_key BETWEEN 12682136550675316736 AND 13835058055282163711
        UNION ALL
        SELECT
            if(person_key = 0, doc_key, person_key) AS person,
            bitShiftLeft(toUInt64(1), indexOf((SELECT arraySort(groupUniqArray(doc_type)) FROM doc_types), doc_type) % 64) AS type_bit
        FROM doc_current FINAL
        WHERE doc_key BETWEEN 13835058055282163712 AND 14987979559889010687
        UNION ALL
        SELECT
            if(person_key = 0, doc_key, person_key) AS person,
            bitShiftLeft(toUInt64(1), indexOf((SELECT arraySort(groupUniqArray(doc_type)) FROM doc_types), doc_type) % 64) AS type_bit
        FROM doc_current FINAL
        WHERE doc_key BETWEEN 14987979559889010688 AND 16140901064495857663
        UNION ALL
        SELECT
            if(person_key = 0, doc_key, person_key) AS person,
            bitShiftLeft(toUInt64(1), indexOf((SELECT arraySort(groupUniqArray(doc_type)) FROM doc_types), doc_type) % 64) AS type_bit
        FROM doc_current FINAL
        WHERE doc_key BETWEEN 16140901064495857664 AND 17293822569102704639
        UNION ALL
        SELECT
            if(person_key = 0, doc_key, person_key) AS person,
            bitShiftLeft(toUInt64(1), indexOf((SELECT arraySort(groupUniqArray(doc_type)) FROM doc_types), doc_type) % 64) AS type_bit
        FROM doc_current FINAL
        WHERE doc_key BETWEEN 17293822569102704640 AND 18446744073709551615
    )
    GROUP BY person
)
GROUP BY doc_types
HAVING persons > 0
ORDER BY doc_types
