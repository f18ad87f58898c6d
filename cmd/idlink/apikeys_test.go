package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/idlink/idlink/internal/stacktest"
)

// TestAPIKeysBadUse: wrong flags and arguments of `idlink api-keys` and
// `idlink audit` fail with exit 2 (3 for a key that does not exist) and a
// message naming the fix.
func TestAPIKeysBadUse(t *testing.T) {
	cfg := stacktest.Config(t)
	env := map[string]string{"IDLINK_REDIS_PREFIX": cfg.RedisPrefix, "CLICKHOUSE_DATABASE": cfg.ClickHouseDatabase}
	tests := []struct {
		args []string
		code int
		says string
	}{
		{[]string{"api-keys"}, 2, "create --relying-party NAME"},
		{[]string{"api-keys", "rotate"}, 2, "use create, list or revoke"},
		{[]string{"api-keys", "create"}, 2, "--relying-party NAME"},
		{[]string{"api-keys", "create", "--relying-party", "bank a"}, 2, "letters, digits"},
		{[]string{"api-keys", "create", "--relying-party", "bank", "--scopes", "verify,lookup"}, 2, `unknown scope "lookup"`},
		{[]string{"api-keys", "create", "--relying-party", "bank", "--scopes", "verify,verify"}, 2, "named twice"},
		{[]string{"api-keys", "create", "--relying-party", "bank", "--rate", "-1"}, 2, "--rate"},
		{[]string{"api-keys", "list", "extra"}, 2, "unexpected argument"},
		{[]string{"api-keys", "revoke"}, 2, "the id of one key"},
		{[]string{"api-keys", "revoke", "0123456789abcdef"}, 3, "idlink api-keys list"},
		{[]string{"audit"}, 2, "--doc-type and --number"},
		{[]string{"audit", "--doc-type", "visa", "--number", "1"}, 2, "residence_permit"},
		{[]string{"audit", "--doc-type", "hkid", "--number", "A1234560"}, 2, "not a valid hkid"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			a, _, errb := serveApp(env)
			if code := a.main(t.Context(), tt.args); code != tt.code || !strings.Contains(errb.String(), tt.says) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, errb, tt.code, tt.says)
			}
			if strings.Contains(errb.String(), "A1234560") {
				t.Fatalf("stderr echoes the number: %s", errb)
			}
		})
	}
}

// TestServeAPIBadStart: a verification API address that is taken or
// invalid fails `idlink serve` at once, naming --api-addr and
// IDLINK_API_ADDR.
func TestServeAPIBadStart(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		says []string
	}{
		{"--api-addr in use", []string{"serve", "--addr", "127.0.0.1:0", "--api-addr", addr}, nil, []string{addr, "verification API", "address already in use", "--api-addr", "IDLINK_API_ADDR"}},
		{"IDLINK_API_ADDR in use", []string{"serve", "--addr", "127.0.0.1:0"}, map[string]string{"IDLINK_API_ADDR": addr}, []string{addr, "--api-addr"}},
		{"bad address", []string{"serve", "--addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:notaport"}, nil, []string{"127.0.0.1:notaport", "IDLINK_API_ADDR", "off"}},
		{"no pseudonym key", []string{"serve", "--addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0"}, map[string]string{"IDLINK_PSEUDONYM_KEY": "short"}, []string{"IDLINK_PSEUDONYM_KEY", "--api-addr off"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _, errb := serveApp(tt.env)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			start := time.Now()
			if code := a.main(ctx, tt.args); code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", code, errb)
			}
			for _, s := range tt.says {
				if !strings.Contains(errb.String(), s) {
					t.Errorf("stderr does not mention %q:\n%s", s, errb)
				}
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s to fail", d)
			}
		})
	}
}
