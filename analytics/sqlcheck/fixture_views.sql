-- Loaded after fixture.sql, fixture_channels.sql and fixture_services.sql by
-- check.py (current ClickHouse), TestOracles and TestAnalystQuestions
-- (18.16): residence-permit events and conflicts, for documents_now's status,
-- conflicts_now and the analyst questions of analytics/README.md
-- (expected_questions.json, worked out from the comments of every fixture).
--
-- Status: rpA is issued (e50) and then revoked (e51): revoked. rpB is revoked
-- (e52) and issued again later (e53, inserted first): active. rpQ is issued
-- (e54) and revoked (e55) in the same second: e55 sorts after e54, so
-- revoked. rpX has no permit event: active.
--
-- Conflicts (identity_changes only): e60 was held (revision 8) and released
-- (revision 9): not held. e61 is held (revision 8, the change inserted
-- twice). e62 was held and released in one revision and second: the release
-- counts as the later, not held. e63 was released (revision 8) and held again
-- by a retraction's re-decision (revision 10): held.
INSERT INTO event_documents (event_id, type, agency, occurred_at, occurred_date, tz_offset_s, region, birth_date, channel, scheme, relying_party, outcome, reason, retracts, doc_type, doc_token, produced_at, inserted_at) VALUES
('e53', 'residence_permit.issued', 'mps', '2025-03-26 01:00:00', '2025-03-26', 28800, '820000', '', '', '', '', '', '', '', 'residence_permit', 'rpB', '2025-03-26 01:00:01', '2025-03-26 01:00:02'),
('e50', 'residence_permit.issued', 'mps', '2025-03-23 01:00:00', '2025-03-23', 28800, '820000', '', '', '', '', '', '', '', 'residence_permit', 'rpA', '2025-03-23 01:00:01', '2025-03-23 01:00:02'),
('e51', 'residence_permit.revoked', 'mps', '2025-03-24 01:00:00', '2025-03-24', 28800, '820000', '', '', '', '', '', 'fraud', '', 'residence_permit', 'rpA', '2025-03-24 01:00:01', '2025-03-24 01:00:02'),
('e52', 'residence_permit.revoked', 'mps', '2025-03-25 01:00:00', '2025-03-25', 28800, '820000', '', '', '', '', '', 'expired', '', 'residence_permit', 'rpB', '2025-03-25 01:00:01', '2025-03-25 01:00:02'),
('e55', 'residence_permit.revoked', 'mps', '2025-03-27 01:00:00', '2025-03-27', 28800, '820000', '', '', '', '', '', 'fraud', '', 'residence_permit', 'rpQ', '2025-03-27 01:00:01', '2025-03-27 01:00:02'),
('e54', 'residence_permit.issued', 'mps', '2025-03-27 01:00:00', '2025-03-27', 28800, '820000', '', '', '', '', '', '', '', 'residence_permit', 'rpQ', '2025-03-27 01:00:01', '2025-03-27 01:00:02');

INSERT INTO identity_changes (change_id, kind, event_id, occurred_at, person_id, other_person_ids, reason, revision, person_ids, documents, inserted_at) VALUES
('c60h', 'conflict_held', 'e60', '2025-03-28 01:00:00', 'P1', ['P1', 'P7'], 'conflicting_birth_date', 8, ['P1', 'P7'], 6, '2025-03-28 01:00:02'),
('c60r', 'conflict_released', 'e60', '2025-03-29 01:00:00', 'P1', ['P1', 'P7'], 'conflicting_birth_date', 9, ['P1', 'P7'], 6, '2025-03-29 01:00:02'),
('c61h', 'conflict_held', 'e61', '2025-03-28 02:00:00', 'P4', ['P4', 'P5'], 'conflicting_taiwan_travel_permit', 8, ['P4', 'P5'], 2, '2025-03-28 02:00:02'),
('c62h', 'conflict_held', 'e62', '2025-03-28 03:00:00', 'P1', ['P1', 'P4'], 'conflicting_residence_permit', 8, ['P1', 'P4'], 5, '2025-03-28 03:00:02'),
('c62r', 'conflict_released', 'e62', '2025-03-28 03:00:00', 'P1', ['P1', 'P4'], 'conflicting_residence_permit', 8, ['P1', 'P4'], 5, '2025-03-28 03:00:02'),
('c63r', 'conflict_released', 'e63', '2025-03-28 04:00:00', 'P7', ['P7', 'P5'], 'conflicting_mainland_travel_permit', 8, ['P5', 'P7'], 3, '2025-03-28 04:00:02'),
('c63h', 'conflict_held', 'e63', '2025-03-30 04:00:00', 'P7', ['P7', 'P5'], 'conflicting_mainland_travel_permit', 10, ['P5', 'P7'], 3, '2025-03-30 04:00:02');

INSERT INTO identity_changes (change_id, kind, event_id, occurred_at, person_id, other_person_ids, reason, revision, person_ids, documents, inserted_at) VALUES
('c61h', 'conflict_held', 'e61', '2025-03-28 02:00:00', 'P4', ['P4', 'P5'], 'conflicting_taiwan_travel_permit', 8, ['P4', 'P5'], 2, '2025-03-31 00:00:00');
