-- Loaded after fixture.sql and fixture_channels.sql by check.py (current
-- ClickHouse) and TestServiceReports (18.16), which compare the reports
-- named in expected_services.json. Persons now: P1 holds rpA
-- (residence_permit), mtpA (mainland_travel_permit) and the passports ppA1,
-- ppA2; P4 holds rpB; P5 holds ttpB (split off P4, see fixture.sql); P7
-- holds rpQ and mtpQ (change c7 below); ppC, ppD, rpX, hkX and euA are
-- persons of their own.
--
-- Outcomes: douyin rejects mtpA (e20, inserted twice), mtpQ (e31), ttpB
-- (e23) and the passport ppA1 (e32), and passes rpX (e21) and ppD (e22);
-- identity.verified without a relying party rejects ppC (e24) and passes hkX
-- (e25); nhsa_app passes one event naming rpA and mtpA (e33); ride_hailing
-- rejects mtpA (e30) and, in fixture.sql, ttpB and passes rpB.
-- driver_qualification.registered rejects mtpA (e26) and accepts rpB (e27,
-- inserted twice); insurance.offsite_filed accepts rpA (e28) and rpQ (e34)
-- and rejects rpB (e29).
--
-- Activations with regions: 820000 (Macao) online rpQ (e40) and mtpQ (e45);
-- 440300 (Guangdong) online ppD (e41); 990000 (no such province) offline
-- mtpQ (e42); 440100 (Guangdong) offline rpA (e43, inserted twice); 120000
-- (Tianjin) online, one event naming rpQ and mtpQ (e44).
INSERT INTO event_documents (event_id, type, agency, occurred_at, occurred_date, tz_offset_s, region, birth_date, channel, scheme, relying_party, outcome, reason, retracts, doc_type, doc_token, produced_at, inserted_at) VALUES
('e20', 'identity.verified', 'platform', '2025-03-20 01:00:00', '2025-03-20', 28800, '', '', '', '', 'douyin', 'rejected', 'document_type_not_supported', '', 'mainland_travel_permit', 'mtpA', '2025-03-20 01:00:01', '2025-03-20 01:00:02'),
('e21', 'identity.verified', 'platform', '2025-03-20 02:00:00', '2025-03-20', 28800, '', '', '', '', 'douyin', 'passed', '', '', 'residence_permit', 'rpX', '2025-03-20 02:00:01', '2025-03-20 02:00:02'),
('e22', 'identity.verified', 'platform', '2025-03-20 03:00:00', '2025-03-20', 28800, '', '', '', '', 'douyin', 'passed', '', '', 'passport', 'ppD', '2025-03-20 03:00:01', '2025-03-20 03:00:02'),
('e23', 'identity.verified', 'platform', '2025-03-20 04:00:00', '2025-03-20', 28800, '', '', '', '', 'douyin', 'rejected', 'document_type_not_supported', '', 'taiwan_travel_permit', 'ttpB', '2025-03-20 04:00:01', '2025-03-20 04:00:02'),
('e24', 'identity.verified', 'nia', '2025-03-20 05:00:00', '2025-03-20', 28800, '', '', '', '', '', 'rejected', 'name_mismatch', '', 'passport', 'ppC', '2025-03-20 05:00:01', '2025-03-20 05:00:02'),
('e25', 'identity.verified', 'nia', '2025-03-20 06:00:00', '2025-03-20', 28800, '', '', '', '', '', 'passed', '', '', 'hkid', 'hkX', '2025-03-20 06:00:01', '2025-03-20 06:00:02'),
('e31', 'identity.verified', 'platform', '2025-03-20 07:00:00', '2025-03-20', 28800, '', '', '', '', 'douyin', 'rejected', 'document_type_not_supported', '', 'mainland_travel_permit', 'mtpQ', '2025-03-20 07:00:01', '2025-03-20 07:00:02'),
('e32', 'identity.verified', 'platform', '2025-03-20 08:00:00', '2025-03-20', 28800, '', '', '', '', 'douyin', 'rejected', 'document_expired', '', 'passport', 'ppA1', '2025-03-20 08:00:01', '2025-03-20 08:00:02'),
('e33', 'identity.verified', 'nhsa', '2025-03-20 09:00:00', '2025-03-20', 28800, '', '', '', '', 'nhsa_app', 'passed', '', '', 'residence_permit', 'rpA', '2025-03-20 09:00:01', '2025-03-20 09:00:02'),
('e33', 'identity.verified', 'nhsa', '2025-03-20 09:00:00', '2025-03-20', 28800, '', '', '', '', 'nhsa_app', 'passed', '', '', 'mainland_travel_permit', 'mtpA', '2025-03-20 09:00:01', '2025-03-20 09:00:02'),
('e30', 'identity.verified', 'platform', '2025-03-20 10:00:00', '2025-03-20', 28800, '', '', '', '', 'ride_hailing', 'rejected', 'document_type_not_supported', '', 'mainland_travel_permit', 'mtpA', '2025-03-20 10:00:01', '2025-03-20 10:00:02'),
('e26', 'driver_qualification.registered', 'mot', '2025-03-21 01:00:00', '2025-03-21', 28800, '', '', '', '', '', 'rejected', 'document_type_not_supported', '', 'mainland_travel_permit', 'mtpA', '2025-03-21 01:00:01', '2025-03-21 01:00:02'),
('e27', 'driver_qualification.registered', 'mot', '2025-03-21 02:00:00', '2025-03-21', 28800, '', '', '', '', '', 'accepted', '', '', 'residence_permit', 'rpB', '2025-03-21 02:00:01', '2025-03-21 02:00:02'),
('e28', 'insurance.offsite_filed', 'nhsa', '2025-03-21 03:00:00', '2025-03-21', 28800, '', '', '', '', '', 'accepted', '', '', 'residence_permit', 'rpA', '2025-03-21 03:00:01', '2025-03-21 03:00:02'),
('e29', 'insurance.offsite_filed', 'nhsa', '2025-03-21 04:00:00', '2025-03-21', 28800, '', '', '', '', '', 'rejected', 'missing_referral', '', 'residence_permit', 'rpB', '2025-03-21 04:00:01', '2025-03-21 04:00:02'),
('e34', 'insurance.offsite_filed', 'nhsa', '2025-03-21 05:00:00', '2025-03-21', 28800, '', '', '', '', '', 'accepted', '', '', 'residence_permit', 'rpQ', '2025-03-21 05:00:01', '2025-03-21 05:00:02'),
('e40', 'insurance.code_activated', 'nhsa', '2025-03-22 01:00:00', '2025-03-22', 28800, '820000', '', 'online', '', '', '', '', '', 'residence_permit', 'rpQ', '2025-03-22 01:00:01', '2025-03-22 01:00:02'),
('e41', 'insurance.code_activated', 'nhsa', '2025-03-22 02:00:00', '2025-03-22', 28800, '440300', '', 'online', '', '', '', '', '', 'passport', 'ppD', '2025-03-22 02:00:01', '2025-03-22 02:00:02'),
('e42', 'insurance.code_activated', 'nhsa', '2025-03-22 03:00:00', '2025-03-22', 28800, '990000', '', 'offline', '', '', '', '', '', 'mainland_travel_permit', 'mtpQ', '2025-03-22 03:00:01', '2025-03-22 03:00:02'),
('e43', 'insurance.code_activated', 'nhsa', '2025-03-22 04:00:00', '2025-03-22', 28800, '440100', '', 'offline', '', '', '', '', '', 'residence_permit', 'rpA', '2025-03-22 04:00:01', '2025-03-22 04:00:02'),
('e44', 'insurance.code_activated', 'nhsa', '2025-03-22 05:00:00', '2025-03-22', 28800, '120000', '', 'online', '', '', '', '', '', 'residence_permit', 'rpQ', '2025-03-22 05:00:01', '2025-03-22 05:00:02'),
('e44', 'insurance.code_activated', 'nhsa', '2025-03-22 05:00:00', '2025-03-22', 28800, '120000', '', 'online', '', '', '', '', '', 'mainland_travel_permit', 'mtpQ', '2025-03-22 05:00:01', '2025-03-22 05:00:02'),
('e45', 'insurance.code_activated', 'nhsa', '2025-03-22 06:00:00', '2025-03-22', 28800, '820000', '', 'online', '', '', '', '', '', 'mainland_travel_permit', 'mtpQ', '2025-03-22 06:00:01', '2025-03-22 06:00:02');

-- Replays of e20, e43 and e27, in a later insert.
INSERT INTO event_documents (event_id, type, agency, occurred_at, occurred_date, tz_offset_s, region, birth_date, channel, scheme, relying_party, outcome, reason, retracts, doc_type, doc_token, produced_at, inserted_at) VALUES
('e20', 'identity.verified', 'platform', '2025-03-20 01:00:00', '2025-03-20', 28800, '', '', '', '', 'douyin', 'rejected', 'document_type_not_supported', '', 'mainland_travel_permit', 'mtpA', '2025-03-20 01:00:01', '2025-03-23 00:00:00'),
('e43', 'insurance.code_activated', 'nhsa', '2025-03-22 04:00:00', '2025-03-22', 28800, '440100', '', 'offline', '', '', '', '', '', 'residence_permit', 'rpA', '2025-03-22 04:00:01', '2025-03-23 00:00:00'),
('e27', 'driver_qualification.registered', 'mot', '2025-03-21 02:00:00', '2025-03-21', 28800, '', '', '', '', '', 'accepted', '', '', 'residence_permit', 'rpB', '2025-03-21 02:00:01', '2025-03-23 00:00:00');

INSERT INTO identity_changes (change_id, kind, event_id, occurred_at, person_id, other_person_ids, reason, revision, person_ids, documents, inserted_at) VALUES
('c7', 'created', 'e40', '2025-03-22 01:00:00', 'P7', [], '', 7, ['P7'], 2, '2025-03-22 01:00:02');

INSERT INTO doc_person (doc_token, doc_type, person_id, revision, change_id, occurred_at, inserted_at) VALUES
('rpQ', 'residence_permit', 'P7', 7, 'c7', '2025-03-22 01:00:00', '2025-03-22 01:00:02'),
('mtpQ', 'mainland_travel_permit', 'P7', 7, 'c7', '2025-03-22 01:00:00', '2025-03-22 01:00:02');
