// Package verify is the verification API for relying parties (CONTRACT.md
// §6): POST /v1/verify and POST /v1/match over HTTP with JSON, authenticated
// by relying-party keys (KeyStore), every call recorded on the audit topic
// before it is answered (Auditor), described by the OpenAPI 3 document at
// /v1/openapi.json.
//
// What an answer may carry: whether the documents the caller sent are known,
// their status, whether they are one person's, the document types that
// person holds, whether a birth date the caller sent is the person's, and a
// person_ref that is a keyed hash of the person id per relying party (two
// relying parties get unrelated refs; one gets the same ref for a person as
// long as the person keeps its id, the survivor's after a merge). Never a
// document number, nor the token of a document the caller did not send.
package verify

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/idlink/idlink/consumers/identity"
	"github.com/idlink/idlink/documents"
	"github.com/idlink/idlink/producers"
	"github.com/idlink/idlink/schemas"
)

// The API's paths.
const (
	PathVerify  = "/v1/verify"
	PathMatch   = "/v1/match"
	PathOpenAPI = "/v1/openapi.json"
	// EndpointOther is the audit's endpoint for any other path (the path
	// itself is not recorded: callers choose it).
	EndpointOther = "other"
)

// AuditIDHeader names the audit record of a call in its answer (absent when
// the call could not be audited), for a relying party to quote.
const AuditIDHeader = "Audit-Id"

// Outcomes of a call, as the audit records them.
const (
	OutcomeOK               = "ok"
	OutcomeBadRequest       = "bad_request"
	OutcomeUnauthorized     = "unauthorized"
	OutcomeForbidden        = "forbidden"
	OutcomeNotFound         = "not_found"
	OutcomeMethodNotAllowed = "method_not_allowed"
	OutcomeTooLarge         = "too_large"
	OutcomeRateLimited      = "rate_limited"
	OutcomeUnavailable      = "unavailable"
	OutcomeInternalError    = "internal_error"
)

// Reasons of refusals other than 400s (see request.go) and 401s (keys.go).
const (
	ReasonNotFound          = "not_found"
	ReasonMethodNotAllowed  = "method_not_allowed"
	ReasonScopeNotGranted   = "scope_not_granted"
	ReasonRateLimited       = "rate_limited"
	ReasonBodyTooLarge      = "body_too_large"
	ReasonUnreadableBody    = "unreadable_body"
	ReasonKeysUnavailable   = "key_store_unavailable"
	ReasonLookupUnavailable = "lookup_unavailable"
	ReasonAuditUnavailable  = "audit_unavailable"
	ReasonInternal          = "internal_error"
)

// States returns one entry per token, nil for a document no person holds.
type States func(ctx context.Context, tokens []string) ([]*identity.DocumentState, error)

// Options configure a Server.
type Options struct {
	States States
	Keys   *KeyStore
	Audit  *Auditor
	// PseudonymKey is IDLINK_PSEUDONYM_KEY: it makes document tokens (as
	// the producer does) and, derived from it, person refs.
	PseudonymKey []byte
	Log          *slog.Logger
	// LookupTimeout bounds the key and document reads of one call (default
	// 1s); a call whose reads take longer is answered 503.
	LookupTimeout time.Duration
	// AuditWait is how long after its arrival a call may wait for Kafka to
	// acknowledge its audit record (default 1.5s, at least 200ms after the
	// answer was decided); then it is answered 503.
	AuditWait time.Duration
}

// Server serves the verification API. It is safe for concurrent use.
type Server struct {
	o       Options
	refKey  []byte
	tokens  sync.Pool // *producers.Pseudonymizer
	refs    sync.Pool // hash.Hash
	idBase  [8]byte
	idSeq   atomic.Uint64
	limitMu sync.Mutex
	limits  map[string]*rate.Limiter // key id -> its bucket
}

// NewServer checks o and returns a server.
func NewServer(o Options) (*Server, error) {
	switch {
	case o.States == nil || o.Keys == nil || o.Audit == nil:
		return nil, errors.New("verify: States, Keys and Audit are required")
	case len(o.PseudonymKey) < 16:
		return nil, errors.New("verify: the pseudonym key is shorter than 16 bytes")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.LookupTimeout <= 0 {
		o.LookupTimeout = time.Second
	}
	if o.AuditWait <= 0 {
		o.AuditWait = 1500 * time.Millisecond
	}
	s := &Server{o: o, limits: map[string]*rate.Limiter{}}
	mac := hmac.New(sha256.New, o.PseudonymKey)
	mac.Write([]byte("idlink person_ref v1"))
	s.refKey = mac.Sum(nil)
	s.tokens.New = func() any { return producers.NewPseudonymizer(o.PseudonymKey) }
	s.refs.New = func() any { return hmac.New(sha256.New, s.refKey) }
	if _, err := rand.Read(s.idBase[:]); err != nil {
		return nil, fmt.Errorf("verify: choosing the audit id base: %w", err)
	}
	return s, nil
}

// token is the producer's token of a normalised number.
func (s *Server) token(t documents.Type, number string) string {
	p := s.tokens.Get().(*producers.Pseudonymizer)
	tok := p.Token(t, number)
	s.tokens.Put(p)
	return tok
}

// PersonRef is the person_ref relying party rp gets for person id: 32 hex
// digits of HMAC-SHA256 under a key derived from the pseudonym key.
func (s *Server) PersonRef(rp, personID string) string {
	h := s.refs.Get().(hash.Hash)
	h.Reset()
	var lens [4]byte
	binary.BigEndian.PutUint32(lens[:], uint32(len(rp)))
	h.Write(lens[:])
	h.Write([]byte(rp))
	h.Write([]byte(personID))
	var sum [sha256.Size]byte
	out := hex.EncodeToString(h.Sum(sum[:0])[:16])
	s.refs.Put(h)
	return out
}

// auditID is unique per call: a random base per server and a counter.
func (s *Server) auditID() string {
	var b [16]byte
	copy(b[:8], s.idBase[:])
	binary.BigEndian.PutUint64(b[8:], s.idSeq.Add(1))
	return hex.EncodeToString(b[:])
}

// answer is what a call is answered, before its audit is written.
type answer struct {
	status  int
	reason  string // of a refusal
	body    []byte
	headers [][2]string
}

// ServeHTTP answers one call. Every call but GET /v1/openapi.json is
// recorded with the Auditor and answered only once Kafka has acknowledged
// the record; if it does not within AuditWait, the answer is 503.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.URL.Path == PathOpenAPI && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		serveOpenAPI(w, r)
		return
	}
	rec := &schemas.AuditLookup{AuditID: s.auditID(), RequestedAt: start, Endpoint: EndpointOther}
	a := s.answerSafely(w, r, rec)
	decided := time.Now()
	rec.Status, rec.Outcome, rec.Reason = a.status, outcomeOf(a.status), a.reason
	rec.Latency = decided.Sub(start)
	deadline := start.Add(s.o.AuditWait)
	if floor := decided.Add(200 * time.Millisecond); deadline.Before(floor) {
		deadline = floor
	}
	ctx, cancel := context.WithDeadline(context.WithoutCancel(r.Context()), deadline)
	err := s.o.Audit.Record(ctx, rec)
	cancel()
	if err != nil {
		s.o.Log.Warn("verification API: a call was answered 503, its audit record was not acknowledged", "endpoint", rec.Endpoint, "err", err)
		a = s.refuse(http.StatusServiceUnavailable, ReasonAuditUnavailable, "", "the call could not be audited; try again later")
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	for _, kv := range a.headers {
		h.Set(kv[0], kv[1])
	}
	if a.status == http.StatusServiceUnavailable && h.Get("Retry-After") == "" {
		h.Set("Retry-After", "1")
	}
	if err == nil {
		h.Set(AuditIDHeader, rec.AuditID)
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

// answerSafely is answer, with a panic turned into a 500 that is audited
// and logged (a panic is a bug).
func (s *Server) answerSafely(w http.ResponseWriter, r *http.Request, rec *schemas.AuditLookup) (a answer) {
	defer func() {
		if p := recover(); p != nil {
			s.o.Log.Error("verification API: panic answering a call", "endpoint", rec.Endpoint, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			a = s.refuse(http.StatusInternalServerError, ReasonInternal, "", "")
		}
	}()
	return s.answer(w, r, rec)
}

func outcomeOf(status int) string {
	switch status {
	case http.StatusOK:
		return OutcomeOK
	case http.StatusBadRequest:
		return OutcomeBadRequest
	case http.StatusUnauthorized:
		return OutcomeUnauthorized
	case http.StatusForbidden:
		return OutcomeForbidden
	case http.StatusNotFound:
		return OutcomeNotFound
	case http.StatusMethodNotAllowed:
		return OutcomeMethodNotAllowed
	case http.StatusRequestEntityTooLarge:
		return OutcomeTooLarge
	case http.StatusTooManyRequests:
		return OutcomeRateLimited
	case http.StatusServiceUnavailable:
		return OutcomeUnavailable
	}
	return OutcomeInternalError
}

// refuse is an error answer {"reason", "field", "detail"}; field and detail
// are left out when empty.
func (s *Server) refuse(status int, reason, field, detail string) answer {
	b := make([]byte, 0, 96+len(detail))
	b = append(b, `{"reason":`...)
	b = strconv.AppendQuote(b, reason)
	if field != "" {
		b = append(b, `,"field":`...)
		b = strconv.AppendQuote(b, field)
	}
	if detail != "" {
		b = append(b, `,"detail":`...)
		b = strconv.AppendQuote(b, detail)
	}
	return answer{status: status, reason: reason, body: append(b, "}\n"...)}
}

// answer decides the answer of one call and fills rec with what the audit
// records of it.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, rec *schemas.AuditLookup) answer {
	var scope string
	switch r.URL.Path {
	case PathVerify:
		scope = ScopeVerify
	case PathMatch:
		scope = ScopeMatch
	case PathOpenAPI:
		a := s.refuse(http.StatusMethodNotAllowed, ReasonMethodNotAllowed, "", "GET "+PathOpenAPI)
		a.headers = append(a.headers, [2]string{"Allow", "GET, HEAD"})
		return a
	default:
		return s.refuse(http.StatusNotFound, ReasonNotFound, "", "the API has POST "+PathVerify+", POST "+PathMatch+" and GET "+PathOpenAPI)
	}
	rec.Endpoint = r.URL.Path
	if r.Method != http.MethodPost {
		a := s.refuse(http.StatusMethodNotAllowed, ReasonMethodNotAllowed, "", "use POST")
		a.headers = append(a.headers, [2]string{"Allow", http.MethodPost})
		return a
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.o.LookupTimeout)
	defer cancel()

	key, reason, err := s.o.Keys.Authenticate(ctx, bearer(r.Header.Get("Authorization")))
	if key != nil {
		rec.RelyingParty, rec.KeyID = key.RelyingParty, key.ID
	}
	if err != nil {
		s.o.Log.Warn("verification API: reading a key failed", "err", err)
		return s.refuse(http.StatusServiceUnavailable, ReasonKeysUnavailable, "", "the key store did not answer; try again later")
	}
	if reason != "" {
		a := s.refuse(http.StatusUnauthorized, reason, "", "send Authorization: Bearer KEY with a key from `idlink api-keys create`")
		a.headers = append(a.headers, [2]string{"WWW-Authenticate", `Bearer realm="idlink"`})
		return a
	}
	if !key.Allows(scope) {
		return s.refuse(http.StatusForbidden, ReasonScopeNotGranted, "", "the key does not grant scope "+scope)
	}
	if wait := s.reserve(key); wait > 0 {
		a := s.refuse(http.StatusTooManyRequests, ReasonRateLimited, "", fmt.Sprintf("over the key's rate of %d requests per second", key.Rate))
		a.headers = append(a.headers, [2]string{"Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds())))})
		return a
	}
	if r.ContentLength > MaxBody {
		return s.refuse(http.StatusRequestEntityTooLarge, ReasonBodyTooLarge, "", fmt.Sprintf("a body is at most %d bytes", MaxBody))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return s.refuse(http.StatusRequestEntityTooLarge, ReasonBodyTooLarge, "", fmt.Sprintf("a body is at most %d bytes", MaxBody))
		}
		return s.refuse(http.StatusBadRequest, ReasonUnreadableBody, "", "the body could not be read")
	}
	if scope == ScopeVerify {
		return s.verify(ctx, key, body, rec)
	}
	return s.match(ctx, body, rec)
}

// bearer returns the credential of an Authorization header "Bearer KEY"
// (the scheme in any case), or "".
func bearer(h string) string {
	const scheme = "bearer "
	if len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return ""
	}
	return strings.TrimSpace(h[len(scheme):])
}

// reserve takes a token from the key's bucket and returns zero, or how long
// until one is there (the call is then refused and takes none). A bucket
// holds one second's worth of tokens.
func (s *Server) reserve(k *Key) time.Duration {
	if k.Rate <= 0 {
		return 0
	}
	s.limitMu.Lock()
	lim := s.limits[k.ID]
	if lim == nil {
		lim = rate.NewLimiter(rate.Limit(k.Rate), k.Rate)
		s.limits[k.ID] = lim
	}
	s.limitMu.Unlock()
	now := time.Now()
	if lim.Limit() != rate.Limit(k.Rate) {
		lim.SetLimitAt(now, rate.Limit(k.Rate))
		lim.SetBurstAt(now, k.Rate)
	}
	if lim.AllowN(now, 1) {
		return 0
	}
	missing := 1 - lim.TokensAt(now)
	return max(time.Duration(missing/float64(k.Rate)*float64(time.Second)), time.Millisecond)
}

// lookup reads the states of docs' tokens.
func (s *Server) lookup(ctx context.Context, docs []doc) ([]*identity.DocumentState, error) {
	tokens := make([]string, len(docs))
	for i, d := range docs {
		tokens[i] = d.token
	}
	states, err := s.o.States(ctx, tokens)
	if err == nil && len(states) != len(tokens) {
		err = fmt.Errorf("%d states for %d documents", len(states), len(tokens))
	}
	return states, err
}

func (s *Server) verify(ctx context.Context, key *Key, body []byte, rec *schemas.AuditLookup) answer {
	d, birthDate, bad := s.parseVerify(body, rec)
	if bad != nil {
		return s.refuse(http.StatusBadRequest, bad.Reason, bad.Field, bad.Detail)
	}
	states, err := s.lookup(ctx, []doc{d})
	if err != nil {
		s.o.Log.Warn("verification API: reading a document's state failed", "err", err)
		return s.refuse(http.StatusServiceUnavailable, ReasonLookupUnavailable, "", "the identity store did not answer; try again later")
	}
	st := states[0]
	b := make([]byte, 0, 192)
	if st == nil {
		b = append(b, `{"known":false,"status":"unknown","person_ref":null,"document_types":[],"birth_date_match":null}`...)
		return answer{status: http.StatusOK, body: append(b, '\n')}
	}
	b = append(b, `{"known":true,"status":`...)
	b = strconv.AppendQuote(b, st.Status)
	b = append(b, `,"person_ref":"`...)
	b = append(b, s.PersonRef(key.RelyingParty, st.PersonID)...)
	b = append(b, `","document_types":[`...)
	for i, t := range st.Types {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, t)
	}
	b = append(b, `],"birth_date_match":`...)
	switch {
	case birthDate == "" || len(st.BirthDates) == 0:
		b = append(b, "null"...)
	case !slices.ContainsFunc(st.BirthDates, func(d string) bool { return d != birthDate }):
		b = append(b, "true"...)
	default:
		b = append(b, "false"...)
	}
	return answer{status: http.StatusOK, body: append(b, "}\n"...)}
}

func (s *Server) match(ctx context.Context, body []byte, rec *schemas.AuditLookup) answer {
	docs, bad := s.parseMatch(body, rec)
	if bad != nil {
		return s.refuse(http.StatusBadRequest, bad.Reason, bad.Field, bad.Detail)
	}
	states, err := s.lookup(ctx, docs)
	if err != nil {
		s.o.Log.Warn("verification API: reading documents' states failed", "err", err)
		return s.refuse(http.StatusServiceUnavailable, ReasonLookupUnavailable, "", "the identity store did not answer; try again later")
	}
	same := true
	b := make([]byte, 0, 64+6*len(states))
	b = append(b, `,"known":[`...)
	for i, st := range states {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendBool(b, st != nil)
		if st == nil || states[0] == nil || st.PersonID != states[0].PersonID {
			same = false
		}
	}
	b = append(b, "]}\n"...)
	head := []byte(`{"same_person":` + strconv.FormatBool(same))
	return answer{status: http.StatusOK, body: append(head, b...)}
}
