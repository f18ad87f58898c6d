package verify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/idlink/idlink/consumers/identity"
	"github.com/idlink/idlink/producers"
	"github.com/idlink/idlink/verify"
)

func doc(typ, number string) map[string]string {
	return map[string]string{"type": typ, "number": number}
}

func verifyBody(typ, number, birthDate string) map[string]any {
	b := map[string]any{"document": doc(typ, number)}
	if birthDate != "" {
		b["person"] = map[string]string{"birth_date": birthDate, "name": "LIN Wai"}
	}
	return b
}

func matchBody(docs ...map[string]string) map[string]any { return map[string]any{"documents": docs} }

// TestVerifyAndMatch runs the resolver over events in three stages (a
// person's documents, then a merge, a held conflict, a retraction that
// splits a person and a revocation, then a reissue and a late revocation
// dated before it) and checks what verify and match answer after each, for
// two relying parties. Every call is then found in the audit.
func TestVerifyAndMatch(t *testing.T) {
	e := newEnv(t)
	base := e.server(nil)
	bank := e.key("bank", verify.AllScopes(), 0)
	ride := e.key("ride_hailing", verify.AllScopes(), 0)

	rpA, rpA2 := gb("81000019900211001"), gb("81000019900211002")
	ev := func(id, typ, agency, day, birth, docs, attrs string) string {
		person := ""
		if birth != "" {
			person = `"person":{"birth_date":"` + birth + `"},`
		}
		return `{"event_id":"` + id + `","type":"` + typ + `","agency":"` + agency + `","occurred_at":"2025-03-` + day + `T09:00:00+08:00",` +
			person + `"documents":[` + docs + `],"attrs":{` + attrs + `}}`
	}
	d := func(typ, n string) string { return `{"type":"` + typ + `","number":"` + n + `"}` }

	e.resolve(
		ev("a1", "residence_permit.issued", "mps", "01", "1990-02-11", d("residence_permit", rpA)+","+d("mainland_travel_permit", "H12345678"), ""),
		ev("b1", "identity.verified", "platform", "02", "", d("hkid", "A123456(3)"), `"relying_party":"bank","outcome":"passed"`),
		ev("s1", "insurance.enrolled", "nhsa", "03", "", d("taiwan_travel_permit", "12345678")+","+d("passport", "P1234567"), `"scheme":"employee"`),
	)
	type verifyWant struct {
		known     bool
		status    string
		types     string
		birthDate any // true, false or nil
	}
	check := func(stage string, r response, w verifyWant) string {
		t.Helper()
		if r.status != 200 {
			t.Fatalf("%s: verify answered %d %s", stage, r.status, r.raw)
		}
		var types []string
		for _, x := range r.body["document_types"].([]any) {
			types = append(types, x.(string))
		}
		if r.body["known"] != w.known || r.body["status"] != w.status || strings.Join(types, ",") != w.types || r.body["birth_date_match"] != w.birthDate {
			t.Errorf("%s: verify answered %s, want known %v status %s types %s birth_date_match %v", stage, r.raw, w.known, w.status, w.types, w.birthDate)
		}
		ref, _ := r.body["person_ref"].(string)
		if w.known == (ref == "") || (ref != "" && len(ref) != 32) {
			t.Errorf("%s: person_ref %v", stage, r.body["person_ref"])
		}
		return ref
	}
	same := func(stage string, r response, same bool, known ...bool) {
		t.Helper()
		if r.status != 200 {
			t.Fatalf("%s: match answered %d %s", stage, r.status, r.raw)
		}
		var got []bool
		for _, x := range r.body["known"].([]any) {
			got = append(got, x.(bool))
		}
		if r.body["same_person"] != same || !slices.Equal(got, known) {
			t.Errorf("%s: match answered %s, want same_person %v known %v", stage, r.raw, same, known)
		}
	}
	post := func(key, path string, body any) response { return e.do(base, "POST", path, key, body) }

	// Stage 1: A holds rpA and the travel permit; B the HKID; C the Taiwan
	// permit and the passport.
	refA := check("1 rpA", post(bank, verify.PathVerify, verifyBody("residence_permit", rpA, "1990-02-11")),
		verifyWant{true, "active", "mainland_travel_permit,residence_permit", true})
	if again := check("1 rpA again", post(bank, verify.PathVerify, verifyBody("residence_permit", rpA, "")),
		verifyWant{true, "active", "mainland_travel_permit,residence_permit", nil}); again != refA {
		t.Errorf("one relying party got two refs for one person: %s, %s", refA, again)
	}
	check("1 rpA other birth date", post(bank, verify.PathVerify, verifyBody("residence_permit", rpA, "1991-01-01")),
		verifyWant{true, "active", "mainland_travel_permit,residence_permit", false})
	rideA := check("1 rpA ride", post(ride, verify.PathVerify, verifyBody("mainland_travel_permit", "h1234567801", "")),
		verifyWant{true, "active", "mainland_travel_permit,residence_permit", nil})
	if rideA == refA {
		t.Errorf("two relying parties got the same ref %s for one person", refA)
	}
	refB := check("1 hkid", post(bank, verify.PathVerify, verifyBody("hkid", "A1234563", "1990-02-11")),
		verifyWant{true, "active", "hkid", nil}) // B asserts no birth date
	if refB == refA {
		t.Error("two persons got one ref")
	}
	check("1 unknown", post(bank, verify.PathVerify, verifyBody("passport", "Q7654321", "1990-02-11")), verifyWant{false, "unknown", "", nil})
	same("1 A and B", post(bank, verify.PathMatch, matchBody(doc("mainland_travel_permit", "H12345678"), doc("hkid", "A123456(3)"))), false, true, true)
	same("1 C", post(bank, verify.PathMatch, matchBody(doc("taiwan_travel_permit", "1234567802"), doc("passport", "P1234567"))), true, true, true)
	same("1 with unknown", post(bank, verify.PathMatch, matchBody(doc("passport", "P1234567"), doc("passport", "Q7654321"), doc("taiwan_travel_permit", "12345678"))), false, true, false, true)

	// Stage 2: m1 merges B into A (A, created first, survives); c1 would
	// give A a second residence permit and is held; r1 withdraws s1, so C
	// splits; v1 revokes rpA.
	e.resolve(
		ev("m1", "insurance.code_activated", "nhsa", "04", "", d("mainland_travel_permit", "H12345678")+","+d("hkid", "A1234563"), `"channel":"offline"`),
		ev("c1", "insurance.code_activated", "nhsa", "05", "", d("residence_permit", rpA2)+","+d("hkid", "A1234563"), `"channel":"online"`),
		ev("r1", "link.retracted", "nhsa", "06", "", "", `"retracts":"s1"`),
		ev("v1", "residence_permit.revoked", "mps", "07", "", d("residence_permit", rpA), `"reason":"renounced"`),
	)
	all := "hkid,mainland_travel_permit,residence_permit"
	if ref := check("2 hkid", post(bank, verify.PathVerify, verifyBody("hkid", "A1234563", "1990-02-11")), verifyWant{true, "active", all, true}); ref != refA {
		t.Errorf("after the merge the HKID's ref is %s, want the survivor's %s (it was %s)", ref, refA, refB)
	}
	if ref := check("2 rpA", post(bank, verify.PathVerify, verifyBody("residence_permit", rpA, "")), verifyWant{true, "revoked", all, nil}); ref != refA {
		t.Errorf("the survivor's ref changed in the merge: %s, was %s", ref, refA)
	}
	if ref := check("2 ride", post(ride, verify.PathVerify, verifyBody("hkid", "A1234563", "")), verifyWant{true, "active", all, nil}); ref != rideA {
		t.Errorf("ride_hailing's ref for the survivor changed: %s, was %s", ref, rideA)
	}
	// c1 is held: rpA2 stays a person of its own, with its embedded birth date.
	if ref := check("2 held rpA2", post(bank, verify.PathVerify, verifyBody("residence_permit", rpA2, "1990-02-11")), verifyWant{true, "active", "residence_permit", true}); ref == refA {
		t.Error("the held event's residence permit has the ref of the person it would have joined")
	}
	same("2 A", post(bank, verify.PathMatch, matchBody(doc("residence_permit", rpA), doc("hkid", "A1234563"), doc("mainland_travel_permit", "H12345678"))), true, true, true, true)
	same("2 held", post(bank, verify.PathMatch, matchBody(doc("residence_permit", rpA2), doc("hkid", "A1234563"))), false, true, true)
	same("2 split", post(bank, verify.PathMatch, matchBody(doc("taiwan_travel_permit", "12345678"), doc("passport", "P1234567"))), false, true, true)

	// Stage 3: i1 issues rpA again; a revocation dated before everything,
	// arriving last, changes nothing (sequence neutral).
	e.resolve(
		ev("i1", "residence_permit.issued", "mps", "08", "", d("residence_permit", rpA), ""),
	)
	check("3 reissued", post(bank, verify.PathVerify, verifyBody("residence_permit", rpA, "")), verifyWant{true, "active", all, nil})
	e.resolve(`{"event_id":"v0","type":"residence_permit.revoked","agency":"mps","occurred_at":"2025-02-01T09:00:00+08:00","documents":[` + d("residence_permit", rpA) + `],"attrs":{"reason":"renounced"}}`)
	check("3 late revocation", post(bank, verify.PathVerify, verifyBody("residence_permit", rpA, "")), verifyWant{true, "active", all, nil})

	e.checkAudit()
}

// TestKeys: no key, a malformed, unknown or wrong key and a revoked one are
// 401; a key without the endpoint's scope 403; over its rate 429 with
// Retry-After. A revoked key is refused by every server within a second.
func TestKeys(t *testing.T) {
	e := newEnv(t)
	base := e.server(nil)
	good := e.key("bank", verify.AllScopes(), 0)
	verifyOnly := e.key("ride_hailing", []string{verify.ScopeVerify}, 0)
	slow := e.key("slow_party", verify.AllScopes(), 1)
	wrongSecret := good[:len(good)-4] + "AAAA"
	if wrongSecret == good {
		wrongSecret = good[:len(good)-4] + "BBBB"
	}
	body := verifyBody("passport", "Q7654321", "")
	tests := []struct {
		name   string
		key    string
		path   string
		status int
		reason string
	}{
		{"no key", "", verify.PathVerify, 401, verify.ReasonMissingKey},
		{"malformed key", "not-a-key", verify.PathVerify, 401, verify.ReasonUnknownKey},
		{"unknown id", "idlk_0123456789abcdef_" + strings.Repeat("A", 43), verify.PathMatch, 401, verify.ReasonUnknownKey},
		{"known id, wrong secret", wrongSecret, verify.PathVerify, 401, verify.ReasonUnknownKey},
		{"scope not granted", verifyOnly, verify.PathMatch, 403, verify.ReasonScopeNotGranted},
		{"scope granted", verifyOnly, verify.PathVerify, 200, ""},
		{"good", good, verify.PathVerify, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := any(body)
			if tt.path == verify.PathMatch {
				b = matchBody(doc("passport", "Q7654321"), doc("hkid", "A1234563"))
			}
			r := e.do(base, "POST", tt.path, tt.key, b)
			if r.status != tt.status || (tt.reason != "" && r.body["reason"] != tt.reason) {
				t.Fatalf("answered %d %s, want %d %s", r.status, r.raw, tt.status, tt.reason)
			}
			if r.status == 401 && r.header.Get("WWW-Authenticate") == "" {
				t.Error("a 401 without WWW-Authenticate")
			}
		})
	}
	t.Run("scheme in any case", func(t *testing.T) {
		req, _ := http.NewRequestWithContext(e.ctx, "POST", base+verify.PathVerify, strings.NewReader(`{"document":{"type":"passport","number":"Q7654321"}}`))
		req.Header.Set("Authorization", "bEaReR "+good)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("answered %d", res.StatusCode)
		}
		e.record(res.Header.Get(verify.AuditIDHeader), 200, verify.PathVerify, good, []byte(`{"document":{"type":"passport","number":"Q7654321"}}`))
	})

	t.Run("rate", func(t *testing.T) {
		// A bucket of 1: a call passes, then calls are refused until a
		// token is back (a second at 1/s).
		var statuses []int
		var retry string
		for i := 0; i < 3; i++ {
			r := e.do(base, "POST", verify.PathVerify, slow, body)
			statuses = append(statuses, r.status)
			if r.status == 429 {
				retry = r.header.Get("Retry-After")
				if r.body["reason"] != verify.ReasonRateLimited {
					t.Errorf("429 with reason %v", r.body["reason"])
				}
			}
		}
		if statuses[0] != 200 || statuses[2] != 429 {
			t.Fatalf("statuses %v, want 200 ... 429", statuses)
		}
		if n, err := strconv.Atoi(retry); err != nil || n < 1 {
			t.Fatalf("Retry-After %q, want whole seconds, at least 1", retry)
		}
		time.Sleep(1100 * time.Millisecond)
		if r := e.do(base, "POST", verify.PathVerify, slow, body); r.status != 200 {
			t.Fatalf("after the bucket refilled: %d %s", r.status, r.raw)
		}
		// Another key's bucket is its own.
		if r := e.do(base, "POST", verify.PathVerify, good, body); r.status != 200 {
			t.Fatalf("an unlimited key: %d", r.status)
		}
	})

	t.Run("revocation on every server", func(t *testing.T) {
		victim := e.key("revoked_party", verify.AllScopes(), 0)
		bases := []string{base, e.server(nil)}
		for _, b := range bases {
			if r := e.do(b, "POST", verify.PathVerify, victim, body); r.status != 200 {
				t.Fatalf("before revocation: %d %s", r.status, r.raw)
			}
		}
		id := victim[5:21]
		revoked := time.Now()
		if _, err := verify.NewKeyStore(e.rdb, e.cfg.RedisPrefix).Revoke(e.ctx, id); err != nil {
			t.Fatal(err)
		}
		for _, b := range bases {
			for {
				r := e.do(b, "POST", verify.PathVerify, victim, body)
				if r.status == 401 {
					if r.body["reason"] != verify.ReasonRevokedKey {
						t.Errorf("revoked key refused with %v", r.body["reason"])
					}
					break
				}
				if r.status != 200 {
					t.Fatalf("answered %d %s", r.status, r.raw)
				}
				if since := time.Since(revoked); since > time.Second {
					t.Fatalf("a server still accepts the key %s after its revocation", since)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		t.Logf("both servers refused the key within %s", time.Since(revoked).Round(time.Millisecond))
	})
	e.checkAudit()
}

// TestBadInput: every kind of bad input is 400 with a machine-readable
// reason and the field it concerns, bodies over 64 KiB 413, other methods
// 405 and other paths 404; all audited, none echoing what was sent.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	base := e.server(nil)
	key := e.key("bank", verify.AllScopes(), 0)
	rp := gb("81000019900211001")
	bad := rp[:17] + string("0123456789X"[(strings.IndexByte("0123456789X", rp[17])+1)%11])
	docs := func(n int) string {
		var ds []string
		for i := 0; i < n; i++ {
			ds = append(ds, `{"type":"hkid","number":"A1234563"}`)
		}
		return `{"documents":[` + strings.Join(ds, ",") + `]}`
	}
	tests := []struct {
		name, path, body string
		status           int
		reason, field    string
	}{
		{"malformed JSON", verify.PathVerify, `{"document":`, 400, verify.ReasonBadJSON, ""},
		{"not an object", verify.PathVerify, `["document"]`, 400, verify.ReasonBadJSON, ""},
		{"two values", verify.PathVerify, `{"document":{"type":"hkid","number":"A1234563"}} {}`, 400, verify.ReasonBadJSON, ""},
		{"empty body", verify.PathMatch, ``, 400, verify.ReasonBadJSON, ""},
		{"number as a JSON number", verify.PathVerify, `{"document":{"type":"taiwan_travel_permit","number":12345678}}`, 400, verify.ReasonBadJSON, "document.number"},
		{"no document", verify.PathVerify, `{"person":{"birth_date":"1990-02-11"}}`, 400, verify.ReasonMissingField, "document"},
		{"null document", verify.PathVerify, `{"document":null}`, 400, verify.ReasonMissingField, "document"},
		{"no type", verify.PathVerify, `{"document":{"number":"A1234563"}}`, 400, verify.ReasonMissingField, "document.type"},
		{"no number", verify.PathVerify, `{"document":{"type":"hkid"}}`, 400, verify.ReasonMissingField, "document.number"},
		{"unknown type", verify.PathVerify, `{"document":{"type":"visa","number":"A1234563"}}`, 400, "unknown_document_type", "document.type"},
		{"empty number", verify.PathVerify, `{"document":{"type":"hkid","number":""}}`, 400, "empty_number", "document.number"},
		{"bad check digit", verify.PathVerify, `{"document":{"type":"residence_permit","number":"` + bad + `"}}`, 400, "bad_check_digit", "document.number"},
		{"bad format", verify.PathVerify, `{"document":{"type":"mainland_travel_permit","number":"H1234567"}}`, 400, "bad_format", "document.number"},
		{"bad birth date", verify.PathVerify, `{"document":{"type":"hkid","number":"A1234563"},"person":{"birth_date":"1990-13-01"}}`, 400, verify.ReasonBadBirthDate, "person.birth_date"},
		{"future birth date", verify.PathVerify, `{"document":{"type":"hkid","number":"A1234563"},"person":{"birth_date":"2999-01-01"}}`, 400, verify.ReasonBadBirthDate, "person.birth_date"},
		{"no documents", verify.PathMatch, `{}`, 400, verify.ReasonMissingField, "documents"},
		{"one document", verify.PathMatch, docs(1), 400, verify.ReasonTooFewDocuments, "documents"},
		{"nine documents", verify.PathMatch, docs(9), 400, verify.ReasonTooManyDocuments, "documents"},
		{"a bad second document", verify.PathMatch, `{"documents":[{"type":"hkid","number":"A1234563"},{"type":"hkid","number":"A1234560"}]}`, 400, "bad_check_digit", "documents[1].number"},
		{"a null document", verify.PathMatch, `{"documents":[{"type":"hkid","number":"A1234563"},null]}`, 400, verify.ReasonMissingField, "documents[1]"},
		{"eight documents", verify.PathMatch, docs(8), 200, "", ""},
		{"unknown fields are ignored", verify.PathVerify, `{"document":{"type":"hkid","number":"A1234563","issuer":"HK"},"extra":[1,2]}`, 200, "", ""},
		{"too large", verify.PathVerify, `{"document":{"type":"hkid","number":"A1234563"},"pad":"` + strings.Repeat("x", verify.MaxBody) + `"}`, 413, verify.ReasonBodyTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(base, "POST", tt.path, key, tt.body)
			if r.status != tt.status || (tt.reason != "" && (r.body["reason"] != tt.reason || (r.body["field"] != nil && r.body["field"] != tt.field) || (r.body["field"] == nil && tt.field != ""))) {
				t.Fatalf("answered %d %s, want %d reason %s field %q", r.status, r.raw, tt.status, tt.reason, tt.field)
			}
			for _, n := range []string{bad, "A1234560", "H1234567"} {
				if strings.Contains(r.raw, n) {
					t.Fatalf("the answer echoes a number: %s", r.raw)
				}
			}
		})
	}
	t.Run("too large, chunked", func(t *testing.T) {
		// No Content-Length: the limit holds while the body is read.
		pr := strings.NewReader(`{"document":{"type":"hkid","number":"A1234563"},"pad":"` + strings.Repeat("x", 2*verify.MaxBody) + `"}`)
		req, _ := http.NewRequestWithContext(e.ctx, "POST", base+verify.PathVerify, struct{ *strings.Reader }{pr})
		req.ContentLength = -1
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 413 {
			t.Fatalf("answered %d", res.StatusCode)
		}
		e.record(res.Header.Get(verify.AuditIDHeader), 413, verify.PathVerify, key, nil)
	})
	for _, tt := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", verify.PathVerify, 405, "POST"},
		{"PUT", verify.PathMatch, 405, "POST"},
		{"DELETE", verify.PathOpenAPI, 405, "GET, HEAD"},
		{"POST", "/v1/verify/" + bad, 404, ""},
		{"GET", "/", 404, ""},
	} {
		r := e.do(base, tt.method, tt.path, key, nil)
		if r.status != tt.status || r.header.Get("Allow") != tt.allow {
			t.Errorf("%s %s: %d (Allow %q) %s, want %d (Allow %q)", tt.method, tt.path, r.status, r.header.Get("Allow"), r.raw, tt.status, tt.allow)
		}
	}
	e.checkAudit()
}

// TestOpenAPIMatchesRoutes: the document at /v1/openapi.json is OpenAPI 3,
// describes exactly the server's routes, and every documented operation
// answers (not 404 or 405).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	e := newEnv(t)
	base := e.server(nil)
	r := e.do(base, "GET", verify.PathOpenAPI, "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s: %d %s", verify.PathOpenAPI, r.status, r.header.Get("Content-Type"))
	}
	var spec struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal([]byte(r.raw), &spec); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(spec.OpenAPI, "3.") {
		t.Fatalf("openapi %q, want 3.x", spec.OpenAPI)
	}
	var documented []verify.Route
	for path, ops := range spec.Paths {
		for method := range ops {
			documented = append(documented, verify.Route{Method: strings.ToUpper(method), Path: path})
		}
	}
	key := e.key("bank", verify.AllScopes(), 0)
	for _, rt := range documented {
		if !slices.Contains(verify.Routes(), rt) {
			t.Errorf("the document describes %s %s, which the server does not route", rt.Method, rt.Path)
			continue
		}
		var body any
		if rt.Path == verify.PathVerify {
			body = verifyBody("hkid", "A1234563", "")
		} else if rt.Path == verify.PathMatch {
			body = matchBody(doc("hkid", "A1234563"), doc("passport", "P1234567"))
		}
		if r := e.do(base, rt.Method, rt.Path, key, body); r.status != 200 {
			t.Errorf("documented %s %s answers %d %s", rt.Method, rt.Path, r.status, r.raw)
		}
	}
	for _, rt := range verify.Routes() {
		if !slices.Contains(documented, rt) {
			t.Errorf("route %s %s is not in the document", rt.Method, rt.Path)
		}
	}
	if string(verify.OpenAPI()) != r.raw {
		t.Error("the served document differs from verify.OpenAPI()")
	}
	e.checkAudit()
}

// TestKafkaUnreachable: with the audit writer pointed at a closed port, a
// call is answered 503 within 2 s and without an Audit-Id, whatever it
// asked: nothing is answered unaudited.
func TestKafkaUnreachable(t *testing.T) {
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	cfg := *e.cfg
	cfg.KafkaBrokers = []string{closed}
	base := e.server(&cfg)
	key := e.key("bank", verify.AllScopes(), 0)
	for _, c := range []struct {
		path, key string
		body      any
	}{
		{verify.PathVerify, key, verifyBody("hkid", "A1234563", "")},
		{verify.PathMatch, key, matchBody(doc("hkid", "A1234563"), doc("passport", "P1234567"))},
		{verify.PathVerify, "", verifyBody("hkid", "A1234563", "")},
		{verify.PathVerify, key, `{"document":`},
	} {
		start := time.Now()
		r := e.do(base, "POST", c.path, c.key, c.body)
		took := time.Since(start)
		if r.status != 503 || r.body["reason"] != verify.ReasonAuditUnavailable || r.header.Get(verify.AuditIDHeader) != "" || r.header.Get("Retry-After") == "" {
			t.Errorf("%s: %d %s %v, want 503 audit_unavailable with Retry-After and no Audit-Id", c.path, r.status, r.raw, r.header)
		}
		if took > 2*time.Second {
			t.Errorf("%s: answered after %s, want within 2s", c.path, took)
		}
	}
}

// TestRedisUnreachable: with keys and documents read from a closed port,
// a call is answered 503 key_store_unavailable within 2 s, and audited.
func TestRedisUnreachable(t *testing.T) {
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	rdb := redis.NewClient(&redis.Options{Addr: closed})
	defer rdb.Close()
	base := e.serverOn(nil, rdb)
	key := e.key("bank", verify.AllScopes(), 0)
	start := time.Now()
	r := e.do(base, "POST", verify.PathVerify, key, verifyBody("hkid", "A1234563", ""))
	if r.status != 503 || r.body["reason"] != verify.ReasonKeysUnavailable || r.header.Get(verify.AuditIDHeader) == "" || r.header.Get("Retry-After") == "" {
		t.Fatalf("%d %s %v, want 503 key_store_unavailable, audited, with Retry-After", r.status, r.raw, r.header)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("answered after %s, want within 2s", took)
	}
	// Refused before the key was known or the body read.
	e.calls[len(e.calls)-1].rp, e.calls[len(e.calls)-1].tokens = "", nil
	e.checkAudit()
}

// TestStatesBatched: IdentityStates, which gathers concurrent calls into
// batches read together, answers every call as identity.DocumentStates
// answers it alone, for known, unknown and repeated documents.
func TestStatesBatched(t *testing.T) {
	e := newEnv(t)
	var lines []string
	var tokens []string
	ps := producers.NewPseudonymizer(e.cfg.PseudonymKey)
	for i := range 40 {
		p := fmt.Sprintf("P%07d", i)
		lines = append(lines, `{"event_id":"b`+strconv.Itoa(i)+`","type":"insurance.enrolled","agency":"nhsa","occurred_at":"2025-03-01T09:00:00+08:00",`+
			`"documents":[{"type":"passport","number":"`+p+`"},{"type":"passport","number":"Q`+p[1:]+`"}],"attrs":{"scheme":"employee"}}`)
		tokens = append(tokens, ps.Token("passport", p), ps.Token("passport", "Q"+p[1:]), ps.Token("passport", "Z"+p[1:]))
	}
	e.resolve(lines...)
	store := identity.NewRedisStore(e.rdb, e.cfg.RedisPrefix, 0)
	states := verify.IdentityStates(store)
	var wg sync.WaitGroup
	for w := range 200 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 3))
			ask := make([]string, 1+r.IntN(8))
			for i := range ask {
				ask[i] = tokens[r.IntN(len(tokens))]
			}
			got, err := states(e.ctx, ask)
			if err != nil {
				t.Error(err)
				return
			}
			want, err := identity.DocumentStates(e.ctx, store, ask)
			if err != nil {
				t.Error(err)
				return
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("batched states %v, alone %v", got, want)
			}
		})
	}
	wg.Wait()
}

// TestStatesAfterMerge: a document whose cluster IdentityStates read before
// (and so remembers) is answered from its cluster now, once its cluster was
// absorbed by a merge: as identity.DocumentStates answers alone, the two
// documents one person with both types after the merge.
func TestStatesAfterMerge(t *testing.T) {
	e := newEnv(t)
	ev := func(id, typ, at string, docs ...string) string {
		var ds []string
		for _, d := range docs {
			t, n, _ := strings.Cut(d, ":")
			ds = append(ds, `{"type":"`+t+`","number":"`+n+`"}`)
		}
		return `{"event_id":"` + id + `","type":"` + typ + `","agency":"nhsa","occurred_at":"2025-03-0` + at + `T09:00:00+08:00",` +
			`"documents":[` + strings.Join(ds, ",") + `],"attrs":{"scheme":"employee"}}`
	}
	ps := producers.NewPseudonymizer(e.cfg.PseudonymKey)
	a, b := ps.Token("hkid", "A1234563"), ps.Token("passport", "P7000002")
	store := identity.NewRedisStore(e.rdb, e.cfg.RedisPrefix, 0)
	// The blobs of the clusters before the merge stay readable, as if a
	// cluster's deletion were lost: an answer must follow the pointers.
	zombies := &zombieStore{Store: store, blobs: map[string][]byte{}}
	states := verify.IdentityStates(zombies)
	check := func(sameWant bool) {
		t.Helper()
		got, err := states(e.ctx, []string{a, b})
		if err != nil {
			t.Fatal(err)
		}
		want, err := identity.DocumentStates(e.ctx, store, []string{a, b})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("batched states %+v %+v, alone %+v %+v", got[0], got[1], want[0], want[1])
		}
		if got[0] == nil || got[1] == nil || (got[0].PersonID == got[1].PersonID) != sameWant || (len(got[1].Types) == 2) != sameWant {
			t.Fatalf("states %+v %+v: same person %v wanted", got[0], got[1], sameWant)
		}
	}
	e.resolve(ev("m1", "insurance.enrolled", "1", "hkid:A1234563"), ev("m2", "insurance.enrolled", "1", "passport:P7000002"))
	for range 3 {
		check(false)
	}
	for _, tok := range []string{a, b} {
		cid, blob, err := store.ClusterOf(e.ctx, "doc", tok)
		if err != nil || blob == nil {
			t.Fatalf("cluster of a document: %q %v", cid, err)
		}
		zombies.blobs[cid] = blob
	}
	e.resolve(ev("m3", "insurance.enrolled", "2", "hkid:A1234563", "passport:P7000002"))
	for range 3 {
		check(true)
	}
}

// zombieStore answers LockLoad with blobs, for clusters the store no longer
// holds.
type zombieStore struct {
	identity.Store
	blobs map[string][]byte
}

func (z *zombieStore) LockLoad(ctx context.Context, locks, clusters, tokens, events []string) (map[string]bool, map[string][]byte, map[string]string, map[string]string, error) {
	got, blobs, docs, evs, err := z.Store.LockLoad(ctx, locks, clusters, tokens, events)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	for _, c := range clusters {
		if _, ok := blobs[c]; !ok && z.blobs[c] != nil {
			blobs[c] = z.blobs[c]
		}
	}
	return got, blobs, docs, evs, nil
}
