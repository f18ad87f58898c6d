package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAgencyCredentials(t *testing.T) {
	file := filepath.Join(t.TempDir(), "idlink.env")
	if err := os.WriteFile(file, []byte("KAFKA_SASL_USERNAME=idlink\nKAFKA_SASL_PASSWORD=pw\n"+
		"KAFKA_SASL_USERNAME_MPS=agency-mps\nKAFKA_SASL_PASSWORD_MPS=mps-pw\n"+
		"KAFKA_SASL_USERNAME_CONSUMER=consumer\nKAFKA_SASL_PASSWORD_CONSUMER=c-pw\n"+
		"CLICKHOUSE_ANALYST_USER=analyst\nCLICKHOUSE_ANALYST_PASSWORD=a-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"IDLINK_ENV_FILE": file, "KAFKA_SASL_USERNAME_NHSA": "agency-nhsa", "KAFKA_SASL_PASSWORD_NHSA": "nhsa-pw"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c, err := LoadConfig(lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Credential{"mps": {"agency-mps", "mps-pw"}, "nhsa": {"agency-nhsa", "nhsa-pw"}}
	if len(c.AgencyCredentials) != len(want) || c.AgencyCredentials["mps"] != want["mps"] || c.AgencyCredentials["nhsa"] != want["nhsa"] {
		t.Fatalf("AgencyCredentials %+v, want %+v", c.AgencyCredentials, want)
	}
	if c.ConsumerCredential != (Credential{"consumer", "c-pw"}) || c.ClickHouseAnalystUser != "analyst" || c.ClickHouseAnalystPassword != "a-pw" {
		t.Fatalf("consumer %+v, analyst %s/%s", c.ConsumerCredential, c.ClickHouseAnalystUser, c.ClickHouseAnalystPassword)
	}
	for _, a := range []string{"mps", "nia"} { // own credential, generic fallback
		tr, err := c.AgencyTransport(a)
		if err != nil || tr.SASL == nil {
			t.Fatalf("AgencyTransport(%s): %v, %v", a, tr, err)
		}
	}
	// KAFKA_SASL_AGENCY_PREFIXES limits the agency users to the topic
	// prefixes their ACLs name (an empty entry: no prefix).
	if c.AgencyPrefixes != nil {
		t.Fatalf("AgencyPrefixes %q without KAFKA_SASL_AGENCY_PREFIXES", c.AgencyPrefixes)
	}
	env["KAFKA_SASL_AGENCY_PREFIXES"] = ",demo."
	if c, err = LoadConfig(lookup); err != nil {
		t.Fatal(err)
	}
	for prefix, want := range map[string]bool{"": true, "demo.": true, "t1234.": false} {
		c.TopicPrefix = prefix
		if _, ok := c.AgencyCredential("mps"); ok != want {
			t.Errorf("AgencyCredential(mps) under prefix %q: %v, want %v", prefix, ok, want)
		}
	}
	c.TopicPrefix = ""
	cc := c.WithKafkaCredential(c.ConsumerCredential)
	if cc.KafkaUsername != "consumer" || cc.KafkaPassword != "c-pw" || c.KafkaUsername != "idlink" {
		t.Fatalf("WithKafkaCredential: %s (original %s)", cc.KafkaUsername, c.KafkaUsername)
	}
	if c.WithKafkaCredential(Credential{}) != c {
		t.Fatal("WithKafkaCredential of no credential changed the config")
	}

	// Without any credential: no SASL at all.
	empty := filepath.Join(t.TempDir(), "empty.env")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env = map[string]string{"IDLINK_ENV_FILE": empty}
	if c, err = LoadConfig(lookup); err != nil || c.AgencyCredentials != nil {
		t.Fatalf("no credentials: %+v, %v", c.AgencyCredentials, err)
	}
	if tr, err := c.AgencyTransport("mps"); err != nil || tr.SASL != nil {
		t.Fatalf("AgencyTransport without credentials: %v, %v", tr.SASL, err)
	}

	// A password without a user is a mistake.
	env = map[string]string{"IDLINK_ENV_FILE": empty, "KAFKA_SASL_PASSWORD_MOT": "x"}
	if _, err := LoadConfig(lookup); err == nil || !strings.Contains(err.Error(), "KAFKA_SASL_USERNAME_MOT") {
		t.Fatalf("password without user: %v", err)
	}
}

func TestRedisPasswordNotInMessages(t *testing.T) {
	for _, u := range []string{"redis://idlink:s3cret@127.0.0.1:1/0", "redis://idlink:s3cret@127.0.0.1:1/0?addr=127.0.0.1:2", "redis://idlink:s3cret@[::1/0"} {
		c := &Config{RedisURL: u, Timeout: time.Second}
		rdb, err := c.Redis()
		if err == nil {
			err = c.PingRedis(context.Background(), rdb)
			rdb.Close()
		}
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("REDIS_URL %s: error %v", u, err)
		}
	}
}
