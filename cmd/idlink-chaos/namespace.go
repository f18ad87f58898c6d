package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/pipeline"
)

// namespace gives cfg topic, consumer-group, Redis-key and ClickHouse-database
// names of its own (like internal/stacktest), so a chaos run neither sees nor
// disturbs other users of the stack.
func namespace(cfg *pipeline.Config) error {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Errorf("choosing a namespace: %w", err)
	}
	return useNamespace(cfg, "chaos"+hex.EncodeToString(b[:]))
}

// useNamespace sets cfg's names for the namespace id ("chaos" and 8 hex
// digits, as printed by a run).
func useNamespace(cfg *pipeline.Config, id string) error {
	suffix, ok := strings.CutPrefix(id, "chaos")
	if _, err := hex.DecodeString(suffix); !ok || err != nil || len(suffix) != 8 {
		return fmt.Errorf("%q is not a chaos namespace (chaos and 8 hex digits)", id)
	}
	cfg.TopicPrefix = id + "."
	cfg.GroupPrefix = id + "-"
	cfg.RedisPrefix = id + ":"
	cfg.ClickHouseDatabase = "chaos_" + suffix
	return nil
}

// childEnv is the environment of a child idlink process working with cfg's
// services, credentials and namespace (as internal/stacktest.Env does for
// tests).
func childEnv(cfg *pipeline.Config) []string {
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

// groups are the consumer groups `idlink run` uses, with their topics.
func groups(cfg *pipeline.Config) map[string][]string {
	t := cfg.Topics()
	return map[string][]string{
		cfg.Group("resolver"):  t.AllAgencies(),
		cfg.Group("analytics"): append(t.AllAgencies(), t.IdentityChanges()),
	}
}

// lag returns how many messages of topics the group has not committed yet.
func lag(ctx context.Context, cfg *pipeline.Config, group string, topics []string) (int64, error) {
	end, err := cfg.EndOffsets(ctx, topics)
	if err != nil {
		return 0, err
	}
	committed, err := cfg.CommittedOffsets(ctx, group, topics)
	if err != nil {
		return 0, err
	}
	var n int64
	for t, ps := range end {
		for p, e := range ps {
			c := max(committed[t][p], 0)
			n += max(e-c, 0)
		}
	}
	return n, nil
}

// readTopic calls fn for every message in topic up to the end offsets as they
// are when it is called.
func readTopic(ctx context.Context, cfg *pipeline.Config, topic string, fn func(kafka.Message) error) error {
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

// cleanup removes everything the run created in cfg's namespace: topics,
// consumer groups, Redis keys and the ClickHouse database.
func cleanup(ctx context.Context, cfg *pipeline.Config) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var errs []error
	client, err := cfg.KafkaClient()
	if err == nil {
		if _, err := client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: cfg.Topics().All()}); err != nil {
			errs = append(errs, fmt.Errorf("deleting topics: %w", err))
		}
		var ids []string
		for g := range groups(cfg) {
			ids = append(ids, g)
		}
		if _, err := client.DeleteGroups(ctx, &kafka.DeleteGroupsRequest{GroupIDs: ids}); err != nil {
			errs = append(errs, fmt.Errorf("deleting consumer groups: %w", err))
		}
	} else {
		errs = append(errs, err)
	}
	rdb, err := cfg.Redis()
	if err == nil {
		if err := deleteKeys(ctx, rdb, cfg.RedisPrefix); err != nil {
			errs = append(errs, fmt.Errorf("deleting Redis keys %s*: %w", cfg.RedisPrefix, err))
		}
		rdb.Close()
	} else {
		errs = append(errs, err)
	}
	store, err := analytics.Open(ctx, cfg)
	if err == nil {
		if err := store.Conn().Exec(ctx, "DROP DATABASE IF EXISTS `"+cfg.ClickHouseDatabase+"`"); err != nil {
			errs = append(errs, fmt.Errorf("dropping ClickHouse database %s: %w", cfg.ClickHouseDatabase, err))
		}
		store.Close()
	} else {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// deleteKeys unlinks every key under prefix (on every master of a cluster).
func deleteKeys(ctx context.Context, rdb redis.UniversalClient, prefix string) error {
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
	switch c := rdb.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, del)
	case *redis.Client:
		return del(ctx, c)
	}
	return fmt.Errorf("unsupported Redis client %T", rdb)
}
