package stacktest

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/idlink/idlink/pipeline"
)

// CAFile returns the local stack's CA certificate: the file idlink.env names
// for every service (KAFKA_TLS_CA_FILE, REDIS_TLS_CA_FILE,
// CLICKHOUSE_TLS_CA_FILE). It fails the test when the services are not all
// on TLS with that one CA.
func CAFile(t testing.TB, cfg *pipeline.Config) string {
	t.Helper()
	ca := cfg.KafkaTLS.CAFile
	for _, l := range []struct {
		name string
		tls  pipeline.TLS
	}{{"KAFKA_TLS", cfg.KafkaTLS}, {"REDIS_TLS", cfg.RedisTLS}, {"CLICKHOUSE_TLS", cfg.ClickHouseTLS}} {
		if !l.tls.On() || l.tls.CAFile == "" || l.tls.CAFile != ca {
			t.Fatalf("%s_CA_FILE=%q, KAFKA_TLS_CA_FILE=%q: the local stack's services are not all on TLS with its CA; run `make up`, which moves the stack to TLS and writes them to %s",
				l.name, l.tls.CAFile, ca, pipeline.EnvFile)
		}
	}
	return ca
}

// CAPool returns a pool holding only the local stack's CA (CAFile).
func CAPool(t testing.TB, cfg *pipeline.Config) *x509.CertPool {
	t.Helper()
	b, err := os.ReadFile(CAFile(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("%s holds no PEM certificate", CAFile(t, cfg))
	}
	return pool
}

// HTTPClient returns an HTTP client that trusts only the local stack's CA.
func HTTPClient(t testing.TB, cfg *pipeline.Config) *http.Client {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: CAPool(t, cfg), MinVersion: tls.VersionTLS12}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: time.Minute}
}

// CheckStackCertificate checks that the HTTPS server at rawURL answers with
// a certificate for its host from the local stack's CA: a client that trusts
// only that CA accepts it, and one with the system's roots instead refuses
// it as signed by an unknown authority.
func CheckStackCertificate(t testing.TB, cfg *pipeline.Config, rawURL string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", u.Host, &tls.Config{RootCAs: CAPool(t, cfg)})
	if err != nil {
		t.Fatalf("TLS to %s with the stack's CA: %v", u.Host, err)
	}
	chain := conn.ConnectionState().VerifiedChains
	conn.Close()
	if len(chain) == 0 || len(chain[0]) < 2 {
		t.Fatalf("TLS to %s: no chain to the stack's CA", u.Host)
	}
	_, err = tls.DialWithDialer(d, "tcp", u.Host, &tls.Config{})
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("TLS to %s without the stack's CA: want x509.UnknownAuthorityError, got %v", u.Host, err)
	}
}
