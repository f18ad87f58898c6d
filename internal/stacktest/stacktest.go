// Package stacktest connects integration tests to the real local stack
// (`make up`): it loads the stack's configuration with names unique to the
// test, so tests never see each other's topics, groups, keys or tables, and
// fails — never skips — when a service is not there.
package stacktest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idlink/idlink/internal/namespace"
	"github.com/idlink/idlink/pipeline"
)

// Config returns the local stack's configuration with a unique topic prefix,
// consumer-group prefix, Redis key prefix and ClickHouse database
// (internal/namespace). It fails the test when Kafka or Redis do not answer.
// Topics, keys and the database are removed when the test ends.
func Config(t testing.TB) *pipeline.Config {
	t.Helper()
	cfg, err := pipeline.LoadConfig(os.LookupEnv)
	if err != nil {
		t.Fatalf("loading configuration: %v", err)
	}
	id, err := namespace.NewID("t")
	if err != nil {
		t.Fatal(err)
	}
	namespace.Use(cfg, id, "test_"+id)
	cfg.Partitions = 3
	if len(cfg.PseudonymKey) == 0 {
		cfg.PseudonymKey = []byte("stacktest-pseudonym-key-0123456789")
	}
	for _, addr := range append([]string{redisAddr(cfg.RedisURL)}, cfg.KafkaBrokers...) {
		c, err := net.DialTimeout("tcp", addr, 3*time.Second)
		if err != nil {
			t.Fatalf("the local stack is not running (%v): run `make up` first (`make test` does)", err)
		}
		c.Close()
	}
	t.Cleanup(func() { cleanup(cfg) })
	return cfg
}

func redisAddr(url string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(url, "redis://"), "rediss://")
	if i := strings.LastIndex(s, "@"); i >= 0 {
		s = s[i+1:]
	}
	if i := strings.IndexAny(s, "/?"); i >= 0 {
		s = s[:i]
	}
	return s
}

// cleanup removes the test's topics, Redis keys and ClickHouse database (the
// database stays with IDLINK_TEST_KEEP_DB set).
func cleanup(cfg *pipeline.Config) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_ = namespace.Remove(ctx, cfg, namespace.Options{KeepDatabase: os.Getenv("IDLINK_TEST_KEEP_DB") != ""})
}

// RedisCluster starts a 3-master Redis Cluster on loopback ports base,
// base+1, base+2 from the machine's redis-server (installed by `make up`),
// and stops it when the test ends. It returns the seed URL for REDIS_URL.
func RedisCluster(t testing.TB, base int) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found (%v): run `make up`, which installs it", err)
	}
	dir := t.TempDir()
	var addrs []string
	for i := 0; i < 3; i++ {
		port := base + i
		d := filepath.Join(dir, fmt.Sprint(port))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(d, "nodes.conf"), "--dir", d, "--save", "", "--appendonly", "no",
			"--daemonize", "no", "--protected-mode", "no")
		cmd.Stdout, cmd.Stderr = nil, nil
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting redis cluster node %d: %v", port, err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", port))
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, a := range addrs {
		for {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redis cluster node %s did not start: %v", a, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("creating redis cluster: %v\n%s", err, out)
	}
	url := "redis://" + addrs[0] + "?addr=" + addrs[1] + "&addr=" + addrs[2]
	// Wait until every slot is served.
	o, _ := redis.ParseClusterURL(url)
	c := redis.NewClusterClient(o)
	defer c.Close()
	for {
		info, err := c.ClusterInfo(context.Background()).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			break
		}
		if time.Now().After(deadline.Add(20 * time.Second)) {
			t.Fatalf("redis cluster not ready: %v %s", err, info)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return url
}

// Env returns os.Environ() plus the variables that give a child idlink
// process cfg's services and credentials and its namespace (topic, group and
// key prefixes, database): namespace.Env.
func Env(cfg *pipeline.Config) []string { return namespace.Env(cfg) }

// Build compiles ./cmd/idlink into a temporary directory and returns the
// binary's path.
func Build(t testing.TB) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "idlink")
	root, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		t.Fatalf("finding the module root: %v", err)
	}
	cmd := exec.Command("go", "build", "-o", out, "./cmd/idlink")
	cmd.Dir = strings.TrimSpace(string(root))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building idlink: %v\n%s", err, b)
	}
	return out
}
