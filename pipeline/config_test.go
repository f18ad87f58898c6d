package pipeline

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "idlink.env")
	if err := os.WriteFile(file, []byte("# stack\nKAFKA_BROKERS=10.0.0.1:9092, 10.0.0.2:9092\nREDIS_URL='redis://file:6379/1'\nexport IDLINK_PSEUDONYM_KEY=\"from-file-key-0123456789\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) Lookup {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	tests := []struct {
		name    string
		env     map[string]string
		check   func(*Config) string
		wantErr string
	}{
		{"file fills the gaps", map[string]string{"IDLINK_ENV_FILE": file}, func(c *Config) string {
			if strings.Join(c.KafkaBrokers, ",") != "10.0.0.1:9092,10.0.0.2:9092" || c.RedisURL != "redis://file:6379/1" || string(c.PseudonymKey) != "from-file-key-0123456789" {
				return "file values not used"
			}
			if c.ClickHouseAddr != "127.0.0.1:9000" || c.Partitions != 6 || c.Timeout != 10*time.Second {
				return "defaults not applied"
			}
			return ""
		}, ""},
		{"environment wins", map[string]string{"IDLINK_ENV_FILE": file, "REDIS_URL": "redis://env:6379/0", "IDLINK_PARTITIONS": "3"}, func(c *Config) string {
			if c.RedisURL != "redis://env:6379/0" || c.Partitions != 3 {
				return "environment did not win"
			}
			return ""
		}, ""},
		{"missing named file", map[string]string{"IDLINK_ENV_FILE": filepath.Join(dir, "nope")}, nil, "reading"},
		{"bad partitions", map[string]string{"IDLINK_ENV_FILE": file, "IDLINK_PARTITIONS": "zero"}, nil, "IDLINK_PARTITIONS"},
		{"bad mechanism", map[string]string{"IDLINK_ENV_FILE": file, "KAFKA_SASL_MECHANISM": "PLAIN"}, nil, "KAFKA_SASL_MECHANISM"},
		{"bad timeout", map[string]string{"IDLINK_ENV_FILE": file, "IDLINK_TIMEOUT": "soon"}, nil, "IDLINK_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := LoadConfig(env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want error mentioning %q, got %v", tt.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if msg := tt.check(c); msg != "" {
				t.Fatal(msg)
			}
		})
	}
}

func TestRequireKey(t *testing.T) {
	c := &Config{}
	if err := c.RequireKey(); err == nil || !strings.Contains(err.Error(), "IDLINK_PSEUDONYM_KEY") {
		t.Fatalf("want an error naming IDLINK_PSEUDONYM_KEY, got %v", err)
	}
	c.PseudonymKey = []byte("0123456789abcdef")
	if err := c.RequireKey(); err != nil {
		t.Fatal(err)
	}
}
