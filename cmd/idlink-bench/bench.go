package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/internal/namespace"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/schemas"
)

// bench holds what the phases share.
type bench struct {
	opts  *options
	base  *pipeline.Config // the stack's configuration, no namespaces
	codec *schemas.Codec
	out   io.Writer // figures
	log   io.Writer // progress
	runID string    // unique per run; every namespace starts with it
	dir   string    // temporary directory: the idlink binary, child logs
	bin   string    // the idlink binary

	kafka *kafka.Client         // admin client, reused for offset polling
	rdb   redis.UniversalClient // for memory figures and clean-up

	// What to remove at the end.
	topicSpaces []*pipeline.Config
	spaces      []*pipeline.Config

	// Produced data: the namespace holding the agency topics, and its counts.
	data      *pipeline.Config
	accepted  int // distinct valid events in the agency topics
	documents int // distinct documents they name

	res          results
	extraTargets []string
}

func newBench(ctx context.Context, o *options, stdout, stderr io.Writer) (*bench, error) {
	cfg, err := pipeline.LoadConfig(os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("loading configuration: %w", err)
	}
	if len(cfg.PseudonymKey) == 0 {
		cfg.PseudonymKey = []byte("idlink-bench-pseudonym-key-0123456789")
	}
	codec, err := schemas.NewCodec()
	if err != nil {
		return nil, fmt.Errorf("loading the Avro schemas: %w", err)
	}
	var id [4]byte
	_, _ = rand.Read(id[:])
	b := &bench{opts: o, base: cfg, codec: codec, out: stdout, log: stderr, runID: "bench" + hex.EncodeToString(id[:]),
		res: results{e2e: math.NaN(), baseline: math.NaN(), raw: math.NaN(), p99: math.NaN()}}
	if b.kafka, err = cfg.KafkaClient(); err != nil {
		return nil, err
	}
	if b.rdb, err = cfg.Redis(); err != nil {
		return nil, err
	}
	if err := cfg.PingRedis(ctx, b.rdb); err != nil {
		b.rdb.Close()
		return nil, err
	}
	if b.dir, err = os.MkdirTemp("", "idlink-bench-"); err != nil {
		b.rdb.Close()
		return nil, fmt.Errorf("creating a temporary directory: %w", err)
	}
	if b.bin, err = b.buildIdlink(ctx); err != nil {
		b.close()
		return nil, err
	}
	b.progress("run %s; child logs in %s", b.runID, b.dir)
	return b, nil
}

// buildIdlink returns -idlink, or compiles ./cmd/idlink into b.dir.
func (b *bench) buildIdlink(ctx context.Context) (string, error) {
	if b.opts.idlink != "" {
		return b.opts.idlink, nil
	}
	root, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root with `go list -m` (run idlink-bench inside the repository, or pass -idlink): %w", err)
	}
	out := filepath.Join(b.dir, "idlink")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/idlink")
	cmd.Dir = strings.TrimSpace(string(root))
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building idlink: %w\n%s", err, msg)
	}
	return out, nil
}

// namespace returns the stack's configuration with a consumer-group prefix,
// Redis key prefix and ClickHouse database of its own. With topics nil the
// topics are new too; otherwise they are those of topics.
func (b *bench) namespace(name string, topics *pipeline.Config) *pipeline.Config {
	c := *b.base
	if topics == nil {
		c.TopicPrefix = b.runID + "." + name + "."
		b.topicSpaces = append(b.topicSpaces, &c)
	} else {
		c.TopicPrefix = topics.TopicPrefix
	}
	c.GroupPrefix = b.runID + "-" + name + "-"
	c.RedisPrefix = b.runID + ":" + name + ":"
	c.ClickHouseDatabase = b.runID + "_" + name
	b.spaces = append(b.spaces, &c)
	return &c
}

// release removes a namespace's Redis keys, ClickHouse database and
// consumer groups (not its topics: see close), unless -keep. Phases release
// theirs when done, so that what they leave behind (a million keys, say) does
// not slow the phases after them.
func (b *bench) release(ctx context.Context, c *pipeline.Config) {
	if b.opts.keep {
		return
	}
	i := slices.Index(b.spaces, c)
	if i < 0 {
		return // released already
	}
	b.spaces = slices.Delete(b.spaces, i, i+1)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := namespace.DeleteKeys(ctx, b.rdb, c.RedisPrefix); err != nil {
		b.progress("deleting Redis keys %s*: %v", c.RedisPrefix, err)
	}
	if err := namespace.DropDatabase(ctx, c); err != nil {
		b.progress("%v", err)
	}
	groups := []string{c.Group("resolver"), c.Group("analytics"), c.Group("baseline")}
	if _, err := b.kafka.DeleteGroups(ctx, &kafka.DeleteGroupsRequest{GroupIDs: groups}); err != nil {
		b.progress("deleting consumer groups %v: %v", groups, err)
	}
}

// close removes every namespace left (unless -keep), the topics and the
// temporary directory.
func (b *bench) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if b.opts.keep {
		b.progress("keeping namespaces of %s (-keep)", b.runID)
	} else if len(b.spaces) > 0 || len(b.topicSpaces) > 0 {
		b.progress("cleaning up %s", b.runID)
		for len(b.spaces) > 0 {
			b.release(ctx, b.spaces[0])
		}
		for _, c := range b.topicSpaces {
			if _, err := b.kafka.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: c.Topics().All()}); err != nil {
				b.progress("deleting topics %s*: %v", c.TopicPrefix, err)
			}
		}
	}
	if b.rdb != nil {
		b.rdb.Close()
	}
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}

// machine prints what the figures were measured on.
func (b *bench) machine(ctx context.Context) {
	cpu := "unknown"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	mem := "unknown"
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(raw), "\n") {
			if strings.HasPrefix(l, "MemTotal:") {
				var kib int64
				fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "MemTotal:")), "%d", &kib)
				mem = fmt.Sprintf("%.1f", float64(kib)/(1<<20))
			}
		}
	}
	redisVersion := "unknown"
	if info, err := b.rdb.Info(ctx, "server").Result(); err == nil {
		redisVersion = infoField(info, "redis_version")
	}
	chVersion := "unknown"
	if s, err := analytics.Open(ctx, &pipeline.Config{ClickHouseAddr: b.base.ClickHouseAddr, ClickHouseDatabase: "default",
		ClickHouseUser: b.base.ClickHouseUser, ClickHousePassword: b.base.ClickHousePassword, ClickHouseTLS: b.base.ClickHouseTLS, Timeout: b.base.Timeout}); err == nil {
		_ = s.Conn().QueryRow(ctx, "SELECT version()").Scan(&chVersion)
		s.Close()
	}
	fmt.Fprintf(b.out, "machine: cpus=%d cpu=%q mem_gib=%s go=%s redis=%s clickhouse=%s partitions=%d tls=%t\n",
		runtime.NumCPU(), cpu, mem, runtime.Version(), redisVersion, chVersion, b.base.Partitions,
		b.base.KafkaTLS.On() && b.base.RedisTLS.On() && b.base.ClickHouseTLS.On())
	b.figure("n", "%d", b.opts.n)
}

// infoField returns a field of a Redis INFO reply.
func infoField(info, key string) string {
	for _, l := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok && k == key {
			return v
		}
	}
	return ""
}

// groupProgress is how far a consumer group has come through its topics.
type groupProgress struct {
	committed, end int64 // summed over partitions
	caught         bool  // committed the end of every non-empty partition
}

// progressOf reads the end offsets of topics and the group's committed
// offsets, with the bench's one admin client (pipeline.CaughtUp makes a new
// client, and so new connections, on every call).
func (b *bench) progressOf(ctx context.Context, group string, topics []string) (groupProgress, error) {
	md, err := b.kafka.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return groupProgress{}, fmt.Errorf("reading topic metadata: %w", err)
	}
	lreq := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	freq := &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{}}
	for _, t := range md.Topics {
		if t.Error != nil {
			return groupProgress{}, fmt.Errorf("topic %s: %w", t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			lreq.Topics[t.Name] = append(lreq.Topics[t.Name], kafka.LastOffsetOf(p.ID))
			freq.Topics[t.Name] = append(freq.Topics[t.Name], p.ID)
		}
	}
	lres, err := b.kafka.ListOffsets(ctx, lreq)
	if err != nil {
		return groupProgress{}, fmt.Errorf("listing end offsets: %w", err)
	}
	fres, err := b.kafka.OffsetFetch(ctx, freq)
	if err != nil {
		return groupProgress{}, fmt.Errorf("fetching offsets of group %s: %w", group, err)
	}
	if fres.Error != nil {
		return groupProgress{}, fmt.Errorf("fetching offsets of group %s: %w", group, fres.Error)
	}
	committed := map[string]map[int]int64{}
	for t, ps := range fres.Topics {
		committed[t] = map[int]int64{}
		for _, p := range ps {
			committed[t][p.Partition] = p.CommittedOffset
		}
	}
	g := groupProgress{caught: true}
	for t, ps := range lres.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return groupProgress{}, fmt.Errorf("end offset of %s/%d: %w", t, p.Partition, p.Error)
			}
			c := committed[t][p.Partition]
			g.end += p.LastOffset
			g.committed += max(0, min(c, p.LastOffset))
			if p.LastOffset > 0 && c < p.LastOffset {
				g.caught = false
			}
		}
	}
	return g, nil
}

// endOffsets returns the end offset of every partition of topics.
func (b *bench) endOffsets(ctx context.Context, topics []string) (map[string]map[int]int64, int64, error) {
	md, err := b.kafka.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, 0, fmt.Errorf("reading topic metadata: %w", err)
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, t := range md.Topics {
		if t.Error != nil {
			return nil, 0, fmt.Errorf("metadata of %s: %w", t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			req.Topics[t.Name] = append(req.Topics[t.Name], kafka.LastOffsetOf(p.ID))
		}
	}
	res, err := b.kafka.ListOffsets(ctx, req)
	if err != nil {
		return nil, 0, fmt.Errorf("listing end offsets: %w", err)
	}
	out := map[string]map[int]int64{}
	var total int64
	for t, ps := range res.Topics {
		out[t] = map[int]int64{}
		for _, p := range ps {
			if p.Error != nil {
				return nil, 0, fmt.Errorf("end offset of %s/%d: %w", t, p.Partition, p.Error)
			}
			out[t][p.Partition] = p.LastOffset
			total += p.LastOffset
		}
	}
	return out, total, nil
}

// logger is for in-process consumers: warnings and errors, on stderr.
func (b *bench) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b.log, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// perSecond is n per elapsed second.
func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
