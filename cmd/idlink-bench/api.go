package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/consumers/identity"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/producers"
	"github.com/idlink/idlink/producers/simulator"
	"github.com/idlink/idlink/verify"
)

// The api phase's targets (issue 16).
const (
	apiTargetPerSecond = 20000
	apiTargetP99ms     = 10
)

// api measures the verification API as `idlink serve` runs it (verify.Open:
// keys and document states in Redis, every call audited on Kafka, acks all)
// on a loopback listener in this process. A simulator population of -api-n
// events is resolved into a namespace of its own first; calls verify its
// documents (one in ten unknown). Then:
//
//   - sustained: -api-clients keep-alive clients call as fast as they are
//     answered for -api-seconds: api_verify_per_s;
//   - steady: calls due at -api-rate per second for -api-seconds, each
//     timed from when it was due (a slow answer delays no later call's
//     clock): api_verify_p50_ms, api_verify_p99_ms.
//
// Every answer must be 200, and the audit topic must hold a record of
// every call.
func (b *bench) api(ctx context.Context) error {
	cfg := b.namespace("api", nil)
	defer b.release(ctx, cfg)
	bodies, err := b.apiSeed(ctx, cfg)
	if err != nil {
		return err
	}
	if err := cfg.EnsureTopics(ctx, cfg.Topics().AuditLookups()); err != nil {
		return err
	}
	srv, closeSrv, err := verify.Open(ctx, cfg, b.logger())
	if err != nil {
		return err
	}
	defer closeSrv()
	_, key, err := verify.NewKeyStore(b.rdb, cfg.RedisPrefix).Create(ctx, "bench", verify.AllScopes(), 0)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute}
	// Over HTTPS, as idlink serve answers, when IDLINK_TLS_CERT_FILE is set.
	go func() { _ = cfg.ServeHTTP(hs, ln) }()
	defer hs.Close()

	clients := b.opts.apiClients
	tr := &http.Transport{MaxIdleConns: 2 * clients, MaxIdleConnsPerHost: 2 * clients, IdleConnTimeout: time.Minute, DisableCompression: true}
	if cfg.HTTPTLS.On() {
		// The clients trust the server's own certificate (and verify its name).
		roots := x509.NewCertPool()
		roots.AddCert(cfg.HTTPTLS.Config.Certificates[0].Leaf)
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	defer tr.CloseIdleConnections()
	u, err := url.Parse(cfg.HTTPScheme() + "://" + ln.Addr().String() + verify.PathVerify)
	if err != nil {
		return err
	}
	c := &apiClient{rt: tr, url: u, auth: "Bearer " + key, bodies: bodies}

	// Warm up: connections, key cache, the writer's metadata.
	if _, err := c.closedLoop(ctx, clients, time.Second); err != nil {
		return fmt.Errorf("warming up: %w", err)
	}
	b.settle(ctx, "api_calls") // the seeding's Redis writes and merges
	var stopProfile func()
	if b.opts.profileDir != "" {
		if stopProfile, err = b.startCPUProfile("api.cpu.pprof"); err != nil {
			return err
		}
	}
	d := time.Duration(b.opts.apiSeconds * float64(time.Second))
	total0, busy0 := cpuTimes()
	self0 := processCPU()
	n, err := c.closedLoop(ctx, clients, d)
	self1 := processCPU()
	total1, busy1 := cpuTimes()
	if stopProfile != nil {
		stopProfile()
	}
	if err != nil {
		return fmt.Errorf("sustained: %w", err)
	}
	perS := perSecond(n, d)
	b.figure("api_verify_clients", "%d", clients)
	b.figure("api_verify_per_s", "%.0f", perS)
	// CPU per call while sustained: of the whole machine (Kafka and Redis
	// included), and of this process (server and clients).
	if total1 > total0 && n > 0 {
		busy := float64(busy1-busy0) / float64(total1-total0) * float64(runtime.NumCPU()) * float64(d.Microseconds())
		b.figure("api_verify_machine_cpu_us_per_call", "%.1f", busy/float64(n))
	}
	if self1 > 0 && n > 0 {
		b.figure("api_verify_process_cpu_us_per_call", "%.1f", float64((self1-self0).Microseconds())/float64(n))
	}
	b.extraTargets = append(b.extraTargets, targetGE(fmt.Sprintf("api_verify_per_s>=%d", apiTargetPerSecond), perS, apiTargetPerSecond))

	lat, took, err := c.openLoop(ctx, clients, b.opts.apiRate, d)
	if err != nil {
		return fmt.Errorf("steady: %w", err)
	}
	slices.Sort(lat)
	p99 := percentile(lat, 0.99)
	b.figure("api_verify_steady_rate_per_s", "%.0f", perSecond(int64(len(lat)), took))
	b.figure("api_verify_p50_ms", "%.2f", percentile(lat, 0.5))
	b.figure("api_verify_p99_ms", "%.2f", p99)
	b.figure("api_verify_max_ms", "%.2f", percentile(lat, 1))
	b.extraTargets = append(b.extraTargets, targetLE(fmt.Sprintf("api_verify_p99<=%dms", apiTargetP99ms), p99, apiTargetP99ms))

	// Audit on: a record on the topic for every call answered.
	// Asked again for up to 10 s: a metadata answer may lack the
	// partitions of a topic created moments ago.
	calls := c.calls.Load()
	var records int64
	for deadline := time.Now().Add(10 * time.Second); ; {
		_, records, err = b.endOffsets(ctx, []string{cfg.Topics().AuditLookups()})
		if (err == nil && records >= calls) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	b.figure("api_audit_records", "%d", records)
	if records < calls {
		return fmt.Errorf("the audit topic holds %d records for %d calls answered", records, calls)
	}
	return nil
}

// processCPU is the user and system CPU time this process has used, or 0.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// apiSeed resolves a simulator population into cfg's Redis prefix (the
// resolver's Handle, in this process) and returns a verify body for each
// of its documents and, for one call in ten, a document nobody holds.
func (b *bench) apiSeed(ctx context.Context, cfg *pipeline.Config) ([][]byte, error) {
	n := min(b.opts.apiN, b.opts.n)
	ds := simulator.Generate(simulator.Options{Seed: b.opts.seed + 2, Persons: max(1, n/2), Events: n, BadEvents: -1, Duplicates: -1, IDPrefix: "api-"})
	ps := producers.NewPseudonymizer(cfg.PseudonymKey)
	store := identity.NewRedisStore(b.rdb, cfg.RedisPrefix, 0)
	res := identity.New(store, b.codec, discard{}, identity.Options{Topics: cfg.Topics()})
	var msgs []kafka.Message
	flush := func() error {
		if len(msgs) == 0 {
			return nil
		}
		err := res.Handle(ctx, msgs)
		msgs = msgs[:0]
		return err
	}
	for _, l := range ds.Lines {
		in, rej := producers.Parse(l)
		if rej != nil {
			return nil, fmt.Errorf("a simulator line does not parse: %s", rej.Reason)
		}
		ev, rej := producers.Validate(in, ps)
		if rej != nil {
			return nil, fmt.Errorf("a simulator line is invalid: %s", rej.Reason)
		}
		v, err := b.codec.EncodeEvent(ev)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, kafka.Message{Topic: cfg.Topics().Agency(ev.Agency), Value: v})
		if len(msgs) == 5000 {
			if err := flush(); err != nil {
				return nil, fmt.Errorf("resolving the api population: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return nil, fmt.Errorf("resolving the api population: %w", err)
	}
	seen := map[simulator.Doc]bool{}
	var bodies [][]byte
	for _, e := range ds.Events {
		for _, d := range e.Docs {
			if seen[d] {
				continue
			}
			seen[d] = true
			body := map[string]any{"document": map[string]string{"type": string(d.Type), "number": d.Number}}
			if e.BirthDate != "" {
				body["person"] = map[string]string{"birth_date": e.BirthDate}
			}
			bb, err := json.Marshal(body)
			if err != nil {
				return nil, err
			}
			bodies = append(bodies, bb)
		}
	}
	for i := range max(1, len(bodies)/9) {
		bodies = append(bodies, fmt.Appendf(nil, `{"document":{"type":"passport","number":"ZZ%08d"}}`, i))
	}
	b.progress("api: %d documents resolved from %d events", len(seen), len(ds.Lines))
	return bodies, nil
}

// apiClient makes verify calls with prepared bodies. Each of its
// goroutines makes its calls with an apiCaller of its own, which reuses one
// request and one answer buffer, so that the client spends as little of the
// machine's CPU as net/http allows (the server shares the machine).
type apiClient struct {
	rt     http.RoundTripper
	url    *url.URL
	auth   string
	bodies [][]byte
	calls  atomic.Int64 // answered
}

// apiCaller makes one goroutine's calls, one at a time.
type apiCaller struct {
	c    *apiClient
	req  *http.Request
	cur  []byte // the body of the call being made
	body callBody
	ans  bytes.Buffer
}

// callBody is a request body that can be read again from its start.
type callBody struct{ bytes.Reader }

func (*callBody) Close() error { return nil }

func (c *apiClient) caller(ctx context.Context) *apiCaller {
	a := &apiCaller{c: c}
	a.req = (&http.Request{
		Method:     http.MethodPost,
		URL:        c.url,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     http.Header{"Authorization": {c.auth}, "Content-Type": {"application/json"}},
		Host:       c.url.Host,
	}).WithContext(ctx)
	a.req.Body = &a.body
	// For the transport's retry of a request it could not send on a
	// reused connection.
	a.req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(a.cur)), nil }
	return a
}

// call makes one call with body i and fails unless it is answered 200. The
// request is reused only once the answer's body is closed, as net/http
// allows.
func (a *apiCaller) call(i int) error {
	a.cur = a.c.bodies[i%len(a.c.bodies)]
	a.body.Reset(a.cur)
	a.req.Body = &a.body
	a.req.ContentLength = int64(len(a.cur))
	res, err := a.c.rt.RoundTrip(a.req)
	if err != nil {
		return err
	}
	a.ans.Reset()
	_, err = a.ans.ReadFrom(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	a.c.calls.Add(1)
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("a call was answered %d: %s", res.StatusCode, a.ans.Bytes())
	}
	return nil
}

// apiCallTimeout bounds a loop of calls beyond its planned length: a call
// that hangs fails the loop.
const apiCallTimeout = 10 * time.Second

// closedLoop runs clients goroutines calling back to back for d and returns
// the calls answered.
func (c *apiClient) closedLoop(ctx context.Context, clients int, d time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, d+apiCallTimeout)
	defer cancel()
	var n atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	deadline := time.Now().Add(d)
	for w := range clients {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 7))
			a := c.caller(ctx)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := a.call(r.IntN(len(c.bodies))); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if first != nil && !errors.Is(first, context.Canceled) {
		return n.Load(), first
	}
	return n.Load(), nil
}

// openLoop makes calls due at rate per second for d, on up to workers at
// once, and returns each call's latency from when it was due, and how long
// the calls took.
func (c *apiClient) openLoop(ctx context.Context, workers, rate int, d time.Duration) ([]time.Duration, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, d+apiCallTimeout)
	defer cancel()
	total := int64(float64(rate) * d.Seconds())
	lat := make([]time.Duration, total)
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	begin := time.Now()
	for w := range workers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 11))
			a := c.caller(ctx)
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				due := begin.Add(time.Duration(float64(i) / float64(rate) * float64(time.Second)))
				if wait := time.Until(due); wait > 0 {
					time.Sleep(wait)
				}
				if err := a.call(r.IntN(len(c.bodies))); err != nil {
					once.Do(func() { first = err; cancel() })
					return
				}
				lat[i] = time.Since(due)
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, 0, first
	}
	return lat, time.Since(begin), nil
}
