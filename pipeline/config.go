// Package pipeline is idlink's shared runtime: configuration, topic names,
// Kafka wiring (topics, writers, readers), metrics and shutdown.
package pipeline

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// EnvFile is where `make up` writes the local stack's settings, relative to
// the repository root.
const EnvFile = ".stack/idlink.env"

// Config is idlink's configuration. It is read from the environment, with the
// local stack's env file filling in what the environment leaves unset.
type Config struct {
	KafkaBrokers []string // KAFKA_BROKERS, comma separated
	// SASL/SCRAM credentials for Kafka (KAFKA_SASL_USERNAME,
	// KAFKA_SASL_PASSWORD, KAFKA_SASL_MECHANISM: SCRAM-SHA-256 or
	// SCRAM-SHA-512). Empty username means PLAINTEXT without auth.
	KafkaUsername  string
	KafkaPassword  string
	KafkaMechanism string
	// AgencyCredentials are per-agency Kafka users, by agency code, from
	// KAFKA_SASL_USERNAME_<AGENCY> and KAFKA_SASL_PASSWORD_<AGENCY> (agency
	// in upper case, e.g. KAFKA_SASL_USERNAME_MPS). The producer publishes
	// each agency's events with its own credential where one applies (see
	// AgencyCredential).
	AgencyCredentials map[string]Credential
	// AgencyPrefixes (KAFKA_SASL_AGENCY_PREFIXES, comma separated; an empty
	// entry stands for no prefix) are the IDLINK_TOPIC_PREFIX values whose
	// topics the agency users may write. Under any other prefix (tests,
	// benchmarks) the generic credential is used. Nil (unset): every prefix.
	AgencyPrefixes []string
	// ConsumerCredential is the consumers' own Kafka user
	// (KAFKA_SASL_USERNAME_CONSUMER, KAFKA_SASL_PASSWORD_CONSUMER); see
	// WithKafkaCredential.
	ConsumerCredential Credential

	// KafkaTLS: KAFKA_TLS (true or false; true by default when a file is
	// set), KAFKA_TLS_CA_FILE, KAFKA_TLS_CERT_FILE, KAFKA_TLS_KEY_FILE. With
	// a username that is SASL_SSL, without one SSL (the certificate, if
	// any, is the identity).
	KafkaTLS TLS

	RedisURL    string // REDIS_URL
	RedisPrefix string // IDLINK_REDIS_PREFIX, prepended to every key
	// RedisCluster (IDLINK_REDIS_CLUSTER=true) treats REDIS_URL as a Redis
	// Cluster seed URL.
	RedisCluster bool
	// RedisTLS: on for a rediss:// REDIS_URL; REDIS_TLS_CA_FILE,
	// REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE.
	RedisTLS TLS

	ClickHouseAddr     string // CLICKHOUSE_ADDR, native protocol host:port
	ClickHouseDatabase string // CLICKHOUSE_DATABASE
	ClickHouseUser     string // CLICKHOUSE_USER
	ClickHousePassword string // CLICKHOUSE_PASSWORD
	// ClickHouseAnalystUser and ClickHouseAnalystPassword name the read-only
	// reporting user (CLICKHOUSE_ANALYST_USER, CLICKHOUSE_ANALYST_PASSWORD).
	ClickHouseAnalystUser     string
	ClickHouseAnalystPassword string
	// ClickHouseTLS: CLICKHOUSE_SECURE=true (the secure native port),
	// CLICKHOUSE_TLS_CA_FILE, CLICKHOUSE_TLS_CERT_FILE, CLICKHOUSE_TLS_KEY_FILE.
	ClickHouseTLS TLS

	PseudonymKey []byte // IDLINK_PSEUDONYM_KEY: the HMAC key is the variable's bytes

	TopicPrefix string // IDLINK_TOPIC_PREFIX, prepended to every topic name
	Partitions  int    // IDLINK_PARTITIONS, partitions of topics idlink creates
	GroupPrefix string // IDLINK_GROUP_PREFIX, prepended to consumer group ids

	MetricsAddr string // IDLINK_METRICS_ADDR, where `idlink run` serves /metrics
	HTTPAddr    string // IDLINK_HTTP_ADDR, where `idlink serve` listens
	// HTTPTLS: IDLINK_TLS_CERT_FILE and IDLINK_TLS_KEY_FILE, the
	// certificate `idlink serve` answers with (HTTPS); none: plain HTTP.
	HTTPTLS TLS

	// Timeout bounds how long a command waits for an unreachable service.
	Timeout time.Duration // IDLINK_TIMEOUT
}

// Credential is one Kafka SASL/SCRAM user. The zero value means none.
type Credential struct {
	Username string
	Password string
}

// Lookup reads one variable, like os.LookupEnv.
type Lookup func(key string) (string, bool)

// LoadConfig builds a Config from lookup (normally os.LookupEnv). Variables
// missing from lookup are read from the env file: IDLINK_ENV_FILE if set,
// else .stack/idlink.env in the working directory or the nearest parent
// directory that has one. Set variables always win over the file.
func LoadConfig(lookup Lookup) (*Config, error) {
	file := map[string]string{}
	path, ok := lookup("IDLINK_ENV_FILE")
	if !ok || path == "" {
		path = findEnvFile()
	}
	if path != "" {
		m, err := readEnvFile(path)
		if err != nil && !(errors.Is(err, os.ErrNotExist) && !ok) {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		file = m
	}
	get := func(k, def string) string {
		if v, ok := lookup(k); ok && v != "" {
			return v
		}
		if v, ok := file[k]; ok && v != "" {
			return v
		}
		return def
	}
	c := &Config{
		KafkaBrokers:       splitList(get("KAFKA_BROKERS", "127.0.0.1:9092")),
		KafkaUsername:      get("KAFKA_SASL_USERNAME", ""),
		KafkaPassword:      get("KAFKA_SASL_PASSWORD", ""),
		KafkaMechanism:     get("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
		RedisURL:           get("REDIS_URL", "redis://127.0.0.1:6379/0"),
		RedisPrefix:        get("IDLINK_REDIS_PREFIX", "idl:"),
		RedisCluster:       get("IDLINK_REDIS_CLUSTER", "false") == "true",
		ClickHouseAddr:     get("CLICKHOUSE_ADDR", "127.0.0.1:9000"),
		ClickHouseDatabase: get("CLICKHOUSE_DATABASE", "idlink"),
		ClickHouseUser:     get("CLICKHOUSE_USER", "default"),
		ClickHousePassword: get("CLICKHOUSE_PASSWORD", ""),
		TopicPrefix:        get("IDLINK_TOPIC_PREFIX", ""),
		GroupPrefix:        get("IDLINK_GROUP_PREFIX", ""),
		MetricsAddr:        get("IDLINK_METRICS_ADDR", "127.0.0.1:9464"),
		HTTPAddr:           get("IDLINK_HTTP_ADDR", "127.0.0.1:8080"),
	}
	if k := get("IDLINK_PSEUDONYM_KEY", ""); k != "" {
		c.PseudonymKey = []byte(k) // the variable's bytes, as written
	}
	if v := get("KAFKA_SASL_AGENCY_PREFIXES", ""); v != "" {
		for _, p := range strings.Split(v, ",") {
			c.AgencyPrefixes = append(c.AgencyPrefixes, strings.TrimSpace(p))
		}
	}
	c.ClickHouseAnalystUser = get("CLICKHOUSE_ANALYST_USER", "")
	c.ClickHouseAnalystPassword = get("CLICKHOUSE_ANALYST_PASSWORD", "")
	var err error
	credential := func(suffix string) (Credential, error) {
		cr := Credential{Username: get("KAFKA_SASL_USERNAME_"+suffix, ""), Password: get("KAFKA_SASL_PASSWORD_"+suffix, "")}
		if cr.Password != "" && cr.Username == "" {
			return cr, fmt.Errorf("KAFKA_SASL_PASSWORD_%s is set but KAFKA_SASL_USERNAME_%s is not: set both, or neither", suffix, suffix)
		}
		return cr, nil
	}
	for _, a := range Agencies() {
		cr, err := credential(strings.ToUpper(a))
		if err != nil {
			return nil, err
		}
		if cr.Username != "" {
			if c.AgencyCredentials == nil {
				c.AgencyCredentials = map[string]Credential{}
			}
			c.AgencyCredentials[a] = cr
		}
	}
	if c.ConsumerCredential, err = credential("CONSUMER"); err != nil {
		return nil, err
	}
	if c.Partitions, err = strconv.Atoi(get("IDLINK_PARTITIONS", "6")); err != nil || c.Partitions < 1 {
		return nil, fmt.Errorf("IDLINK_PARTITIONS must be a positive integer, got %q", get("IDLINK_PARTITIONS", ""))
	}
	if c.Timeout, err = time.ParseDuration(get("IDLINK_TIMEOUT", "10s")); err != nil || c.Timeout <= 0 {
		return nil, fmt.Errorf("IDLINK_TIMEOUT must be a positive duration such as 10s, got %q", get("IDLINK_TIMEOUT", ""))
	}
	if len(c.KafkaBrokers) == 0 {
		return nil, errors.New("KAFKA_BROKERS is empty: set it to host:port[,host:port]")
	}
	if err := c.loadTLS(get); err != nil {
		return nil, err
	}
	switch c.KafkaMechanism {
	case "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		return nil, fmt.Errorf("KAFKA_SASL_MECHANISM must be SCRAM-SHA-256 or SCRAM-SHA-512, got %q", c.KafkaMechanism)
	}
	return c, nil
}

// RequireKey fails with a message naming the fix when no pseudonym key is set.
func (c *Config) RequireKey() error {
	if len(c.PseudonymKey) < 16 {
		return errors.New("IDLINK_PSEUDONYM_KEY is not set (or shorter than 16 bytes): set it to a secret of at least 32 hex characters, or run `make up`, which writes one to " + EnvFile)
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// findEnvFile returns the nearest .stack/idlink.env at or above the working
// directory, or "".
func findEnvFile() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, EnvFile)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// readEnvFile parses KEY=VALUE lines; blank lines and # comments are skipped
// and optional surrounding quotes are removed.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		m[strings.TrimSpace(k)] = v
	}
	return m, sc.Err()
}
