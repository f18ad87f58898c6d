package verify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/consumers/identity"
	"github.com/idlink/idlink/documents"
	"github.com/idlink/idlink/internal/namespace"
	"github.com/idlink/idlink/internal/stacktest"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/producers"
	"github.com/idlink/idlink/schemas"
	"github.com/idlink/idlink/verify"
)

// env is one test's verification API on the local stack: a namespace of
// its own (stacktest.Config), the resolver's store, a key store and an
// auditor on the namespace's audit topic, and every call made through it.
type env struct {
	t     *testing.T
	ctx   context.Context
	cfg   *pipeline.Config
	codec *schemas.Codec
	rdb   redis.UniversalClient
	keys  *verify.KeyStore

	mu    sync.Mutex
	calls []call // every call answered with an Audit-Id
}

// call is one answered call, as the test saw it.
type call struct {
	auditID  string
	status   int
	endpoint string
	rp       string
	tokens   []string // of the valid documents sent
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	cfg := stacktest.Config(t)
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.EnsureTopics(ctx, cfg.Topics().All()...); err != nil {
		t.Fatal(err)
	}
	rdb, err := cfg.Redis()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return &env{t: t, ctx: ctx, cfg: cfg, codec: codec, rdb: rdb, keys: verify.NewKeyStore(rdb, cfg.RedisPrefix)}
}

// server starts an API server on loopback whose auditor writes with cfg
// (e.cfg when nil) and returns its base URL. Each server has key and rate
// caches of its own, like one `idlink serve` process.
func (e *env) server(cfg *pipeline.Config) string {
	e.t.Helper()
	return e.serverOn(cfg, e.rdb)
}

// serverOn is server with keys and document states read from rdb.
func (e *env) serverOn(cfg *pipeline.Config, rdb redis.UniversalClient) string {
	e.t.Helper()
	if cfg == nil {
		cfg = e.cfg
	}
	aud, err := verify.NewAuditor(cfg, e.codec)
	if err != nil {
		e.t.Fatal(err)
	}
	srv, err := verify.NewServer(verify.Options{
		States:       verify.IdentityStates(identity.NewRedisStore(rdb, e.cfg.RedisPrefix, 0)),
		Keys:         verify.NewKeyStore(rdb, e.cfg.RedisPrefix),
		Audit:        aud,
		PseudonymKey: e.cfg.PseudonymKey,
		Log:          slog.New(slog.NewTextHandler(testLog{e.t}, nil)),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	e.t.Cleanup(func() {
		hs.Close()
		aud.Close()
	})
	return hs.URL
}

// key creates a key and returns its string.
func (e *env) key(rp string, scopes []string, rate int) string {
	e.t.Helper()
	_, secret, err := e.keys.Create(e.ctx, rp, scopes, rate)
	if err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// response is an answer: status, headers and the JSON body decoded.
type response struct {
	status int
	header http.Header
	raw    string
	body   map[string]any
}

// do sends method path with body (a string, or a value to marshal) and key
// ("" for none), records the call and returns the answer.
func (e *env) do(base, method, path, key string, body any) response {
	e.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			e.t.Fatal(err)
		}
	}
	req, err := http.NewRequestWithContext(e.ctx, method, base+path, bytes.NewReader(raw))
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	r := response{status: res.StatusCode, header: res.Header, raw: string(b)}
	if len(b) > 0 && path != verify.PathOpenAPI {
		if err := json.Unmarshal(b, &r.body); err != nil {
			e.t.Fatalf("%s %s answered %d with a body that is not a JSON object: %q", method, path, res.StatusCode, b)
		}
	}
	if id := res.Header.Get(verify.AuditIDHeader); id != "" {
		e.record(id, r.status, path, key, raw)
	}
	return r
}

// record notes an audited call with the tokens of the valid documents its
// body named.
func (e *env) record(id string, status int, path, key string, body []byte) {
	c := call{auditID: id, status: status, endpoint: path}
	if path != verify.PathVerify && path != verify.PathMatch {
		c.endpoint = verify.EndpointOther
	}
	// 404s and 405s are refused before the key is read, 401s, 403s, 429s
	// and 413s before the body is.
	authenticated := status != http.StatusNotFound && status != http.StatusMethodNotAllowed
	if k, _, err := e.keys.Authenticate(e.ctx, key); err == nil && k != nil && authenticated {
		c.rp = k.RelyingParty
	}
	var in struct {
		Document  *struct{ Type, Number string }
		Documents []struct{ Type, Number string }
	}
	read := authenticated && status != http.StatusUnauthorized && status != http.StatusForbidden && status != http.StatusTooManyRequests && status != http.StatusRequestEntityTooLarge
	if json.Unmarshal(body, &in) == nil && read {
		docs := in.Documents
		if in.Document != nil {
			docs = append(docs, *in.Document)
		}
		ps := producers.NewPseudonymizer(e.cfg.PseudonymKey)
		for _, d := range docs {
			if tok, ok := tokenOf(ps, d.Type, d.Number); ok {
				c.tokens = append(c.tokens, tok)
			}
		}
	}
	e.mu.Lock()
	e.calls = append(e.calls, c)
	e.mu.Unlock()
}

// checkAudit reads the audit topic and requires a record for every call
// answered with an Audit-Id, with the status it answered, its endpoint and
// relying party, and the tokens of the valid documents it sent: no more.
func (e *env) checkAudit() {
	e.t.Helper()
	got := map[string]*schemas.AuditLookup{}
	err := namespace.ReadTopic(e.ctx, e.cfg, e.cfg.Topics().AuditLookups(), func(m kafka.Message) error {
		a, err := e.codec.DecodeAudit(m.Value)
		if err != nil {
			return err
		}
		got[a.AuditID] = a
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.calls) == 0 {
		e.t.Fatal("no call was audited")
	}
	for _, c := range e.calls {
		a := got[c.auditID]
		if a == nil {
			e.t.Errorf("call %s (%s, answered %d) is not in the audit", c.auditID, c.endpoint, c.status)
			continue
		}
		var tokens []string
		for _, d := range a.Documents {
			if d.Token != "" {
				tokens = append(tokens, d.Token)
			}
		}
		if a.Status != c.status || a.Endpoint != c.endpoint || a.RelyingParty != c.rp || strings.Join(tokens, ",") != strings.Join(c.tokens, ",") {
			e.t.Errorf("audit of call %s: status %d endpoint %s relying party %q tokens %v; the call was %d %s %q %v",
				c.auditID, a.Status, a.Endpoint, a.RelyingParty, tokens, c.status, c.endpoint, c.rp, c.tokens)
		}
		if a.RequestedAt.IsZero() || a.Outcome == "" {
			e.t.Errorf("audit of call %s lacks its time or outcome: %+v", c.auditID, a)
		}
	}
	e.t.Logf("%d calls, all audited", len(e.calls))
}

// tokenOf is the token of a valid document, as the producer makes it.
func tokenOf(ps *producers.Pseudonymizer, typ, number string) (string, bool) {
	v, err := validate(typ, number)
	if err != nil {
		return "", false
	}
	return ps.Token(v.Type, v.Number), true
}

func validate(typ, number string) (documents.Valid, error) {
	t, ok := documents.ParseType(typ)
	if !ok {
		return documents.Valid{}, fmt.Errorf("unknown type %q", typ)
	}
	return documents.Validate(t, number)
}

// resolve publishes JSON Lines events with the producer library and runs
// the resolver in this process until it has committed all of them.
func (e *env) resolve(lines ...string) {
	e.t.Helper()
	p, err := producers.New(e.ctx, e.cfg, e.codec, producers.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := p.ProduceFile(e.ctx, strings.NewReader(strings.Join(lines, "\n")+"\n"), "verify-test")
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		e.t.Fatal(err)
	}
	if res.Rejected != 0 {
		e.t.Fatalf("the producer rejected %d of the test's events: %+v", res.Rejected, res)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	rc, err := identity.NewConsumer(e.ctx, e.cfg, e.codec, pipeline.NewMetrics(), log)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rc.Close()
	o := rc.Options()
	o.Logger = log
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- e.cfg.RunConsumer(ctx, o, rc) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("the resolver: %v", err)
		}
	}()
	for {
		ok, err := e.cfg.CaughtUp(e.ctx, o.Group, o.Topics)
		if err != nil {
			e.t.Fatal(err)
		}
		if ok {
			return
		}
		select {
		case <-e.ctx.Done():
			e.t.Fatal("the resolver did not catch up")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// gb appends the GB 11643 check character.
func gb(first17 string) string {
	w := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, x := range w {
		sum += int(first17[i]-'0') * x
	}
	return first17 + string("10X98765432"[sum%11])
}

// testLog writes a server's log lines to the test's log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
