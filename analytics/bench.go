package analytics

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Benchmark helpers: `make bench` and BenchmarkReports use them to fill a
// throw-away database with a big synthetic dataset and time every report;
// cmd/idlink-bench runs the same SyntheticSQL in chdb for the current engine.

// SeedSynthetic adds events synthetic agency events (and the identity changes
// of their persons) to the store's tables, generated inside ClickHouse by
// INSERT ... SELECT over system.numbers, so seeding 10M events takes seconds
// rather than a Kafka round trip. The data is deterministic: persons =
// events/4 persons hold one to three documents of seven types (hex tokens of
// about 64 characters, like real ones); events are 50% code activations, 20% enrolments,
// 20% verifications (a fifth of them rejected), 10% permit issues, a quarter
// naming two documents, in one of seven regions of six provinces or none;
// every document has a created change and one person in seven was merged
// into its neighbour by a later revision. Run it on a fresh database only.
func (s *Store) SeedSynthetic(ctx context.Context, events int) error {
	if events <= 0 {
		return fmt.Errorf("seeding synthetic data: events must be positive, got %d", events)
	}
	for i, st := range SyntheticSQL(events) {
		if err := s.conn.Exec(ctx, st); err != nil {
			return s.wrapConnErr(fmt.Sprintf("seeding synthetic data (%d events, statement %d)", events, i+1), err)
		}
	}
	return nil
}

// SyntheticSQL returns the INSERT ... SELECT statements SeedSynthetic runs
// (they run on current ClickHouse too, e.g. in chdb).
func SyntheticSQL(events int) []string {
	persons := max(1, events/4)
	// Token and type of document j of person p; identical in both inserts.
	tok := func(p, j string) string {
		parts := make([]string, 4)
		for i := range parts {
			parts[i] = fmt.Sprintf("hex(cityHash64(%s, toUInt64(%s), %d))", p, j, 11+i)
		}
		return "lower(concat(" + strings.Join(parts, ", ") + "))"
	}
	typ := func(p, j string) string {
		return fmt.Sprintf("arrayElement(['residence_permit', 'mainland_travel_permit', 'taiwan_travel_permit', 'hkid', 'macao_id', 'passport', 'mainland_id'], toUInt64(1 + cityHash64(%s, toUInt64(%s), 15) %% 7))", p, j)
	}
	eventsSQL := fmt.Sprintf(`%s
SELECT
    concat('bench-', toString(i)) AS event_id,
    arrayElement(['insurance.code_activated', 'insurance.code_activated', 'insurance.code_activated', 'insurance.code_activated', 'insurance.code_activated',
                  'insurance.enrolled', 'insurance.enrolled', 'identity.verified', 'identity.verified', 'residence_permit.issued'], toUInt64(1 + h %% 10)) AS etype,
    multiIf(etype = 'identity.verified', 'platform', etype = 'residence_permit.issued', 'mps', 'nhsa') AS agency,
    toDateTime(1735660800 + cityHash64(i, 4) %% 15552000) AS occurred,
    toDate(occurred) AS occurred_date,
    toInt32(28800) AS tz_offset_s,
    arrayElement(['440700', '440300', '110105', '310101', '500101', '810000', '820000', ''], toUInt64(1 + cityHash64(i, 5) %% 8)) AS region,
    '' AS birth_date,
    if(etype = 'insurance.code_activated', if(h %% 7 < 4, 'online', 'offline'), '') AS channel,
    if(etype = 'insurance.enrolled', if(h %% 3 = 0, 'employee', 'urban_rural'), '') AS scheme,
    if(etype = 'identity.verified', arrayElement(['ride_hailing', 'bank', 'telecom'], toUInt64(1 + h %% 3)), '') AS relying_party,
    if(etype = 'identity.verified', if(cityHash64(i, 6) %% 5 = 0, 'rejected', 'passed'), '') AS outcome,
    if(outcome = 'rejected', 'document_type_not_supported', '') AS reason,
    '' AS retracts,
    %s AS doc_type,
    %s AS doc_token,
    occurred AS produced_at,
    now() AS inserted_at
FROM
(
    SELECT
        number AS i,
        cityHash64(number, 2) AS h,
        cityHash64(number, 1) %% %d AS p,
        toUInt64(1 + cityHash64(p, 3) %% 3) AS nd,
        h %% nd AS j1,
        if(nd > 1 AND h %% 4 = 0, [j1, (j1 + 1) %% nd], [j1]) AS js
    FROM system.numbers
    LIMIT %d
)
ARRAY JOIN js AS j`, insertEventDocuments, typ("p", "j"), tok("p", "j"), persons, events)

	docsSQL := func(where, owner, rev string) string {
		return fmt.Sprintf(`%s
SELECT
    %s AS doc_token,
    %s AS doc_type,
    concat('P', toString(%s)) AS person_id,
    toUInt64(%s) AS revision,
    concat('bench-change-', toString(p), '-', toString(%s)) AS change_id,
    toDateTime(1735660800) AS occurred_at,
    now() AS inserted_at
FROM
(
    SELECT number AS p, toUInt64(1 + cityHash64(p, 3) %% 3) AS nd
    FROM system.numbers
    LIMIT %d
)
ARRAY JOIN range(nd) AS j
WHERE %s`, insertDocPerson, tok("p", "j"), typ("p", "j"), owner, rev, rev, persons, where)
	}
	return []string{
		eventsSQL,
		docsSQL("1", "p", "1"),             // every document's created change
		docsSQL("p % 7 = 1", "p - 1", "2"), // merges, a later revision
	}
}

// OptimizeTables merges every MergeTree table of the store's database into
// one part per partition (OPTIMIZE TABLE ... FINAL), as background merges
// leave them once a bulk load has settled, and returns how many it merged.
func (s *Store) OptimizeTables(ctx context.Context) (int, error) {
	rows, err := s.conn.Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree' ORDER BY name")
	if err != nil {
		return 0, s.wrapConnErr("listing the tables of ClickHouse database "+s.db, err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return 0, fmt.Errorf("listing the tables of ClickHouse database %s: %w", s.db, err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, s.wrapConnErr("listing the tables of ClickHouse database "+s.db, err)
	}
	for _, t := range tables {
		if !identRE.MatchString(t) {
			return 0, fmt.Errorf("table name %q of ClickHouse database %s is not a plain identifier", t, s.db)
		}
		if err := s.conn.Exec(ctx, "OPTIMIZE TABLE `"+t+"` FINAL"); err != nil {
			return 0, s.wrapConnErr("merging ClickHouse table "+s.db+"."+t, err)
		}
	}
	return len(tables), nil
}

// ReportTiming is how long one report took.
type ReportTiming struct {
	Report string
	Rows   int
	Best   time.Duration // fastest of the runs
	Median time.Duration
}

// TimeReports runs every report runs times and returns their timings, in
// ReportNames order.
func (s *Store) TimeReports(ctx context.Context, runs int) ([]ReportTiming, error) {
	runs = max(runs, 1)
	var out []ReportTiming
	for _, name := range ReportNames() {
		ds := make([]time.Duration, 0, runs)
		rt := ReportTiming{Report: name}
		for range runs {
			start := time.Now()
			rows, err := s.Report(ctx, name)
			if err != nil {
				return out, err
			}
			ds = append(ds, time.Since(start))
			rt.Rows = len(rows)
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		rt.Best, rt.Median = ds[0], ds[len(ds)/2]
		out = append(out, rt)
	}
	return out, nil
}
