-- A small hand-made dataset for the cross-engine check: check.py loads it
-- into chdb (current ClickHouse), TestFixtureReports into the local stack's
-- ClickHouse 18.16, and both compare every report with expected.json.
--
-- Person P1 holds rpA (residence_permit), mtpA (mainland_travel_permit) and
-- two passports ppA1, ppA2 that were persons P2 and P3 until change c4 merged
-- them into P1 (a stale copy of c2 arrives after c4 and must lose). Person P4
-- held rpB and ttpB until c6 split ttpB off as P5. Passport ppC never appears
-- in a change: it is a person of its own. Event e1 is inserted twice (a
-- replay) and names two documents.
INSERT INTO event_documents (event_id, type, agency, occurred_at, occurred_date, tz_offset_s, region, birth_date, channel, scheme, relying_party, outcome, reason, retracts, doc_type, doc_token, produced_at, inserted_at) VALUES
('e1', 'insurance.code_activated', 'nhsa', '2025-03-14 01:30:00', '2025-03-14', 28800, '440700', '1990-02-11', 'offline', '', '', '', '', '', 'residence_permit', 'rpA', '2025-03-14 01:30:01', '2025-03-14 01:30:02'),
('e1', 'insurance.code_activated', 'nhsa', '2025-03-14 01:30:00', '2025-03-14', 28800, '440700', '1990-02-11', 'offline', '', '', '', '', '', 'mainland_travel_permit', 'mtpA', '2025-03-14 01:30:01', '2025-03-14 01:30:02'),
('e1', 'insurance.code_activated', 'nhsa', '2025-03-14 01:30:00', '2025-03-14', 28800, '440700', '1990-02-11', 'offline', '', '', '', '', '', 'residence_permit', 'rpA', '2025-03-14 01:30:01', '2025-03-20 00:00:00'),
('e1', 'insurance.code_activated', 'nhsa', '2025-03-14 01:30:00', '2025-03-14', 28800, '440700', '1990-02-11', 'offline', '', '', '', '', '', 'mainland_travel_permit', 'mtpA', '2025-03-14 01:30:01', '2025-03-20 00:00:00'),
('e2', 'insurance.code_activated', 'nhsa', '2025-03-14 17:00:00', '2025-03-15', 28800, '', '', 'online', '', '', '', '', '', 'passport', 'ppA1', '2025-03-14 17:00:01', '2025-03-14 17:00:02'),
('e3', 'insurance.code_activated', 'nhsa', '2025-03-15 02:00:00', '2025-03-15', 28800, '', '', 'online', '', '', '', '', '', 'passport', 'ppA2', '2025-03-15 02:00:01', '2025-03-15 02:00:02'),
('e4', 'insurance.code_activated', 'nhsa', '2025-03-16 02:00:00', '2025-03-16', 28800, '', '', 'offline', '', '', '', '', '', 'taiwan_travel_permit', 'ttpB', '2025-03-16 02:00:01', '2025-03-16 02:00:02'),
('e5', 'insurance.code_activated', 'nhsa', '2025-03-16 03:00:00', '2025-03-16', 28800, '', '', 'online', '', '', '', '', '', 'passport', 'ppC', '2025-03-16 03:00:01', '2025-03-16 03:00:02'),
('e6', 'insurance.enrolled', 'nhsa', '2025-03-01 03:00:00', '2025-03-01', 28800, '', '', '', 'urban_rural', '', '', '', '', 'residence_permit', 'rpA', '2025-03-01 03:00:01', '2025-03-01 03:00:02'),
('e7', 'insurance.enrolled', 'nhsa', '2025-03-02 03:00:00', '2025-03-02', 28800, '', '', '', 'employee', '', '', '', '', 'residence_permit', 'rpB', '2025-03-02 03:00:01', '2025-03-02 03:00:02'),
('e7', 'insurance.enrolled', 'nhsa', '2025-03-02 03:00:00', '2025-03-02', 28800, '', '', '', 'employee', '', '', '', '', 'taiwan_travel_permit', 'ttpB', '2025-03-02 03:00:01', '2025-03-02 03:00:02'),
('e8', 'identity.verified', 'platform', '2025-03-03 03:00:00', '2025-03-03', 28800, '', '', '', '', 'ride_hailing', 'rejected', 'document_type_not_supported', '', 'taiwan_travel_permit', 'ttpB', '2025-03-03 03:00:01', '2025-03-03 03:00:02'),
('e9', 'identity.verified', 'platform', '2025-03-03 04:00:00', '2025-03-03', 28800, '', '', '', '', 'ride_hailing', 'passed', '', '', 'residence_permit', 'rpB', '2025-03-03 04:00:01', '2025-03-03 04:00:02'),
('e10', 'identity.verified', 'nia', '2025-03-03 05:00:00', '2025-03-03', 28800, '', '', '', '', 'bank', 'passed', '', '', 'residence_permit', 'rpB', '2025-03-03 05:00:01', '2025-03-03 05:00:02'),
('e11', 'link.retracted', 'nhsa', '2025-03-04 05:00:00', '2025-03-04', 28800, '', '', '', '', '', '', '', 'e7', '', '', '2025-03-04 05:00:01', '2025-03-04 05:00:02');

INSERT INTO identity_changes (change_id, kind, event_id, occurred_at, person_id, other_person_ids, reason, revision, person_ids, documents, inserted_at) VALUES
('c1', 'created', 'e1', '2025-03-14 01:30:00', 'P1', [], '', 1, ['P1'], 2, '2025-03-14 01:30:02'),
('c2', 'created', 'e2', '2025-03-14 17:00:00', 'P2', [], '', 2, ['P2'], 1, '2025-03-14 17:00:02'),
('c3', 'created', 'e3', '2025-03-15 02:00:00', 'P3', [], '', 3, ['P3'], 1, '2025-03-15 02:00:02'),
('c4', 'merged', 'e12', '2025-03-17 02:00:00', 'P1', ['P2', 'P3'], '', 4, ['P1'], 4, '2025-03-17 02:00:02'),
('c5', 'created', 'e7', '2025-03-02 03:00:00', 'P4', [], '', 5, ['P4'], 2, '2025-03-02 03:00:02'),
('c6', 'split', 'e11', '2025-03-04 05:00:00', 'P4', ['P5'], '', 6, ['P4', 'P5'], 2, '2025-03-04 05:00:02');

INSERT INTO doc_person (doc_token, doc_type, person_id, revision, change_id, occurred_at, inserted_at) VALUES
('rpA', 'residence_permit', 'P1', 1, 'c1', '2025-03-14 01:30:00', '2025-03-14 01:30:02'),
('mtpA', 'mainland_travel_permit', 'P1', 1, 'c1', '2025-03-14 01:30:00', '2025-03-14 01:30:02'),
('ppA1', 'passport', 'P2', 2, 'c2', '2025-03-14 17:00:00', '2025-03-14 17:00:02'),
('ppA2', 'passport', 'P3', 3, 'c3', '2025-03-15 02:00:00', '2025-03-15 02:00:02'),
('rpA', 'residence_permit', 'P1', 4, 'c4', '2025-03-17 02:00:00', '2025-03-17 02:00:02'),
('mtpA', 'mainland_travel_permit', 'P1', 4, 'c4', '2025-03-17 02:00:00', '2025-03-17 02:00:02'),
('ppA1', 'passport', 'P1', 4, 'c4', '2025-03-17 02:00:00', '2025-03-17 02:00:02'),
('ppA2', 'passport', 'P1', 4, 'c4', '2025-03-17 02:00:00', '2025-03-17 02:00:02'),
('rpB', 'residence_permit', 'P4', 5, 'c5', '2025-03-02 03:00:00', '2025-03-02 03:00:02'),
('ttpB', 'taiwan_travel_permit', 'P4', 5, 'c5', '2025-03-02 03:00:00', '2025-03-02 03:00:02'),
('rpB', 'residence_permit', 'P4', 6, 'c6', '2025-03-04 05:00:00', '2025-03-04 05:00:02'),
('ttpB', 'taiwan_travel_permit', 'P5', 6, 'c6', '2025-03-04 05:00:00', '2025-03-04 05:00:02');

-- A stale replay of c2, inserted after c4: revision 2 < 4, so ppA1 stays P1's.
INSERT INTO doc_person (doc_token, doc_type, person_id, revision, change_id, occurred_at, inserted_at) VALUES
('ppA1', 'passport', 'P2', 2, 'c2', '2025-03-14 17:00:00', '2025-03-21 00:00:00');
