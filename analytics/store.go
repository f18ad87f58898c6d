// Package analytics holds idlink's ClickHouse schema, migrations and report
// queries.
//
// The SQL (migrations/*.sql, reports/*.sql, embedded in the binary) runs on
// ClickHouse 18.16, the local stack's server, and on current releases:
// MergeTree-family engines, uniqExact, argMax, ANY LEFT JOIN ... USING; no
// LowCardinality, Nullable, DateTime64 or window functions. The driver is
// clickhouse-go v2 over the native protocol; with 18.16 an INSERT must name
// its columns and Exec must not bind parameters (it hangs), so writes go
// through column-named batches and no query takes parameters.
// sqlcheck/check.py runs the same SQL on current ClickHouse (chdb).
package analytics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/idlink/idlink/pipeline"
)

// ErrClickHouseUnreachable wraps every failure to reach ClickHouse at all.
var ErrClickHouseUnreachable = errors.New("clickhouse unreachable")

// Store is a connection pool to idlink's ClickHouse database.
type Store struct {
	conn driver.Conn
	db   string
	addr string
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Open connects to ClickHouse at cfg.ClickHouseAddr (native protocol) as
// CLICKHOUSE_USER and creates the database cfg.ClickHouseDatabase if it is
// missing. It fails within cfg.Timeout when the server does not answer; that
// error wraps ErrClickHouseUnreachable and names CLICKHOUSE_ADDR and `make
// up`. Open does not migrate: call Migrate.
func Open(ctx context.Context, cfg *pipeline.Config) (*Store, error) {
	db, err := database(cfg)
	if err != nil {
		return nil, err
	}
	writer := login{cfg.ClickHouseUser, cfg.ClickHousePassword, "CLICKHOUSE_USER", "CLICKHOUSE_PASSWORD"}
	// Connect without a database first: the handshake fails if it is missing.
	boot, err := connect(ctx, cfg, writer, "")
	if err != nil {
		return nil, err
	}
	err = boot.Exec(ctx, "CREATE DATABASE IF NOT EXISTS `"+db+"`")
	boot.Close()
	if err != nil {
		return nil, fmt.Errorf("creating ClickHouse database %s: %w", db, err)
	}
	conn, err := connect(ctx, cfg, writer, db)
	if err != nil {
		return nil, err
	}
	return &Store{conn: conn, db: db, addr: cfg.ClickHouseAddr}, nil
}

// database returns cfg's database name, checked to be a plain identifier
// (it is spliced into statements).
func database(cfg *pipeline.Config) (string, error) {
	db := cfg.ClickHouseDatabase
	if !identRE.MatchString(db) {
		return "", fmt.Errorf("CLICKHOUSE_DATABASE=%q is not a plain identifier: use letters, digits and underscores", db)
	}
	return db, nil
}

// login is a ClickHouse user and the variables that set it, which errors
// name.
type login struct {
	user, password       string
	userVar, passwordVar string
}

// connect opens a pool to database ("" for none) as l and pings it within
// cfg.Timeout (10s when unset).
func connect(ctx context.Context, cfg *pipeline.Config, l login, database string) (driver.Conn, error) {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol:         clickhouse.Native,
		Addr:             []string{cfg.ClickHouseAddr},
		Auth:             clickhouse.Auth{Database: database, Username: l.user, Password: l.password},
		DialTimeout:      timeout,
		ReadTimeout:      5 * time.Minute,
		MaxOpenConns:     16,
		MaxIdleConns:     4,
		ConnMaxLifetime:  time.Hour,
		Compression:      &clickhouse.Compression{Method: clickhouse.CompressionNone},
		TLS:              cfg.ClickHouseTLS.Config,
		ClientInfo:       clickhouse.ClientInfo{Products: []struct{ Name, Version string }{{Name: "idlink", Version: "1"}}},
		ConnOpenStrategy: clickhouse.ConnOpenInOrder,
	})
	if err != nil {
		return nil, fmt.Errorf("configuring the ClickHouse client for CLICKHOUSE_ADDR=%s: %w", cfg.ClickHouseAddr, err)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := conn.Ping(pctx); err != nil {
		conn.Close()
		var ex *clickhouse.Exception
		if errors.As(err, &ex) {
			if ex.Code == codeUnknownDatabase {
				return nil, fmt.Errorf("ClickHouse at CLICKHOUSE_ADDR=%s has no database %s: %w (run `idlink migrate`)", cfg.ClickHouseAddr, database, err)
			}
			return nil, fmt.Errorf("ClickHouse at CLICKHOUSE_ADDR=%s refused the connection as %s=%s: %w (check %s and %s)",
				cfg.ClickHouseAddr, l.userVar, l.user, err, l.userVar, l.passwordVar)
		}
		if terr := pipeline.TLSError(err, "ClickHouse at CLICKHOUSE_ADDR="+cfg.ClickHouseAddr, "CLICKHOUSE_TLS"); terr != err {
			return nil, fmt.Errorf("%w: %w", ErrClickHouseUnreachable, terr)
		}
		return nil, Unreachable(cfg.ClickHouseAddr, err)
	}
	return conn, nil
}

// Unreachable wraps err as ErrClickHouseUnreachable with a message naming the
// fix.
func Unreachable(addr string, err error) error {
	return fmt.Errorf("%w: cannot reach ClickHouse at CLICKHOUSE_ADDR=%s (%v): start it with `make up`, or set CLICKHOUSE_ADDR to a reachable host:port (native protocol)",
		ErrClickHouseUnreachable, addr, err)
}

// wrapConnErr marks network failures as ErrClickHouseUnreachable.
func (s *Store) wrapConnErr(doing string, err error) error {
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &oe) || (errors.As(err, &ne) && ne.Timeout()) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%s: %w", doing, Unreachable(s.addr, err))
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// Database is the name of the database the store works in.
func (s *Store) Database() string { return s.db }

// Conn is the underlying clickhouse-go connection, for ad-hoc queries (tests,
// the dashboard). Remember: no bound parameters against 18.16.
func (s *Store) Conn() driver.Conn { return s.conn }

// Close closes the connection pool.
func (s *Store) Close() error { return s.conn.Close() }
