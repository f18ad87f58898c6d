package pipeline_test

// TLS of the local stack (compose/lib.sh, tls_setup): every service answers
// only TLS clients that trust the stack's CA and verify its name, and an
// agency's client certificate is its Kafka user on the mutual-TLS listener.

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/pipeline"
)

// stackTLS loads the local stack's configuration and fails unless every
// service is on TLS with one CA; it returns the configuration and the
// stack's TLS directory (where tls_setup keeps the CA and certificates).
func stackTLS(t *testing.T) (*pipeline.Config, string) {
	t.Helper()
	cfg := secured(t)
	ca := cfg.KafkaTLS.CAFile
	for name, l := range map[string]pipeline.TLS{"KAFKA_TLS": cfg.KafkaTLS, "REDIS_TLS": cfg.RedisTLS, "CLICKHOUSE_TLS": cfg.ClickHouseTLS} {
		if !l.On() || l.CAFile == "" || l.CAFile != ca {
			t.Fatalf("%s_CA_FILE=%q (KAFKA_TLS_CA_FILE=%q): the local stack is not on TLS with one CA; `make up` moves it there and writes its settings to %s",
				name, l.CAFile, ca, pipeline.EnvFile)
		}
	}
	return cfg, filepath.Dir(ca)
}

// withLookup loads the configuration with overrides on top of the
// environment (and so of the stack's env file).
func withLookup(t *testing.T, overrides map[string]string) *pipeline.Config {
	t.Helper()
	cfg, err := pipeline.LoadConfig(func(k string) (string, bool) {
		if v, ok := overrides[k]; ok {
			return v, true
		}
		return os.LookupEnv(k)
	})
	if err != nil {
		t.Fatalf("loading configuration with %v: %v", overrides, err)
	}
	return cfg
}

// otherCA writes a CA certificate unrelated to the stack's to a file and
// returns its path.
func otherCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not the stack's CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "other-ca.crt")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// services are the three links, each tried by connect with cfg's settings.
var services = []struct {
	name    string
	caVar   string
	connect func(ctx context.Context, cfg *pipeline.Config) error
}{
	{"kafka", "KAFKA_TLS_CA_FILE", func(ctx context.Context, cfg *pipeline.Config) error {
		return cfg.EnsureTopics(ctx)
	}},
	{"redis", "REDIS_TLS_CA_FILE", func(ctx context.Context, cfg *pipeline.Config) error {
		rdb, err := cfg.Redis()
		if err != nil {
			return err
		}
		defer rdb.Close()
		return cfg.PingRedis(ctx, rdb)
	}},
	{"clickhouse", "CLICKHOUSE_TLS_CA_FILE", func(ctx context.Context, cfg *pipeline.Config) error {
		s, err := analytics.OpenReports(ctx, cfg)
		if err == nil {
			s.Close()
		}
		return err
	}},
}

// TestTLSRefusesUntrustedServers: each service is reached with the stack's
// configuration; a client trusting another CA than the stack's, or
// verifying another server name, refuses each of them, and the error names
// what to set.
func TestTLSRefusesUntrustedServers(t *testing.T) {
	cfg, _ := stackTLS(t)
	wrongCA := otherCA(t)
	for _, svc := range services {
		t.Run(svc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			if err := svc.connect(ctx, cfg); err != nil {
				t.Fatalf("with the stack's CA: %v", err)
			}

			c := withLookup(t, map[string]string{svc.caVar: wrongCA})
			err := svc.connect(ctx, c)
			var unknown x509.UnknownAuthorityError
			if !errors.As(err, &unknown) || !strings.Contains(err.Error(), strings.TrimSuffix(svc.caVar, "_CA_FILE")+"_CA_FILE") {
				t.Errorf("trusting another CA: want x509.UnknownAuthorityError naming %s, got %v", svc.caVar, err)
			}

			c = withLookup(t, nil)
			for _, l := range []*pipeline.TLS{&c.KafkaTLS, &c.RedisTLS, &c.ClickHouseTLS} {
				l.Config = l.Config.Clone()
				l.Config.ServerName = "wrong.idlink.invalid"
			}
			err = svc.connect(ctx, c)
			var host x509.HostnameError
			if !errors.As(err, &host) {
				t.Errorf("verifying the name wrong.idlink.invalid: want x509.HostnameError, got %v", err)
			}
		})
	}
}

// TestTLSOnly: on a TLS port, plaintext clients get nothing: a Kafka
// client without TLS gets no metadata, Redis and ClickHouse drop the
// connection, and Redis refuses a TLS client without a client certificate.
func TestTLSOnly(t *testing.T) {
	cfg, dir := stackTLS(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for _, svc := range services {
		c := *cfg
		c.KafkaTLS.Config, c.ClickHouseTLS.Config = nil, nil
		c.RedisURL = "redis" + strings.TrimPrefix(cfg.RedisURL, "rediss")
		c.RedisTLS.Config = nil
		c.Timeout = 5 * time.Second
		if err := svc.connect(ctx, &c); err == nil {
			t.Errorf("%s: a plaintext client got an answer from the TLS port", svc.name)
		}
	}
	// Redis requires a client certificate from the stack's CA (tls-auth-clients).
	c := *cfg
	c.RedisTLS.Config = c.RedisTLS.Config.Clone()
	c.RedisTLS.Config.Certificates = nil
	if err := services[1].connect(ctx, &c); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("redis without a client certificate: want a TLS certificate error, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "idlink.crt")); err != nil {
		t.Errorf("idlink's client certificate: %v", err)
	}
}

// TestAgencyCertificateACLs: on Kafka's mutual-TLS listener an agency's
// client certificate (CN=agency-<agency>) is the Kafka user agency-<agency>:
// it may write its own topic and the dead-letter topic, and no other
// agency's topic. Without a certificate, or with one from another CA, the
// broker lets nothing through.
func TestAgencyCertificateACLs(t *testing.T) {
	_, dir := stackTLS(t)
	mtls := net.JoinHostPort("127.0.0.1", stackPort(t, filepath.Dir(dir), "KAFKA_MTLS_PORT"))
	as := func(agency string) *pipeline.Config {
		c := withLookup(t, map[string]string{
			"KAFKA_TLS_CERT_FILE": filepath.Join(dir, "agency-"+agency+".crt"),
			"KAFKA_TLS_KEY_FILE":  filepath.Join(dir, "agency-"+agency+".key"),
		})
		c.KafkaBrokers = []string{mtls}
		return c
	}
	none := pipeline.Credential{} // the certificate is the identity
	for _, a := range pipeline.Agencies() {
		c := as(a)
		if err := produce(t, c, none, "events.deadletter", nowhere); !errors.Is(err, kafka.UnknownTopicOrPartition) {
			t.Errorf("%s's certificate writing events.deadletter: want it authorized (UnknownTopicOrPartition), got %v", a, err)
		}
		for _, b := range pipeline.Agencies() {
			err := produce(t, c, none, "events."+b, nowhere)
			if a == b && !errors.Is(err, kafka.UnknownTopicOrPartition) {
				t.Errorf("%s's certificate writing its own topic: want it authorized (UnknownTopicOrPartition), got %v", a, err)
			}
			if a != b && !errors.Is(err, kafka.TopicAuthorizationFailed) {
				t.Errorf("%s's certificate writing events.%s: want TopicAuthorizationFailed, got %v", a, b, err)
			}
		}
		if err := produce(t, c, none, "identity.changes", 0); !errors.Is(err, kafka.TopicAuthorizationFailed) {
			t.Errorf("%s's certificate writing identity.changes: want TopicAuthorizationFailed, got %v", a, err)
		}
	}

	// No client certificate: the handshake fails.
	c := withLookup(t, nil)
	c.KafkaBrokers = []string{mtls}
	if err := produce(t, c, none, "events.mps", 0); err == nil {
		t.Error("writing on the mutual-TLS listener without a client certificate succeeded")
	}
	// A certificate from another CA: refused too.
	foreign := selfSigned(t, "agency-mps")
	c = withLookup(t, map[string]string{"KAFKA_TLS_CERT_FILE": foreign + ".crt", "KAFKA_TLS_KEY_FILE": foreign + ".key"})
	c.KafkaBrokers = []string{mtls}
	if err := produce(t, c, none, "events.mps", nowhere); err == nil || errors.Is(err, kafka.UnknownTopicOrPartition) {
		t.Errorf("a self-signed CN=agency-mps certificate: want the connection refused, got %v", err)
	}
}

// stackPort reads one port of the stack from its ports file (compose/lib.sh).
func stackPort(t *testing.T, stackDir, name string) string {
	t.Helper()
	f, err := os.Open(filepath.Join(stackDir, "ports"))
	if err != nil {
		t.Fatalf("the stack's ports: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+"="); ok {
			return v
		}
	}
	t.Fatalf("%s/ports has no %s: run `make up`", stackDir, name)
	return ""
}

// selfSigned writes a self-signed client certificate for cn to
// <returned>.crt and <returned>.key.
func selfSigned(t *testing.T, cn string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(t.TempDir(), cn)
	if err := os.WriteFile(base+".crt", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(base+".key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return base
}

// TestClickHouseHTTPSOnly: the stack's ClickHouse HTTP port speaks HTTPS
// only, with the stack's certificate.
func TestClickHouseHTTPSOnly(t *testing.T) {
	cfg, dir := stackTLS(t)
	port := stackPort(t, filepath.Dir(dir), "CLICKHOUSE_HTTP_PORT")
	addr := net.JoinHostPort("127.0.0.1", port)
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, tlsFor(cfg.ClickHouseTLS, addr))
	if err != nil {
		t.Fatalf("TLS to ClickHouse's HTTP port %s: %v", addr, err)
	}
	conn.Close()
}
