package verify

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Scopes a key may grant: one per endpoint.
const (
	ScopeVerify = "verify"
	ScopeMatch  = "match"
)

// AllScopes lists every scope, in the order keys show them.
func AllScopes() []string { return []string{ScopeVerify, ScopeMatch} }

// DefaultRate is the rate, in requests per second, of a key created without
// one.
const DefaultRate = 100

// KeyCacheTTL is how long a serve process trusts what it read about a key.
// A key revoked in Redis is refused by every process at most this long
// later; it is under the second CONTRACT.md §6 allows.
const KeyCacheTTL = 500 * time.Millisecond

// Key is a relying party's credential as the store keeps it: never the key
// itself, only its SHA-256.
type Key struct {
	ID           string    `json:"id"`
	RelyingParty string    `json:"relying_party"`
	Scopes       []string  `json:"scopes"`
	Rate         int       `json:"rate"` // requests per second; 0 means no limit
	CreatedAt    time.Time `json:"created_at"`
	RevokedAt    time.Time `json:"revoked_at,omitzero"`
	hash         []byte
}

// Revoked reports whether the key was revoked.
func (k *Key) Revoked() bool { return !k.RevokedAt.IsZero() }

// Allows reports whether the key grants scope.
func (k *Key) Allows(scope string) bool { return slices.Contains(k.Scopes, scope) }

// Key strings are keyPrefix, the 16-hex-digit id, '_', and 43 characters of
// base64url (32 random bytes).
const (
	keyPrefix = "idlk_"
	idLen     = 16
	secretLen = 43
	keyLen    = len(keyPrefix) + idLen + 1 + secretLen
)

var relyingPartyRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ValidRelyingParty reports why name cannot name a relying party, or "".
func ValidRelyingParty(name string) string {
	if !relyingPartyRE.MatchString(name) {
		return "a relying party is 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit"
	}
	return ""
}

// ParseScopes reads a comma-separated scope list ("verify,match"); every
// scope must be known and none may repeat.
func ParseScopes(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(AllScopes(), p) {
			return nil, fmt.Errorf("unknown scope %q: use %s", p, strings.Join(AllScopes(), ", "))
		}
		if slices.Contains(out, p) {
			return nil, fmt.Errorf("scope %q named twice", p)
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return slices.Index(AllScopes(), out[i]) < slices.Index(AllScopes(), out[j]) })
	return out, nil
}

// KeyStore keeps relying parties' keys in Redis, each under its own key, so
// it runs on a Redis Cluster as well. Keys (P = the configured prefix):
//
//	P api:key:<id>  hash  relying_party, scopes, rate, hash (hex SHA-256 of the key), created_at, revoked_at
//	P api:keys      set   every key id
//
// Authenticate caches what it read for KeyCacheTTL.
type KeyStore struct {
	rdb    redis.UniversalClient
	prefix string
	now    func() time.Time

	mu      sync.Mutex
	cache   map[string]*cachedKey // key id -> what Redis said
	pending map[string]*fetch     // key id -> read in flight
}

type cachedKey struct {
	key     *Key // nil: no such key
	fetched time.Time
}

type fetch struct {
	done chan struct{}
	key  *Key
	err  error
}

// fetchTimeout bounds one read of a key from Redis.
const fetchTimeout = time.Second

// maxCachedUnknown bounds the cache entries for ids the store does not know
// (callers may present any id).
const maxCachedUnknown = 10000

// NewKeyStore returns a store over rdb with keys under prefix + "api:".
func NewKeyStore(rdb redis.UniversalClient, prefix string) *KeyStore {
	return &KeyStore{rdb: rdb, prefix: prefix + "api:", now: time.Now, cache: map[string]*cachedKey{}, pending: map[string]*fetch{}}
}

func (s *KeyStore) keyOf(id string) string { return s.prefix + "key:" + id }
func (s *KeyStore) setKey() string         { return s.prefix + "keys" }

// Create makes a key for a relying party and returns it with the key
// string, which the store does not keep: it can be shown once only.
func (s *KeyStore) Create(ctx context.Context, relyingParty string, scopes []string, rate int) (*Key, string, error) {
	if why := ValidRelyingParty(relyingParty); why != "" {
		return nil, "", fmt.Errorf("relying party %q: %s", relyingParty, why)
	}
	if len(scopes) == 0 {
		return nil, "", errors.New("a key needs at least one scope")
	}
	for _, sc := range scopes {
		if !slices.Contains(AllScopes(), sc) {
			return nil, "", fmt.Errorf("unknown scope %q: use %s", sc, strings.Join(AllScopes(), ", "))
		}
	}
	if rate < 0 {
		return nil, "", fmt.Errorf("rate %d is negative: give requests per second, or 0 for no limit", rate)
	}
	var raw [8 + 32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, "", fmt.Errorf("making a key: %w", err)
	}
	id := hex.EncodeToString(raw[:8])
	secret := keyPrefix + id + "_" + base64.RawURLEncoding.EncodeToString(raw[8:])
	sum := sha256.Sum256([]byte(secret))
	k := &Key{ID: id, RelyingParty: relyingParty, Scopes: slices.Clone(scopes), Rate: rate, CreatedAt: s.now().UTC().Truncate(time.Second), hash: sum[:]}
	ok, err := s.rdb.HSetNX(ctx, s.keyOf(id), "hash", hex.EncodeToString(sum[:])).Result()
	if err != nil {
		return nil, "", fmt.Errorf("storing the key in Redis: %w", err)
	}
	if !ok {
		return nil, "", fmt.Errorf("key id %s exists already: create the key again", id)
	}
	if err := s.rdb.HSet(ctx, s.keyOf(id), "relying_party", relyingParty, "scopes", strings.Join(k.Scopes, ","),
		"rate", strconv.Itoa(rate), "created_at", k.CreatedAt.Format(time.RFC3339), "revoked_at", "").Err(); err != nil {
		return nil, "", fmt.Errorf("storing the key in Redis: %w", err)
	}
	if err := s.rdb.SAdd(ctx, s.setKey(), id).Err(); err != nil {
		return nil, "", fmt.Errorf("storing the key in Redis: %w", err)
	}
	return k, secret, nil
}

// Get returns the key with id, or nil when there is none.
func (s *KeyStore) Get(ctx context.Context, id string) (*Key, error) {
	if !validID(id) {
		return nil, nil
	}
	m, err := s.rdb.HGetAll(ctx, s.keyOf(id)).Result()
	if err != nil {
		return nil, fmt.Errorf("reading key %s from Redis: %w", id, err)
	}
	if m["hash"] == "" || m["relying_party"] == "" {
		return nil, nil // none, or Create has not finished writing it
	}
	k := &Key{ID: id, RelyingParty: m["relying_party"]}
	if k.hash, err = hex.DecodeString(m["hash"]); err != nil || len(k.hash) != sha256.Size {
		return nil, fmt.Errorf("key %s in Redis has a malformed hash", id)
	}
	if m["scopes"] != "" {
		k.Scopes = strings.Split(m["scopes"], ",")
	}
	if k.Rate, err = strconv.Atoi(m["rate"]); err != nil {
		return nil, fmt.Errorf("key %s in Redis has a malformed rate %q", id, m["rate"])
	}
	if k.CreatedAt, err = time.Parse(time.RFC3339, m["created_at"]); err != nil {
		return nil, fmt.Errorf("key %s in Redis has a malformed created_at: %w", id, err)
	}
	if v := m["revoked_at"]; v != "" {
		if k.RevokedAt, err = time.Parse(time.RFC3339, v); err != nil {
			return nil, fmt.Errorf("key %s in Redis has a malformed revoked_at: %w", id, err)
		}
	}
	return k, nil
}

// List returns every key, oldest first.
func (s *KeyStore) List(ctx context.Context) ([]*Key, error) {
	ids, err := s.rdb.SMembers(ctx, s.setKey()).Result()
	if err != nil {
		return nil, fmt.Errorf("listing keys in Redis: %w", err)
	}
	out := make([]*Key, 0, len(ids))
	for _, id := range ids {
		k, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if k != nil {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// ErrNoKey is returned by Revoke for an id the store does not know.
var ErrNoKey = errors.New("no such key")

// Revoke marks the key revoked; every serve process refuses it within
// KeyCacheTTL. Revoking a revoked key changes nothing. It returns the key.
func (s *KeyStore) Revoke(ctx context.Context, id string) (*Key, error) {
	k, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if k == nil {
		return nil, fmt.Errorf("%w %q (see `idlink api-keys list`)", ErrNoKey, id)
	}
	if k.Revoked() {
		return k, nil
	}
	k.RevokedAt = s.now().UTC().Truncate(time.Second)
	if err := s.rdb.HSet(ctx, s.keyOf(id), "revoked_at", k.RevokedAt.Format(time.RFC3339)).Err(); err != nil {
		return nil, fmt.Errorf("revoking key %s in Redis: %w", id, err)
	}
	s.mu.Lock()
	delete(s.cache, id)
	s.mu.Unlock()
	return k, nil
}

// Refusal reasons of Authenticate.
const (
	ReasonMissingKey = "missing_key" // no Authorization: Bearer header
	ReasonUnknownKey = "unknown_key" // not a key the store holds
	ReasonRevokedKey = "revoked_key"
)

// Authenticate returns the key a request presented (the Authorization
// header's Bearer credential). A refused key gives a reason and, when the
// store knows its id, the key. An error means Redis could not say.
func (s *KeyStore) Authenticate(ctx context.Context, presented string) (k *Key, reason string, err error) {
	if presented == "" {
		return nil, ReasonMissingKey, nil
	}
	id, ok := keyID(presented)
	if !ok {
		return nil, ReasonUnknownKey, nil
	}
	k, err = s.cached(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if k == nil {
		return nil, ReasonUnknownKey, nil
	}
	sum := sha256.Sum256([]byte(presented))
	if subtle.ConstantTimeCompare(sum[:], k.hash) != 1 {
		return nil, ReasonUnknownKey, nil // the id is known, the secret is not its
	}
	if k.Revoked() {
		return k, ReasonRevokedKey, nil
	}
	return k, "", nil
}

// keyID returns the id part of a well-formed key string.
func keyID(key string) (string, bool) {
	if len(key) != keyLen || !strings.HasPrefix(key, keyPrefix) || key[len(keyPrefix)+idLen] != '_' {
		return "", false
	}
	id := key[len(keyPrefix) : len(keyPrefix)+idLen]
	return id, validID(id)
}

// validID reports whether id is a key id: 16 lower-case hex digits.
func validID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// cached returns the key with id as read from Redis at most KeyCacheTTL
// ago; concurrent misses for one id share one read.
func (s *KeyStore) cached(ctx context.Context, id string) (*Key, error) {
	now := s.now()
	s.mu.Lock()
	if c, ok := s.cache[id]; ok && now.Sub(c.fetched) < KeyCacheTTL {
		s.mu.Unlock()
		return c.key, nil
	}
	f, ok := s.pending[id]
	if !ok {
		f = &fetch{done: make(chan struct{})}
		s.pending[id] = f
		s.mu.Unlock()
		start := s.now()
		// The read is shared: one caller going away must not fail the others.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		f.key, f.err = s.Get(fctx, id)
		cancel()
		s.mu.Lock()
		delete(s.pending, id)
		if f.err == nil {
			if f.key == nil && len(s.cache) >= maxCachedUnknown {
				s.sweep(s.now())
			}
			if f.key != nil || len(s.cache) < maxCachedUnknown {
				s.cache[id] = &cachedKey{key: f.key, fetched: start}
			}
		}
		s.mu.Unlock()
		close(f.done)
		return f.key, f.err
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.key, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// sweep drops the cache entries older than KeyCacheTTL; s.mu is held.
func (s *KeyStore) sweep(now time.Time) {
	for id, c := range s.cache {
		if now.Sub(c.fetched) >= KeyCacheTTL {
			delete(s.cache, id)
		}
	}
}
