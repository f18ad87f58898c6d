package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// usedMemory is Redis' INFO memory used_memory. Other clients of the same
// server (tests running meanwhile) change it too, so deltas are approximate.
func (b *bench) usedMemory(ctx context.Context) (int64, error) {
	info, err := b.rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, fmt.Errorf("reading Redis INFO memory: %w", err)
	}
	v, err := strconv.ParseInt(infoField(info, "used_memory"), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing Redis used_memory: %w", err)
	}
	return v, nil
}

// scanKeys calls fn with every key under prefix, a few thousand at a time.
func (b *bench) scanKeys(ctx context.Context, prefix string, fn func(keys []string) error) error {
	scan := func(ctx context.Context, c *redis.Client) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, prefix+"*", 10000).Result()
			if err != nil {
				return fmt.Errorf("scanning Redis keys %s*: %w", prefix, err)
			}
			if len(keys) > 0 {
				if err := fn(keys); err != nil {
					return err
				}
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	switch c := b.rdb.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, scan)
	case *redis.Client:
		return scan(ctx, c)
	}
	return fmt.Errorf("unsupported Redis client %T", b.rdb)
}

// redisDocuments counts the documents the resolver holds under prefix: the
// fields of its document hashes (prefix "d:<bucket>", see
// identity.RedisStore).
func (b *bench) redisDocuments(ctx context.Context, prefix string) (int64, error) {
	var total int64
	err := b.scanKeys(ctx, prefix+"d:", func(keys []string) error {
		pipe := b.rdb.Pipeline()
		cmds := make([]*redis.IntCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.HLen(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("counting document pointers: %w", err)
		}
		for _, c := range cmds {
			total += c.Val()
		}
		return nil
	})
	return total, err
}

// keyBytes sums MEMORY USAGE over every key under prefix: what the keys
// themselves take, without the allocator's and the server's overheads that
// used_memory includes.
func (b *bench) keyBytes(ctx context.Context, prefix string) (bytes, keys int64, err error) {
	err = b.scanKeys(ctx, prefix, func(ks []string) error {
		for len(ks) > 0 {
			chunk := ks[:min(len(ks), 1000)]
			ks = ks[len(chunk):]
			pipe := b.rdb.Pipeline()
			cmds := make([]*redis.IntCmd, len(chunk))
			for i, k := range chunk {
				cmds[i] = pipe.MemoryUsage(ctx, k, 0)
			}
			if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
				return fmt.Errorf("reading MEMORY USAGE: %w", err)
			}
			for _, c := range cmds {
				bytes += c.Val()
			}
			keys += int64(len(chunk))
		}
		return nil
	})
	return bytes, keys, err
}

// cmdStat is one command's line of INFO commandstats.
type cmdStat struct{ calls, usec int64 }

// commandStats reads INFO commandstats: calls and microseconds per command
// since the server started (or the stats were reset), for every client.
func (b *bench) commandStats(ctx context.Context) (map[string]cmdStat, error) {
	info, err := b.rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, fmt.Errorf("reading Redis INFO commandstats: %w", err)
	}
	out := map[string]cmdStat{}
	for _, l := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(l), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		var st cmdStat
		for _, kv := range strings.Split(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "calls":
				st.calls = n
			case "usec":
				st.usec = n
			}
		}
		out[strings.TrimPrefix(name, "cmdstat_")] = st
	}
	return out, nil
}

// reportCommandStats prints the Redis server time spent per event between
// two commandstats readings, and the commands that took most of it.
func (b *bench) reportCommandStats(prefix string, before, after map[string]cmdStat, events int) {
	type row struct {
		name        string
		calls, usec int64
	}
	var rows []row
	var total int64
	for name, a := range after {
		d := row{name, a.calls - before[name].calls, a.usec - before[name].usec}
		if d.usec > 0 {
			rows = append(rows, d)
			total += d.usec
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].usec > rows[j].usec })
	b.figure(prefix+"_redis_server_us_per_event", "%.1f", float64(total)/float64(max(events, 1)))
	var top []string
	for i, r := range rows {
		if i == 4 {
			break
		}
		top = append(top, fmt.Sprintf("%s:%.0f%%(%.1fus/call)", r.name, 100*float64(r.usec)/float64(total), float64(r.usec)/float64(max(r.calls, 1))))
	}
	b.figure(prefix+"_redis_top_commands", "%s", strings.Join(top, ","))
}
