package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/idlink/idlink/analytics"
	"github.com/idlink/idlink/internal/stacktest"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/verify"
)

// apiServe runs `idlink serve` with both listeners on free ports and returns
// the verification API's base URL and a function that stops the process
// (SIGTERM) and returns its exit code and log.
func apiServe(t *testing.T, ctx context.Context, c *cli) (string, func() (int, string)) {
	t.Helper()
	cmd := exec.CommandContext(ctx, c.bin, "serve", "--addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0")
	cmd.Env, cmd.Dir = c.env, c.dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var logs bytes.Buffer
	addr := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		re := regexp.MustCompile(`msg="serving the verification API" address=127\.0\.0\.1:\d+ openapi=(https?://127\.0\.0\.1:\d+)/`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			logs.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	stop := func() (int, string) {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-copied
		err := cmd.Wait()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		mu.Lock()
		defer mu.Unlock()
		return code, logs.String()
	}
	select {
	case a := <-addr:
		return a, stop
	case <-time.After(time.Minute):
		_, l := stop()
		t.Fatalf("idlink serve logged no verification API address within a minute:\n%s", l)
	}
	return "", nil
}

// apiHTTPClient is a client for the verification API of an `idlink serve` on
// the local stack: one trusting the stack's CA when serve answers HTTPS
// (IDLINK_TLS_CERT_FILE), else the default client.
func apiHTTPClient(t *testing.T) *http.Client {
	t.Helper()
	cfg, err := pipeline.LoadConfig(os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.HTTPTLS.On() {
		return http.DefaultClient
	}
	return stacktest.HTTPClient(t, cfg)
}

// apiCall posts body to base+path with key and returns the status, the
// decoded answer and the Audit-Id.
func apiCall(t *testing.T, ctx context.Context, base, path, key, body string) (int, map[string]any, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "POST", base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := apiHTTPClient(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("POST %s answered %d %q: %v", path, res.StatusCode, b, err)
	}
	return res.StatusCode, m, res.Header.Get(verify.AuditIDHeader)
}

// TestVerificationAPIEndToEnd runs the API as users do: events through
// `idlink produce` and `idlink run`, keys from `idlink api-keys`, calls to
// `idlink serve`'s API listener (refs per relying party, stable across a
// merge; a revoked key refused within a second), the audit landed by
// `idlink run` in ClickHouse with a row for every call made, and `idlink
// audit` listing who asked about a document.
func TestVerificationAPIEndToEnd(t *testing.T) {
	c, cfg := newCLI(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	run := func(args ...string) string {
		t.Helper()
		out, stderr, code := c.run(ctx, args...)
		if code != 0 {
			t.Fatalf("idlink %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
		}
		return out
	}
	rp := gb("82000019900211001")
	lines := []string{
		`{"event_id":"v1","type":"residence_permit.issued","agency":"mps","occurred_at":"2025-03-01T09:00:00+08:00","person":{"birth_date":"1990-02-11"},"documents":[{"type":"residence_permit","number":"` + rp + `"}]}`,
		`{"event_id":"v2","type":"travel_permit.issued","agency":"nia","occurred_at":"2025-03-02T09:00:00+08:00","documents":[{"type":"mainland_travel_permit","number":"M87654321"}]}`,
	}
	run("produce", "--file", writeEvents(t, c.dir, lines...))
	run("run", "--exit-when-idle", "--metrics-addr", "off")

	newKey := func(args ...string) (id, key string) {
		t.Helper()
		var k struct{ ID, Key string }
		if err := json.Unmarshal([]byte(run(append([]string{"api-keys", "create", "--json"}, args...)...)), &k); err != nil || k.Key == "" {
			t.Fatalf("api-keys create --json: %v %+v", err, k)
		}
		return k.ID, k.Key
	}
	_, bank := newKey("--relying-party", "bank")
	rideID, ride := newKey("--relying-party", "ride_hailing", "--scopes", "verify", "--rate", "0")
	listed := run("api-keys", "list", "--json")
	if strings.Contains(listed, bank) || strings.Contains(listed, ride) || strings.Contains(listed, "hash") {
		t.Fatalf("api-keys list shows a key or its hash: %s", listed)
	}
	var keys []verify.Key
	if err := json.Unmarshal([]byte(listed), &keys); err != nil || len(keys) != 2 {
		t.Fatalf("api-keys list --json: %v %s", err, listed)
	}
	for _, k := range keys {
		if k.RelyingParty == "ride_hailing" && (k.ID != rideID || k.Rate != 0 || strings.Join(k.Scopes, ",") != "verify" || k.Revoked()) {
			t.Fatalf("api-keys list --json: %s", listed)
		}
	}

	base, stop := apiServe(t, ctx, c)
	var ids []string // every call's Audit-Id
	call := func(path, key, body string) (int, map[string]any) {
		t.Helper()
		status, m, id := apiCall(t, ctx, base, path, key, body)
		if id == "" {
			t.Fatalf("POST %s answered %d without an Audit-Id", path, status)
		}
		ids = append(ids, id)
		return status, m
	}
	verifyRP := `{"document":{"type":"residence_permit","number":"` + rp + `"},"person":{"birth_date":"1990-02-11"}}`
	verifyMTP := `{"document":{"type":"mainland_travel_permit","number":"M8765432101"}}`
	_, a := call(verify.PathVerify, bank, verifyRP)
	if a["known"] != true || a["status"] != "active" || a["birth_date_match"] != true {
		t.Fatalf("verify: %v", a)
	}
	bankRef := a["person_ref"]
	_, a = call(verify.PathVerify, ride, verifyRP)
	rideRef := a["person_ref"]
	if rideRef == bankRef || rideRef == nil {
		t.Fatalf("two relying parties got refs %v and %v", bankRef, rideRef)
	}
	_, a = call(verify.PathVerify, bank, verifyMTP)
	mtpRef := a["person_ref"]
	if status, a := call(verify.PathMatch, ride, `{"documents":[{"type":"residence_permit","number":"`+rp+`"},{"type":"mainland_travel_permit","number":"M87654321"}]}`); status != 403 {
		t.Fatalf("match without the scope: %d %v", status, a)
	}
	if status, a := call(verify.PathMatch, bank, `{"documents":[{"type":"residence_permit","number":"`+rp+`"},{"type":"mainland_travel_permit","number":"M87654321"}]}`); status != 200 || a["same_person"] != false {
		t.Fatalf("match before the merge: %d %v", status, a)
	}
	if status, _ := call(verify.PathVerify, "", verifyRP); status != 401 {
		t.Fatalf("no key: %d", status)
	}
	if status, a := call(verify.PathVerify, bank, `{"document":{"type":"visa","number":"1"}}`); status != 400 || a["reason"] != "unknown_document_type" {
		t.Fatalf("unknown type: %d %v", status, a)
	}

	// The merge: the residence permit's person (created first) survives,
	// and the travel permit now answers with the survivor's ref.
	run("produce", "--file", writeEvents(t, c.dir,
		`{"event_id":"v3","type":"insurance.code_activated","agency":"nhsa","occurred_at":"2025-03-03T09:00:00+08:00","documents":[{"type":"residence_permit","number":"`+rp+`"},{"type":"mainland_travel_permit","number":"M87654321"}],"attrs":{"channel":"offline"}}`))
	run("run", "--exit-when-idle", "--metrics-addr", "off")
	_, a = call(verify.PathVerify, bank, verifyMTP)
	if a["person_ref"] != bankRef || a["person_ref"] == mtpRef {
		t.Fatalf("after the merge the travel permit's ref is %v; the survivor's is %v, its own was %v", a["person_ref"], bankRef, mtpRef)
	}
	if _, a = call(verify.PathVerify, ride, verifyRP); a["person_ref"] != rideRef {
		t.Fatalf("ride_hailing's ref changed: %v, was %v", a["person_ref"], rideRef)
	}

	// Revocation through the CLI holds within a second.
	run("api-keys", "revoke", rideID)
	revoked := time.Now()
	for {
		status, a := call(verify.PathVerify, ride, verifyMTP)
		if status == 401 && a["reason"] == verify.ReasonRevokedKey {
			break
		}
		if status != 200 || time.Since(revoked) > time.Second {
			t.Fatalf("after revoking, after %s: %d %v", time.Since(revoked), status, a)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, log := stop(); code != 0 {
		t.Fatalf("idlink serve exited %d:\n%s", code, log)
	}

	// The audit, landed by the analytics sink: a row for every call.
	run("run", "--exit-when-idle", "--metrics-addr", "off")
	store, err := analytics.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rows, err := store.Conn().Query(ctx, "SELECT DISTINCT audit_id FROM audit_lookups")
	if err != nil {
		t.Fatal(err)
	}
	landed := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		landed[id] = true
	}
	rows.Close()
	for _, id := range ids {
		if !landed[id] {
			t.Errorf("call %s is not in audit_lookups", id)
		}
	}
	if len(landed) != len(ids) {
		t.Errorf("audit_lookups holds %d calls, the test made %d", len(landed), len(ids))
	}

	// Who asked about the residence permit: bank and ride_hailing, in order.
	out := run("audit", "--doc-type", "residence_permit", "--number", rp, "--json")
	if strings.Contains(out, rp) {
		t.Fatalf("idlink audit prints the number: %s", out)
	}
	var entries []struct {
		At           time.Time `json:"at"`
		RelyingParty string    `json:"relying_party"`
		Endpoint     string    `json:"endpoint"`
		Status       int       `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("idlink audit --json printed %q: %v", out, err)
	}
	var got []string
	for i, e := range entries {
		got = append(got, e.RelyingParty+" "+e.Endpoint+" "+http.StatusText(e.Status))
		if i > 0 && e.At.Before(entries[i-1].At) {
			t.Errorf("idlink audit is not in time order: %v", entries)
		}
	}
	// Calls refused before their body was read (no key, a scope not
	// granted) name no document.
	want := []string{"bank /v1/verify OK", "ride_hailing /v1/verify OK", "bank /v1/match OK", "ride_hailing /v1/verify OK"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("idlink audit:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if human := run("audit", "--doc-type", "residence_permit", "--number", rp); !strings.Contains(human, "ride_hailing") || strings.Contains(human, rp) {
		t.Errorf("idlink audit:\n%s", human)
	}
}
