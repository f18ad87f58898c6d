package pipeline

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis returns a client for REDIS_URL. A URL listing more than one node
// (redis://host:port?addr=host2:port2&addr=...) or IDLINK_REDIS_CLUSTER=true
// gives a Redis Cluster client; otherwise a single-server client.
func (c *Config) Redis() (redis.UniversalClient, error) {
	if c.RedisCluster || strings.Contains(c.RedisURL, "addr=") {
		o, err := redis.ParseClusterURL(c.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL %q is not a valid cluster URL (redis://host:port?addr=host:port...): %w", redactedURL(c.RedisURL), c.redactErr(err))
		}
		o.TLSConfig = c.redisTLS(o.TLSConfig)
		return redis.NewClusterClient(o), nil
	}
	o, err := redis.ParseURL(c.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL %q is not a valid redis:// URL: %w", redactedURL(c.RedisURL), c.redactErr(err))
	}
	o.TLSConfig = c.redisTLS(o.TLSConfig)
	return redis.NewClient(o), nil
}

// redisTLS is RedisTLS's config (nil for redis://) with the server name
// go-redis took from REDIS_URL's host (parsed), unless it names one itself.
func (c *Config) redisTLS(parsed *tls.Config) *tls.Config {
	if !c.RedisTLS.On() {
		return nil
	}
	t := c.RedisTLS.Config.Clone()
	if t.ServerName == "" && parsed != nil {
		t.ServerName = parsed.ServerName
	}
	return t
}

// PingRedis checks that Redis answers, with an error that names the fix.
func (c *Config) PingRedis(ctx context.Context, rdb redis.UniversalClient) error {
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	// A Redis that is starting answers LOADING while it reads its AOF: wait.
	err := rdb.Ping(ctx).Err()
	for err != nil && strings.HasPrefix(err.Error(), "LOADING") && ctx.Err() == nil {
		time.Sleep(200 * time.Millisecond)
		err = rdb.Ping(ctx).Err()
	}
	if err != nil {
		if terr := TLSError(err, "Redis at REDIS_URL="+redactedURL(c.RedisURL), "REDIS_TLS"); terr != err {
			return terr
		}
		return fmt.Errorf("cannot reach Redis at REDIS_URL=%s (%v): start it with `make up`, or set REDIS_URL", redactedURL(c.RedisURL), c.redactErr(err))
	}
	return nil
}

// redactedURL is a Redis URL fit for messages and logs: its password
// replaced by xxxxx.
func redactedURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	if i, j := strings.Index(s, "://"), strings.LastIndex(s, "@"); i >= 0 && j > i {
		return s[:i+3] + "xxxxx" + s[j:]
	}
	return s
}

// redactErr is err without REDIS_URL's password, should its text quote it.
func (c *Config) redactErr(err error) error {
	if msg := err.Error(); strings.Contains(msg, c.RedisURL) {
		return errors.New(strings.ReplaceAll(msg, c.RedisURL, redactedURL(c.RedisURL)))
	}
	return err
}
