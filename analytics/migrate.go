package analytics

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// Migration is one embedded migration file, migrations/NNNN_name.sql.
type Migration struct {
	Version    int
	Name       string   // file name without .sql, e.g. "0001_init"
	Statements []string // in file order
}

var migrationName = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.sql$`)

// Migrations returns the embedded migrations in version order. Version 0
// creates the migrations table and runs on every Migrate.
func Migrations() ([]Migration, error) {
	return loadMigrations(migrationsFS, "migrations")
}

func loadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("listing embedded migrations: %w", err)
	}
	var out []Migration
	seen := map[int]string{}
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration file %s: name must be NNNN_lower_snake.sql", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %s and %s share version %d", other, e.Name(), v)
		}
		seen[v] = e.Name()
		text, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, fmt.Errorf("reading migration %s: %w", e.Name(), err)
		}
		stmts := SplitStatements(string(text))
		if len(stmts) == 0 {
			return nil, fmt.Errorf("migration %s has no statements", e.Name())
		}
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(e.Name(), ".sql"), Statements: stmts})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	if len(out) == 0 || out[0].Version != 0 {
		return nil, fmt.Errorf("migration 0000 (the migrations table) is missing")
	}
	return out, nil
}

// SplitStatements splits a SQL file into statements. A statement ends with a
// line whose last non-blank character is ';'. Lines that are only a `--`
// comment are dropped, and so are empty statements. analytics/sqlcheck/check.py
// implements the same rule; keep them in step.
func SplitStatements(text string) []string {
	var out []string
	var cur []string
	flush := func() {
		s := strings.TrimSpace(strings.Join(cur, "\n"))
		s = strings.TrimSpace(strings.TrimSuffix(s, ";"))
		if s != "" {
			out = append(out, s)
		}
		cur = cur[:0]
	}
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "--") {
			continue
		}
		cur = append(cur, strings.TrimRight(line, " \t"))
		if strings.HasSuffix(t, ";") {
			flush()
		}
	}
	flush()
	return out
}

// Migrate applies the embedded migrations that the database has not
// recorded yet, in version order, and records each. It is idempotent and safe
// to run from several processes at once: every statement is
// CREATE ... IF NOT EXISTS (or otherwise repeatable) and the record table
// folds duplicates. It returns the migrations it applied. A database that
// records a version under another name (a schema from before
// 0001_baseline) is an error naming the fix, and nothing is applied.
func (s *Store) Migrate(ctx context.Context) ([]Migration, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	// 0000 creates the migrations table, so it always runs first.
	if err := s.apply(ctx, ms[0]); err != nil {
		return nil, err
	}
	done, err := s.AppliedVersions(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.checkRecorded(ctx, ms); err != nil {
		return nil, err
	}
	var applied []Migration
	for _, m := range ms {
		if done[m.Version] {
			continue
		}
		if m.Version != 0 {
			if err := s.apply(ctx, m); err != nil {
				return applied, err
			}
		}
		if err := s.record(ctx, m); err != nil {
			return applied, err
		}
		applied = append(applied, m)
	}
	return applied, nil
}

func (s *Store) apply(ctx context.Context, m Migration) error {
	for i, st := range m.Statements {
		if err := s.conn.Exec(ctx, st); err != nil {
			return s.wrapConnErr(fmt.Sprintf("applying migration %s (statement %d) to ClickHouse database %s", m.Name, i+1, s.db), err)
		}
	}
	return nil
}

func (s *Store) record(ctx context.Context, m Migration) error {
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO schema_migrations (version, name, applied_at)")
	if err != nil {
		return s.wrapConnErr("recording migration "+m.Name, err)
	}
	defer b.Close()
	if err := b.Append(uint32(m.Version), m.Name, time.Now()); err != nil {
		return fmt.Errorf("recording migration %s: %w", m.Name, err)
	}
	if err := b.Send(); err != nil {
		return s.wrapConnErr("recording migration "+m.Name, err)
	}
	return nil
}

// checkRecorded fails when schema_migrations records one of ms's versions
// under another name: the database was made by migrations this idlink no
// longer has, and applying its own would leave the tables the reports read
// missing.
func (s *Store) checkRecorded(ctx context.Context, ms []Migration) error {
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT version, name FROM schema_migrations")
	if err != nil {
		return s.wrapConnErr("reading applied migrations from schema_migrations", err)
	}
	defer rows.Close()
	want := make(map[int]string, len(ms))
	for _, m := range ms {
		want[m.Version] = m.Name
	}
	for rows.Next() {
		var v uint32
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			return fmt.Errorf("reading applied migrations: %w", err)
		}
		if w, ok := want[int(v)]; ok && w != name {
			return fmt.Errorf("ClickHouse database %s records migration %s where this idlink has %s: its schema predates %s; drop the database (`make reset` for the local stack) and run `idlink migrate`",
				s.db, name, w, w)
		}
	}
	if err := rows.Err(); err != nil {
		return s.wrapConnErr("reading applied migrations", err)
	}
	return nil
}

// AppliedVersions returns the versions recorded in schema_migrations.
func (s *Store) AppliedVersions(ctx context.Context) (map[int]bool, error) {
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT version FROM schema_migrations")
	if err != nil {
		return nil, s.wrapConnErr("reading applied migrations from schema_migrations", err)
	}
	defer rows.Close()
	done := map[int]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("reading applied migrations: %w", err)
		}
		done[int(v)] = true
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrapConnErr("reading applied migrations", err)
	}
	return done, nil
}
