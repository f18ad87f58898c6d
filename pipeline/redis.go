package pipeline

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Redis returns a client for REDIS_URL. A URL listing more than one node
// (redis://host:port?addr=host2:port2&addr=...) or IDLINK_REDIS_CLUSTER=true
// gives a Redis Cluster client; otherwise a single-server client.
func (c *Config) Redis() (redis.UniversalClient, error) {
	if c.RedisCluster || strings.Contains(c.RedisURL, "addr=") {
		o, err := redis.ParseClusterURL(c.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL %q is not a valid cluster URL (redis://host:port?addr=host:port...): %w", c.RedisURL, err)
		}
		return redis.NewClusterClient(o), nil
	}
	o, err := redis.ParseURL(c.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL %q is not a valid redis:// URL: %w", c.RedisURL, err)
	}
	return redis.NewClient(o), nil
}

// PingRedis checks that Redis answers, with an error that names the fix.
func (c *Config) PingRedis(ctx context.Context, rdb redis.UniversalClient) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("cannot reach Redis at REDIS_URL=%s (%v): start it with `make up`, or set REDIS_URL", c.RedisURL, err)
	}
	return nil
}
