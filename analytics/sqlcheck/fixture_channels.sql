-- Loaded after fixture.sql by check.py (current ClickHouse) and
-- TestUnknownChannels (18.16), which compare the reports named in
-- expected_channels.json. Activations with a channel the contract does not
-- name ('kiosk') or none at all: doc_state has no bit for them, so
-- activations-by-doc-type counts their persons through doc_other_channels.
-- ppA1 and ppA2 are one person (P1); ppC is a person of its own; e13 is
-- inserted twice (a replay). e16 and e17 activate euA, of a document type
-- the contract does not name (eu_id_card), online and offline; e16 is
-- inserted twice: the reports name the type from doc_types.
INSERT INTO event_documents (event_id, type, agency, occurred_at, occurred_date, tz_offset_s, region, birth_date, channel, scheme, relying_party, outcome, reason, retracts, doc_type, doc_token, produced_at, inserted_at) VALUES
('e13', 'insurance.code_activated', 'nhsa', '2025-03-18 02:00:00', '2025-03-18', 28800, '', '', 'kiosk', '', '', '', '', '', 'passport', 'ppA1', '2025-03-18 02:00:01', '2025-03-18 02:00:02'),
('e13', 'insurance.code_activated', 'nhsa', '2025-03-18 02:00:00', '2025-03-18', 28800, '', '', 'kiosk', '', '', '', '', '', 'passport', 'ppA2', '2025-03-18 02:00:01', '2025-03-18 02:00:02'),
('e14', 'insurance.code_activated', 'nhsa', '2025-03-18 03:00:00', '2025-03-18', 28800, '', '', 'kiosk', '', '', '', '', '', 'passport', 'ppC', '2025-03-18 03:00:01', '2025-03-18 03:00:02'),
('e15', 'insurance.code_activated', 'nhsa', '2025-03-18 04:00:00', '2025-03-18', 28800, '', '', '', '', '', '', '', '', 'residence_permit', 'rpB', '2025-03-18 04:00:01', '2025-03-18 04:00:02');

INSERT INTO event_documents (event_id, type, agency, occurred_at, occurred_date, tz_offset_s, region, birth_date, channel, scheme, relying_party, outcome, reason, retracts, doc_type, doc_token, produced_at, inserted_at) VALUES
('e13', 'insurance.code_activated', 'nhsa', '2025-03-18 02:00:00', '2025-03-18', 28800, '', '', 'kiosk', '', '', '', '', '', 'passport', 'ppA1', '2025-03-18 02:00:01', '2025-03-19 00:00:00'),
('e13', 'insurance.code_activated', 'nhsa', '2025-03-18 02:00:00', '2025-03-18', 28800, '', '', 'kiosk', '', '', '', '', '', 'passport', 'ppA2', '2025-03-18 02:00:01', '2025-03-19 00:00:00');

INSERT INTO event_documents (event_id, type, agency, occurred_at, occurred_date, tz_offset_s, region, birth_date, channel, scheme, relying_party, outcome, reason, retracts, doc_type, doc_token, produced_at, inserted_at) VALUES
('e16', 'insurance.code_activated', 'nhsa', '2025-03-18 05:00:00', '2025-03-18', 28800, '', '', 'online', '', '', '', '', '', 'eu_id_card', 'euA', '2025-03-18 05:00:01', '2025-03-18 05:00:02'),
('e17', 'insurance.code_activated', 'nhsa', '2025-03-18 06:00:00', '2025-03-18', 28800, '', '', 'offline', '', '', '', '', '', 'eu_id_card', 'euA', '2025-03-18 06:00:01', '2025-03-18 06:00:02');

INSERT INTO event_documents (event_id, type, agency, occurred_at, occurred_date, tz_offset_s, region, birth_date, channel, scheme, relying_party, outcome, reason, retracts, doc_type, doc_token, produced_at, inserted_at) VALUES
('e16', 'insurance.code_activated', 'nhsa', '2025-03-18 05:00:00', '2025-03-18', 28800, '', '', 'online', '', '', '', '', '', 'eu_id_card', 'euA', '2025-03-18 05:00:01', '2025-03-19 00:00:00');
