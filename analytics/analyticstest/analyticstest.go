// Package analyticstest gives tests an isolated slice of the local stack:
// a configuration with a unique ClickHouse database, Kafka topic prefix and
// consumer-group prefix, and a migrated Store that is dropped afterwards.
package analyticstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/pipeline"
)

// Config loads the local stack's configuration (.stack/idlink.env, found by
// walking up from the working directory) and makes it unique to this test.
func Config(t testing.TB) *pipeline.Config {
	t.Helper()
	cfg, err := pipeline.LoadConfig(os.LookupEnv)
	if err != nil {
		t.Fatalf("loading configuration: %v", err)
	}
	id := UniqueID(t)
	cfg.ClickHouseDatabase = "idlink_test_" + id
	cfg.TopicPrefix = "test-" + id + "."
	cfg.GroupPrefix = "test-" + id + "-"
	cfg.Partitions = 3
	return cfg
}

// UniqueID returns a short random identifier safe in database, topic and
// group names.
func UniqueID(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random id: %v", err)
	}
	return strings.ToLower(hex.EncodeToString(b))
}

// Store opens and migrates cfg's ClickHouse database and drops it when the
// test ends (keep it with IDLINK_TEST_KEEP_DB=1). A server that cannot be
// reached fails the test: start it with `make up`.
func Store(t testing.TB, cfg *pipeline.Config) *analytics.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := analytics.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("opening ClickHouse: %v", err)
	}
	t.Cleanup(func() {
		if os.Getenv("IDLINK_TEST_KEEP_DB") == "" {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := s.Conn().Exec(ctx, "DROP DATABASE IF EXISTS `"+s.Database()+"`"); err != nil {
				t.Logf("dropping test database %s: %v", s.Database(), err)
			}
		}
		s.Close()
	})
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrating: %v", err)
	}
	return s
}
