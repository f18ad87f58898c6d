package pipeline

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"
)

// TLS is one link's TLS settings: the PEM files the environment names and
// the *tls.Config built from them. Config is nil when the link is plaintext.
// A client Config verifies the server's certificate and name against CAFile
// (the system's roots when CAFile is empty) and never skips that check; it
// presents CertFile and KeyFile when they are set (mutual TLS). A server
// Config (IDLINK_TLS_*) serves CertFile and KeyFile.
type TLS struct {
	CAFile, CertFile, KeyFile string
	Config                    *tls.Config
}

// On reports whether the link uses TLS.
func (t TLS) On() bool { return t.Config != nil }

// tlsVars names the variables of one link's TLS files, for errors.
type tlsVars struct{ ca, cert, key string }

func varsOf(prefix string) tlsVars {
	return tlsVars{prefix + "_CA_FILE", prefix + "_CERT_FILE", prefix + "_KEY_FILE"}
}

// clientTLS builds a client link's settings from its files (t.CAFile,
// t.CertFile, t.KeyFile), when on. Off, it fails if a file is named anyway:
// offName says how to turn TLS on.
func clientTLS(on bool, t TLS, v tlsVars, offName string) (TLS, error) {
	if !on {
		for _, f := range []struct{ name, value string }{{v.ca, t.CAFile}, {v.cert, t.CertFile}, {v.key, t.KeyFile}} {
			if f.value != "" {
				return t, fmt.Errorf("%s is set but TLS is off for that link: %s, or unset %s", f.name, offName, f.name)
			}
		}
		return t, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pool, err := loadCAs(v.ca, t.CAFile)
		if err != nil {
			return t, err
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		cert, err := loadKeyPair(v, t)
		if err != nil {
			return t, err
		}
		c.Certificates = []tls.Certificate{cert}
	}
	t.Config = c
	return t, nil
}

// serverTLS builds a server's settings from t.CertFile and t.KeyFile; none
// set means no TLS.
func serverTLS(t TLS, v tlsVars) (TLS, error) {
	if t.CertFile == "" && t.KeyFile == "" {
		return t, nil
	}
	cert, err := loadKeyPair(v, t)
	if err != nil {
		return t, err
	}
	t.Config = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	return t, nil
}

// loadCAs reads every certificate of a PEM file into a pool; a file with no
// certificate, or with anything else, fails naming the variable.
func loadCAs(variable, path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s=%s: %w", variable, path, err)
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s=%s holds a PEM %q block: want only CERTIFICATE blocks (CA certificates)", variable, path, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s=%s: certificate %d: %w", variable, path, n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s=%s holds no PEM certificate", variable, path)
	}
	return pool, nil
}

// loadKeyPair reads a certificate and its key; both must be set, match and
// the certificate must be valid now.
func loadKeyPair(v tlsVars, t TLS) (tls.Certificate, error) {
	if t.CertFile == "" || t.KeyFile == "" {
		return tls.Certificate{}, fmt.Errorf("%s and %s must be set together (a certificate and its private key), got %s=%q and %s=%q",
			v.cert, v.key, v.cert, t.CertFile, v.key, t.KeyFile)
	}
	for _, f := range []struct{ name, path string }{{v.cert, t.CertFile}, {v.key, t.KeyFile}} {
		if _, err := os.Stat(f.path); err != nil {
			return tls.Certificate{}, fmt.Errorf("%s=%s: %w", f.name, f.path, err)
		}
	}
	cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s=%s and %s=%s are not a PEM certificate and its private key: %w", v.cert, t.CertFile, v.key, t.KeyFile, err)
	}
	if now := time.Now(); now.After(cert.Leaf.NotAfter) || now.Before(cert.Leaf.NotBefore) {
		return tls.Certificate{}, fmt.Errorf("%s=%s is valid from %s to %s only, not now", v.cert, t.CertFile,
			cert.Leaf.NotBefore.UTC().Format(time.RFC3339), cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return cert, nil
}

// loadTLS reads every link's TLS settings (see the README's configuration
// table) into c.
func (c *Config) loadTLS(get func(k, def string) string) error {
	files := func(prefix string) TLS {
		return TLS{CAFile: get(prefix+"_CA_FILE", ""), CertFile: get(prefix+"_CERT_FILE", ""), KeyFile: get(prefix+"_KEY_FILE", "")}
	}
	boolVar := func(name string, def bool) (bool, error) {
		switch v := get(name, ""); v {
		case "":
			return def, nil
		case "true":
			return true, nil
		case "false":
			return false, nil
		default:
			return false, fmt.Errorf("%s must be true or false, got %q", name, v)
		}
	}
	var err error
	kafka := files("KAFKA_TLS")
	on, err := boolVar("KAFKA_TLS", kafka.CAFile != "" || kafka.CertFile != "" || kafka.KeyFile != "")
	if err != nil {
		return err
	}
	if c.KafkaTLS, err = clientTLS(on, kafka, varsOf("KAFKA_TLS"), "set KAFKA_TLS=true"); err != nil {
		return err
	}

	u, err := url.Parse(c.RedisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL %q is not a valid URL: %w", redactedURL(c.RedisURL), c.redactErr(err))
	}
	if u.Query().Has("skip_verify") {
		return fmt.Errorf("REDIS_URL %q asks to skip verifying the server's certificate (skip_verify): idlink always verifies it; remove skip_verify and set REDIS_TLS_CA_FILE to the server's CA", redactedURL(c.RedisURL))
	}
	if c.RedisTLS, err = clientTLS(u.Scheme == "rediss", files("REDIS_TLS"), varsOf("REDIS_TLS"), "use a rediss:// REDIS_URL"); err != nil {
		return err
	}

	on, err = boolVar("CLICKHOUSE_SECURE", false)
	if err != nil {
		return err
	}
	if c.ClickHouseTLS, err = clientTLS(on, files("CLICKHOUSE_TLS"), varsOf("CLICKHOUSE_TLS"), "set CLICKHOUSE_SECURE=true"); err != nil {
		return err
	}

	c.HTTPTLS, err = serverTLS(files("IDLINK_TLS"), varsOf("IDLINK_TLS"))
	return err
}

// TLSEnv returns the variables (KAFKA_TLS, CLICKHOUSE_SECURE and the *_FILE
// ones) that give a child idlink process c's TLS settings; REDIS_URL's scheme
// carries Redis's.
func (c *Config) TLSEnv() []string {
	var env []string
	add := func(prefix string, t TLS) {
		for _, kv := range [][2]string{{"_CA_FILE", t.CAFile}, {"_CERT_FILE", t.CertFile}, {"_KEY_FILE", t.KeyFile}} {
			if kv[1] != "" {
				env = append(env, prefix+kv[0]+"="+kv[1])
			}
		}
	}
	env = append(env, fmt.Sprintf("KAFKA_TLS=%t", c.KafkaTLS.On()), fmt.Sprintf("CLICKHOUSE_SECURE=%t", c.ClickHouseTLS.On()))
	add("KAFKA_TLS", c.KafkaTLS)
	add("REDIS_TLS", c.RedisTLS)
	add("CLICKHOUSE_TLS", c.ClickHouseTLS)
	add("IDLINK_TLS", c.HTTPTLS)
	return env
}

// HTTPScheme is "https" when idlink's HTTP server uses TLS
// (IDLINK_TLS_CERT_FILE, IDLINK_TLS_KEY_FILE), else "http".
func (c *Config) HTTPScheme() string {
	if c.HTTPTLS.On() {
		return "https"
	}
	return "http"
}

// ServeHTTP serves srv on ln until srv is shut down or closed, over TLS with
// IDLINK_TLS_CERT_FILE and IDLINK_TLS_KEY_FILE when they are set, else in
// plain HTTP. Like http.Server.Serve it returns http.ErrServerClosed after
// Shutdown or Close.
func (c *Config) ServeHTTP(srv *http.Server, ln net.Listener) error {
	if !c.HTTPTLS.On() {
		return srv.Serve(ln)
	}
	srv.TLSConfig = c.HTTPTLS.Config.Clone()
	return srv.ServeTLS(ln, "", "")
}

// TLSError adds what to check to a failed TLS handshake with a service:
// link names it (Kafka at KAFKA_BROKERS=...), prefix its variables
// (KAFKA_TLS). Other errors are returned as they are.
func TLSError(err error, link, prefix string) error {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	var rec tls.RecordHeaderError
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("%s presented a certificate from an authority idlink does not trust: %w: set %s_CA_FILE to the CA that signed it", link, err, prefix)
	case errors.As(err, &host):
		return fmt.Errorf("%s presented a certificate for another name: %w: connect with a host name its certificate names", link, err)
	case errors.As(err, &invalid):
		return fmt.Errorf("%s presented a certificate idlink cannot accept: %w", link, err)
	case errors.As(err, &rec):
		return fmt.Errorf("%s does not speak TLS on that port: %w: point idlink at the service's TLS port, or turn TLS off for that link", link, err)
	}
	return err
}
