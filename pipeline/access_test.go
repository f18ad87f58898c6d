package pipeline_test

// Access control of the local stack (compose/lib.sh): Kafka SASL/SCRAM users
// with ACLs, the Redis ACL user, the ClickHouse users. These tests use the
// credentials `make up` writes to .stack/idlink.env (or IDLINK_ENV_FILE) and
// the real topic names; they write nothing to the real topics.

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/pipeline"
)

// secured loads the local stack's configuration and fails unless it has
// access control.
func secured(t *testing.T) *pipeline.Config {
	t.Helper()
	cfg, err := pipeline.LoadConfig(os.LookupEnv)
	if err != nil {
		t.Fatalf("loading configuration: %v", err)
	}
	if cfg.KafkaUsername == "" || len(cfg.AgencyCredentials) != len(pipeline.Agencies()) || cfg.ConsumerCredential.Username == "" {
		t.Fatalf("no Kafka users in the configuration (KAFKA_SASL_USERNAME, KAFKA_SASL_USERNAME_<AGENCY>, KAFKA_SASL_USERNAME_CONSUMER): "+
			"the local stack predates access control; run `make reset && make up`, which writes them to %s", pipeline.EnvFile)
	}
	return cfg
}

// produce sends one record to topic/partition straight to the (single)
// broker as cr (none if zero; TLS as cfg says) and returns the broker's answer. It does no
// metadata look-up, so the broker itself decides: it checks the user's WRITE
// right on the topic first (TopicAuthorizationFailed) and only then whether
// the partition exists (UnknownTopicOrPartition). A partition that does not
// exist thus tells "allowed" from "denied" without writing anything.
func produce(t *testing.T, cfg *pipeline.Config, cr pipeline.Credential, topic string, partition int) error {
	t.Helper()
	c := *cfg
	c.KafkaUsername, c.KafkaPassword = cr.Username, cr.Password
	d, err := c.Dialer()
	if err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(cfg.KafkaBrokers[0])
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := d.DialPartition(ctx, "tcp", "", kafka.Partition{Topic: topic, ID: partition, Leader: kafka.Broker{Host: host, Port: p}})
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = conn.WriteMessages(kafka.Message{Value: []byte("access-control test record")})
	return err
}

// nowhere is a partition number no topic has.
const nowhere = 99999

func TestCrossAgencyWriteDenied(t *testing.T) {
	cfg := secured(t)
	mps := cfg.AgencyCredentials["mps"]

	// Allowed: mps's own topic passes the authorization check (and then
	// fails only for the partition that does not exist) ...
	if err := produce(t, cfg, mps, "events.mps", nowhere); !errors.Is(err, kafka.UnknownTopicOrPartition) {
		t.Fatalf("mps writing events.mps: want UnknownTopicOrPartition (authorized; the partition does not exist), got %v", err)
	}
	// ... and the dead-letter topic too (bad events must reach it).
	if err := produce(t, cfg, mps, "events.deadletter", nowhere); !errors.Is(err, kafka.UnknownTopicOrPartition) {
		t.Fatalf("mps writing events.deadletter: want UnknownTopicOrPartition (authorized), got %v", err)
	}
	// Denied: another agency's topic, a real partition or not, and the
	// consumers' topic.
	for _, tc := range []struct {
		topic     string
		partition int
	}{{"events.nhsa", 0}, {"events.nhsa", nowhere}, {"events.platform", 0}, {"identity.changes", 0}} {
		if err := produce(t, cfg, mps, tc.topic, tc.partition); !errors.Is(err, kafka.TopicAuthorizationFailed) {
			t.Errorf("mps writing %s/%d: want TopicAuthorizationFailed, got %v", tc.topic, tc.partition, err)
		}
	}
	// Every agency may write its own topic and no other's.
	for _, a := range pipeline.Agencies() {
		for _, b := range pipeline.Agencies() {
			err := produce(t, cfg, cfg.AgencyCredentials[a], "events."+b, nowhere)
			if a == b && !errors.Is(err, kafka.UnknownTopicOrPartition) {
				t.Errorf("%s writing its own topic: want it authorized, got %v", a, err)
			}
			if a != b && !errors.Is(err, kafka.TopicAuthorizationFailed) {
				t.Errorf("%s writing events.%s: want TopicAuthorizationFailed, got %v", a, b, err)
			}
		}
	}
	// No credential at all, or a wrong password: no access.
	if err := produce(t, cfg, pipeline.Credential{}, "events.mps", 0); err == nil {
		t.Error("writing events.mps without a credential succeeded")
	}
	wrong := pipeline.Credential{Username: mps.Username, Password: mps.Password + "x"}
	if err := produce(t, cfg, wrong, "events.mps", 0); !errors.Is(err, kafka.SASLAuthenticationFailed) {
		t.Errorf("writing with a wrong password: want SASLAuthenticationFailed, got %v", err)
	}
}

func TestConsumerCredential(t *testing.T) {
	cfg := secured(t)
	consumer := cfg.ConsumerCredential
	for topic, want := range map[string]error{
		"identity.changes":  kafka.UnknownTopicOrPartition, // authorized
		"events.deadletter": kafka.UnknownTopicOrPartition, // authorized
		"events.mps":        kafka.TopicAuthorizationFailed,
	} {
		if err := produce(t, cfg, consumer, topic, nowhere); !errors.Is(err, want) {
			t.Errorf("consumer writing %s: want %v, got %v", topic, want, err)
		}
	}
	// Reading: consumer yes, an agency no.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	offsets := func(cr pipeline.Credential, group string) error {
		c := cfg.WithKafkaCredential(cr)
		for {
			_, err := c.CommittedOffsets(ctx, group, []string{"events.mps"})
			// A new stack's first group use creates __consumer_offsets.
			if ctx.Err() == nil && (errors.Is(err, kafka.NotCoordinatorForGroup) ||
				errors.Is(err, kafka.GroupCoordinatorNotAvailable) || errors.Is(err, kafka.GroupLoadInProgress)) {
				time.Sleep(200 * time.Millisecond)
				continue
			}
			return err
		}
	}
	if err := offsets(consumer, "idlink-access-test"); err != nil {
		t.Errorf("consumer reading group idlink-access-test's offsets of events.mps: %v", err)
	}
	if err := offsets(consumer, "other-access-test"); !errors.Is(err, kafka.GroupAuthorizationFailed) {
		t.Errorf("consumer using group other-access-test: want GroupAuthorizationFailed, got %v", err)
	}
	if err := offsets(cfg.AgencyCredentials["mps"], "idlink-access-test"); !errors.Is(err, kafka.GroupAuthorizationFailed) {
		t.Errorf("mps using a consumer group: want GroupAuthorizationFailed, got %v", err)
	}
}

func TestRedisDefaultUserDisabled(t *testing.T) {
	cfg, err := pipeline.LoadConfig(os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	o, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	if o.Username == "" || o.Password == "" {
		t.Fatalf("REDIS_URL names no user: the local stack predates access control; run `make reset && make up`")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	anon := redis.NewClient(&redis.Options{Addr: o.Addr, MaxRetries: -1, TLSConfig: tlsFor(cfg.RedisTLS, o.Addr)})
	defer anon.Close()
	if err := anon.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("PING without a user: want NOAUTH, got %v", err)
	}
	if err := anon.Do(ctx, "AUTH", "default", "").Err(); err == nil {
		t.Error("AUTH as the default user succeeded")
	}

	rdb, err := cfg.Redis()
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	key := "acltest:" + randomID(t)
	if err := rdb.Set(ctx, key, "1", time.Minute).Err(); err != nil {
		t.Fatalf("idlink writing a key: %v", err)
	}
	rdb.Del(ctx, key)
	if err := rdb.Info(ctx, "memory").Err(); err != nil {
		t.Errorf("idlink reading INFO: %v", err)
	}
	// idlink may not administer the server (and so not re-enable default).
	for _, cmd := range [][]any{{"ACL", "SETUSER", "default", "on"}, {"CONFIG", "SET", "maxmemory", "1"}, {"FLUSHALL"}} {
		if err := rdb.Do(ctx, cmd...).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("idlink running %v: want NOPERM, got %v", cmd, err)
		}
	}
}

func TestClickHouseAnalystReadOnly(t *testing.T) {
	cfg, err := pipeline.LoadConfig(os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClickHouseAnalystUser == "" || cfg.ClickHouseUser == "default" {
		t.Fatalf("no ClickHouse users in the configuration (CLICKHOUSE_USER, CLICKHOUSE_ANALYST_USER): the local stack predates access control; run `make reset && make up`")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	open := func(user, password string) driver.Conn {
		conn, err := clickhouse.Open(&clickhouse.Options{
			Addr: []string{cfg.ClickHouseAddr}, Auth: clickhouse.Auth{Username: user, Password: password}, TLS: cfg.ClickHouseTLS.Config,
			DialTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}
	if err := open("default", "").Ping(ctx); err == nil {
		t.Error("the default user connected without a password")
	}
	admin := open(cfg.ClickHouseUser, cfg.ClickHousePassword)
	analyst := open(cfg.ClickHouseAnalystUser, cfg.ClickHouseAnalystPassword)
	if err := analyst.Ping(ctx); err != nil {
		t.Fatalf("analyst connecting: %v", err)
	}
	db := "test_acl_" + randomID(t)
	table := "`" + db + "`.t"
	for _, q := range []string{"CREATE DATABASE `" + db + "`", "CREATE TABLE " + table + " (n UInt32) ENGINE = MergeTree ORDER BY n"} {
		if err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() { _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS `"+db+"`") })
	insert := func(conn driver.Conn) error {
		b, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" (n)")
		if err != nil {
			return err
		}
		if err := b.Append(uint32(7)); err != nil {
			return err
		}
		return b.Send()
	}
	if err := insert(admin); err != nil {
		t.Fatalf("idlink inserting: %v", err)
	}

	var n uint64
	if err := analyst.QueryRow(ctx, "SELECT count() FROM "+table).Scan(&n); err != nil || n != 1 {
		t.Fatalf("analyst counting rows: %d, %v", n, err)
	}
	readonly := func(what string, err error) {
		t.Helper()
		var ex *clickhouse.Exception
		if !errors.As(err, &ex) || ex.Code != 164 { // READONLY
			t.Errorf("analyst %s: want exception 164 (readonly), got %v", what, err)
		}
	}
	readonly("inserting", insert(analyst))
	readonly("creating a table", analyst.Exec(ctx, "CREATE TABLE `"+db+"`.u (n UInt32) ENGINE = Memory"))
	readonly("dropping a table", analyst.Exec(ctx, "DROP TABLE "+table))
	readonly("creating a database", analyst.Exec(ctx, "CREATE DATABASE `"+db+"_x`"))
	if err := admin.QueryRow(ctx, "SELECT count() FROM "+table).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows after the analyst's attempts: %d, %v", n, err)
	}
}

func randomID(t *testing.T) string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// tlsFor is t's client config for a server at addr (host:port), with the
// server name set as the clients idlink uses set it; nil when t is off.
func tlsFor(t pipeline.TLS, addr string) *tls.Config {
	if !t.On() {
		return nil
	}
	c := t.Config.Clone()
	if c.ServerName == "" {
		c.ServerName, _, _ = net.SplitHostPort(addr)
	}
	return c
}
