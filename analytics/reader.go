package analytics

import (
	"context"
	"errors"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/idlink/idlink/pipeline"
)

// ClickHouse exception codes OpenReports tells apart.
const (
	codeUnknownTable    = 60
	codeUnknownDatabase = 81
)

// OpenReports returns a store to run reports on (`idlink stats`, `idlink
// serve`), its database migrated to the embedded migrations.
//
// With cfg.ClickHouseAnalystUser set, the store connects as that user
// (CLICKHOUSE_ANALYST_USER, CLICKHOUSE_ANALYST_PASSWORD), which may be
// read-only: everything the store reads, it reads as the analyst, and it
// never writes. Only when the database is missing or lacks a migration does
// OpenReports connect as CLICKHOUSE_USER, for Migrate alone, and then as the
// analyst again.
//
// Without an analyst user the store connects as CLICKHOUSE_USER and migrates,
// like Open followed by Migrate.
func OpenReports(ctx context.Context, cfg *pipeline.Config) (*Store, error) {
	if cfg.ClickHouseAnalystUser == "" {
		s, err := Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		if _, err := s.Migrate(ctx); err != nil {
			s.Close()
			return nil, err
		}
		return s, nil
	}
	s, current, err := openAnalyst(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if !current {
		if s != nil {
			s.Close()
		}
		if err := migrateAsWriter(ctx, cfg); err != nil {
			return nil, err
		}
		if s, _, err = openAnalyst(ctx, cfg); err != nil {
			return nil, err
		}
		if s == nil {
			return nil, fmt.Errorf("ClickHouse database %s is still missing for CLICKHOUSE_ANALYST_USER=%s after migrating it as CLICKHOUSE_USER=%s: grant the analyst access to it",
				cfg.ClickHouseDatabase, cfg.ClickHouseAnalystUser, cfg.ClickHouseUser)
		}
	}
	return s, nil
}

// openAnalyst connects to cfg's database as the analyst and says whether
// every embedded migration is recorded in it. A missing database gives a nil
// store and false.
func openAnalyst(ctx context.Context, cfg *pipeline.Config) (*Store, bool, error) {
	db, err := database(cfg)
	if err != nil {
		return nil, false, err
	}
	conn, err := connect(ctx, cfg, login{cfg.ClickHouseAnalystUser, cfg.ClickHouseAnalystPassword, "CLICKHOUSE_ANALYST_USER", "CLICKHOUSE_ANALYST_PASSWORD"}, db)
	if hasCode(err, codeUnknownDatabase) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	s := &Store{conn: conn, db: db, addr: cfg.ClickHouseAddr}
	done, err := s.AppliedVersions(ctx)
	if hasCode(err, codeUnknownTable) {
		return s, false, nil
	}
	if err != nil {
		s.Close()
		return nil, false, err
	}
	ms, err := Migrations()
	if err == nil {
		err = s.checkRecorded(ctx, ms)
	}
	if err != nil {
		s.Close()
		return nil, false, err
	}
	for _, m := range ms {
		if !done[m.Version] {
			return s, false, nil
		}
	}
	return s, true, nil
}

// migrateAsWriter applies the pending migrations as CLICKHOUSE_USER.
func migrateAsWriter(ctx context.Context, cfg *pipeline.Config) error {
	w, err := Open(ctx, cfg)
	if err != nil {
		return fmt.Errorf("ClickHouse database %s needs migrating, which CLICKHOUSE_ANALYST_USER=%s may not do: %w (or run `idlink migrate` where CLICKHOUSE_USER can write)",
			cfg.ClickHouseDatabase, cfg.ClickHouseAnalystUser, err)
	}
	defer w.Close()
	if _, err := w.Migrate(ctx); err != nil {
		return fmt.Errorf("migrating ClickHouse database %s as CLICKHOUSE_USER=%s before reading it as CLICKHOUSE_ANALYST_USER=%s: %w",
			cfg.ClickHouseDatabase, cfg.ClickHouseUser, cfg.ClickHouseAnalystUser, err)
	}
	return nil
}

// hasCode says whether err carries a ClickHouse exception with that code.
func hasCode(err error, code int32) bool {
	var ex *clickhouse.Exception
	return errors.As(err, &ex) && ex.Code == code
}
