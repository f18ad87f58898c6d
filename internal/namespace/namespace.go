// Package namespace gives a pipeline.Config names of its own on the shared
// stack — a topic prefix, a consumer-group prefix, a Redis key prefix and a
// ClickHouse database — so that a test, a chaos run or a benchmark neither
// sees nor disturbs other users of the stack, and removes them afterwards.
// internal/stacktest uses it for tests; commands (idlink-chaos) use it
// directly, without the testing package.
package namespace

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/pipeline"
)

// NewID returns prefix followed by 8 random hex digits.
func NewID(prefix string) (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("choosing a namespace: %w", err)
	}
	return prefix + hex.EncodeToString(b[:]), nil
}

// Use sets cfg's names for the namespace id: topics id + ".", consumer
// groups id + "-", Redis keys id + ":", and the ClickHouse database
// database.
func Use(cfg *pipeline.Config, id, database string) {
	cfg.TopicPrefix = id + "."
	cfg.GroupPrefix = id + "-"
	cfg.RedisPrefix = id + ":"
	cfg.ClickHouseDatabase = database
}

// Env returns os.Environ() plus the variables that give a child idlink
// process cfg's services, credentials and TLS settings and its namespace (topic, group and
// key prefixes, database).
func Env(cfg *pipeline.Config) []string {
	env := os.Environ()
	set := func(k, v string) {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	set("KAFKA_BROKERS", strings.Join(cfg.KafkaBrokers, ","))
	set("KAFKA_SASL_MECHANISM", cfg.KafkaMechanism)
	set("KAFKA_SASL_USERNAME", cfg.KafkaUsername)
	set("KAFKA_SASL_PASSWORD", cfg.KafkaPassword)
	set("REDIS_URL", cfg.RedisURL)
	set("CLICKHOUSE_ADDR", cfg.ClickHouseAddr)
	set("CLICKHOUSE_USER", cfg.ClickHouseUser)
	set("CLICKHOUSE_PASSWORD", cfg.ClickHousePassword)
	env = append(env, cfg.TLSEnv()...)
	return append(env,
		"IDLINK_TOPIC_PREFIX="+cfg.TopicPrefix,
		"IDLINK_GROUP_PREFIX="+cfg.GroupPrefix,
		"IDLINK_REDIS_PREFIX="+cfg.RedisPrefix,
		"CLICKHOUSE_DATABASE="+cfg.ClickHouseDatabase,
		fmt.Sprintf("IDLINK_PARTITIONS=%d", cfg.Partitions),
		"IDLINK_PSEUDONYM_KEY="+string(cfg.PseudonymKey),
		"IDLINK_METRICS_ADDR=off",
	)
}

// Options say what Remove removes besides cfg's topics and Redis keys.
type Options struct {
	Groups       []string // consumer groups to delete (full names)
	KeepDatabase bool     // leave the ClickHouse database
}

// Remove deletes what lives in cfg's namespace: its topics, the consumer
// groups o names, every Redis key under its prefix and its ClickHouse
// database. It tries each and returns every failure.
func Remove(ctx context.Context, cfg *pipeline.Config, o Options) error {
	var errs []error
	if client, err := cfg.KafkaClient(); err == nil {
		if _, err := client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: cfg.Topics().All()}); err != nil {
			errs = append(errs, fmt.Errorf("deleting topics: %w", err))
		}
		if len(o.Groups) > 0 {
			if _, err := client.DeleteGroups(ctx, &kafka.DeleteGroupsRequest{GroupIDs: o.Groups}); err != nil {
				errs = append(errs, fmt.Errorf("deleting consumer groups: %w", err))
			}
		}
	} else {
		errs = append(errs, err)
	}
	if rdb, err := cfg.Redis(); err == nil {
		if err := DeleteKeys(ctx, rdb, cfg.RedisPrefix); err != nil {
			errs = append(errs, fmt.Errorf("deleting Redis keys %s*: %w", cfg.RedisPrefix, err))
		}
		rdb.Close()
	} else {
		errs = append(errs, err)
	}
	if !o.KeepDatabase {
		if err := DropDatabase(ctx, cfg); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// DropDatabase drops cfg's ClickHouse database if it exists. It connects
// without a database, so it does not create the one it drops.
func DropDatabase(ctx context.Context, cfg *pipeline.Config) error {
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	conn, err := clickhouse.Open(&clickhouse.Options{
		Protocol:    clickhouse.Native,
		Addr:        []string{cfg.ClickHouseAddr},
		Auth:        clickhouse.Auth{Username: cfg.ClickHouseUser, Password: cfg.ClickHousePassword},
		DialTimeout: timeout,
		TLS:         cfg.ClickHouseTLS.Config,
	})
	if err == nil {
		err = conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+cfg.ClickHouseDatabase+"`")
		conn.Close()
	}
	if err != nil {
		return fmt.Errorf("dropping ClickHouse database %s: %w", cfg.ClickHouseDatabase, err)
	}
	return nil
}

// DeleteKeys unlinks every key under prefix (on every master of a cluster).
func DeleteKeys(ctx context.Context, rdb redis.UniversalClient, prefix string) error {
	del := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, prefix+"*", 5000).Iterator()
		pipe := c.Pipeline()
		for iter.Next(ctx) {
			pipe.Unlink(ctx, iter.Val())
			if pipe.Len() == 5000 {
				if _, err := pipe.Exec(ctx); err != nil {
					return err
				}
			}
		}
		if pipe.Len() > 0 {
			if _, err := pipe.Exec(ctx); err != nil {
				return err
			}
		}
		return iter.Err()
	}
	return ForEachMaster(ctx, rdb, del)
}

// ForEachMaster calls fn with the client of a single Redis server, or with
// each master's of a cluster.
func ForEachMaster(ctx context.Context, rdb redis.UniversalClient, fn func(context.Context, *redis.Client) error) error {
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, fn)
	case *redis.Client:
		return fn(ctx, c)
	}
	return fmt.Errorf("unsupported Redis client %T", rdb)
}

// ReadTopic calls fn for every message of topic, partition by partition, up
// to the end offsets as they are when it is called. It stops at fn's first
// error and returns it.
func ReadTopic(ctx context.Context, cfg *pipeline.Config, topic string, fn func(kafka.Message) error) error {
	end, err := cfg.EndOffsets(ctx, []string{topic})
	if err != nil {
		return fmt.Errorf("reading %s: %w", topic, err)
	}
	dialer, err := cfg.Dialer()
	if err != nil {
		return err
	}
	for p, last := range end[topic] {
		if last <= 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: cfg.KafkaBrokers, Topic: topic, Partition: p, Dialer: dialer,
			MinBytes: 1, MaxBytes: 16 << 20, MaxWait: 200 * time.Millisecond,
		})
		if err := r.SetOffset(kafka.FirstOffset); err != nil {
			r.Close()
			return fmt.Errorf("reading %s/%d: %w", topic, p, err)
		}
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				return fmt.Errorf("reading %s/%d: %w", topic, p, err)
			}
			if err := fn(m); err != nil {
				r.Close()
				return err
			}
			if m.Offset >= last-1 {
				break
			}
		}
		if err := r.Close(); err != nil {
			return fmt.Errorf("closing the reader of %s/%d: %w", topic, p, err)
		}
	}
	return nil
}
