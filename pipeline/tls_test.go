package pipeline

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate valid from notBefore to
// notAfter and its key to dir/name.crt and dir/name.key.
func writeCert(t *testing.T, dir, name string, notBefore, notAfter time.Time) (crt, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: notBefore, NotAfter: notAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	crt, key = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(crt, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return crt, key
}

func TestLoadTLS(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	crt, key := writeCert(t, dir, "good", now.Add(-time.Hour), now.Add(time.Hour))
	oldCrt, oldKey := writeCert(t, dir, "old", now.Add(-2*time.Hour), now.Add(-time.Hour))
	_, otherKey := writeCert(t, dir, "other", now.Add(-time.Hour), now.Add(time.Hour))
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.crt")
	empty := filepath.Join(dir, "idlink.env")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		check   func(*Config) string
		wantErr []string // substrings of the error
	}{
		{"plaintext by default", nil, func(c *Config) string {
			if c.KafkaTLS.On() || c.RedisTLS.On() || c.ClickHouseTLS.On() || c.HTTPTLS.On() || c.HTTPScheme() != "http" {
				return "TLS on without any setting"
			}
			return ""
		}, nil},
		{"every link on TLS", map[string]string{
			"KAFKA_TLS_CA_FILE": crt, "KAFKA_TLS_CERT_FILE": crt, "KAFKA_TLS_KEY_FILE": key,
			"REDIS_URL": "rediss://u:p@127.0.0.1:6379/0", "REDIS_TLS_CA_FILE": crt,
			"CLICKHOUSE_SECURE": "true", "CLICKHOUSE_TLS_CA_FILE": crt,
			"IDLINK_TLS_CERT_FILE": crt, "IDLINK_TLS_KEY_FILE": key,
		}, func(c *Config) string {
			if !c.KafkaTLS.On() || c.KafkaTLS.Config.RootCAs == nil || len(c.KafkaTLS.Config.Certificates) != 1 {
				return "Kafka TLS not set up from its files"
			}
			if !c.RedisTLS.On() || c.RedisTLS.Config.RootCAs == nil || !c.ClickHouseTLS.On() || c.ClickHouseTLS.Config.RootCAs == nil {
				return "Redis or ClickHouse TLS not set up from their files"
			}
			if c.HTTPScheme() != "https" || len(c.HTTPTLS.Config.Certificates) != 1 {
				return "HTTP TLS not set up"
			}
			for _, l := range []TLS{c.KafkaTLS, c.RedisTLS, c.ClickHouseTLS, c.HTTPTLS} {
				if l.Config.InsecureSkipVerify {
					return "verification skipped"
				}
			}
			return ""
		}, nil},
		{"system roots", map[string]string{"KAFKA_TLS": "true", "REDIS_URL": "rediss://127.0.0.1:6379/0", "CLICKHOUSE_SECURE": "true"}, func(c *Config) string {
			if !c.KafkaTLS.On() || c.KafkaTLS.Config.RootCAs != nil || !c.RedisTLS.On() || !c.ClickHouseTLS.On() {
				return "TLS with the system's roots not on"
			}
			return ""
		}, nil},
		{"missing CA file", map[string]string{"KAFKA_TLS_CA_FILE": missing}, nil, []string{"KAFKA_TLS_CA_FILE=" + missing, "no such file"}},
		{"CA file without a certificate", map[string]string{"KAFKA_TLS": "true", "KAFKA_TLS_CA_FILE": garbage}, nil, []string{"KAFKA_TLS_CA_FILE", "no PEM certificate"}},
		{"a key in the CA file", map[string]string{"CLICKHOUSE_SECURE": "true", "CLICKHOUSE_TLS_CA_FILE": key}, nil, []string{"CLICKHOUSE_TLS_CA_FILE", `"PRIVATE KEY"`}},
		{"certificate without key", map[string]string{"KAFKA_TLS_CERT_FILE": crt}, nil, []string{"KAFKA_TLS_CERT_FILE and KAFKA_TLS_KEY_FILE must be set together"}},
		{"key of another certificate", map[string]string{"REDIS_URL": "rediss://127.0.0.1:6379/0", "REDIS_TLS_CERT_FILE": crt, "REDIS_TLS_KEY_FILE": otherKey}, nil, []string{"REDIS_TLS_CERT_FILE=" + crt, "REDIS_TLS_KEY_FILE=" + otherKey}},
		{"expired certificate", map[string]string{"IDLINK_TLS_CERT_FILE": oldCrt, "IDLINK_TLS_KEY_FILE": oldKey}, nil, []string{"IDLINK_TLS_CERT_FILE=" + oldCrt, "not now"}},
		{"missing key file", map[string]string{"IDLINK_TLS_CERT_FILE": crt, "IDLINK_TLS_KEY_FILE": missing}, nil, []string{"IDLINK_TLS_KEY_FILE=" + missing}},
		{"Redis files with redis://", map[string]string{"REDIS_TLS_CA_FILE": crt}, nil, []string{"REDIS_TLS_CA_FILE is set", "rediss://"}},
		{"Redis skip_verify", map[string]string{"REDIS_URL": "rediss://u:secret@127.0.0.1:6379/0?skip_verify=true"}, nil, []string{"skip_verify", "xxxxx"}},
		{"ClickHouse CA without CLICKHOUSE_SECURE", map[string]string{"CLICKHOUSE_TLS_CA_FILE": crt}, nil, []string{"CLICKHOUSE_TLS_CA_FILE is set", "CLICKHOUSE_SECURE=true"}},
		{"KAFKA_TLS=false with a CA", map[string]string{"KAFKA_TLS": "false", "KAFKA_TLS_CA_FILE": crt}, nil, []string{"KAFKA_TLS_CA_FILE is set", "KAFKA_TLS=true"}},
		{"bad KAFKA_TLS", map[string]string{"KAFKA_TLS": "yes"}, nil, []string{"KAFKA_TLS must be true or false"}},
		{"bad CLICKHOUSE_SECURE", map[string]string{"CLICKHOUSE_SECURE": "1"}, nil, []string{"CLICKHOUSE_SECURE must be true or false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"IDLINK_ENV_FILE": empty}
			for k, v := range tt.env {
				env[k] = v
			}
			c, err := LoadConfig(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("want an error mentioning %q, got none", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error %q shows a password", err)
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
