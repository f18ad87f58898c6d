package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/idlink/idlink/verify"
)

// cmdAPIKeys manages relying parties' keys for the verification API:
// create (the key is printed once), list, revoke.
func cmdAPIKeys(ctx context.Context, a *app, args []string) int {
	usage := "idlink api-keys create --relying-party NAME [--scopes verify,match] [--rate N] [--json] | list [--json] | revoke [--json] ID"
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(a.stderr, "usage: "+usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "create":
		return apiKeysCreate(ctx, a, args[1:])
	case "list":
		return apiKeysList(ctx, a, args[1:])
	case "revoke":
		return apiKeysRevoke(ctx, a, args[1:])
	}
	fmt.Fprintf(a.stderr, "idlink api-keys: unknown subcommand %q: use create, list or revoke\nusage: %s\n", args[0], usage)
	return 2
}

// keyStore opens the key store of cfg's Redis.
func (a *app) keyStore(ctx context.Context) (*verify.KeyStore, func() error, bool) {
	cfg, ok := a.config()
	if !ok {
		return nil, nil, false
	}
	rdb, err := cfg.Redis()
	if err != nil {
		a.fail(err)
		return nil, nil, false
	}
	if err := cfg.PingRedis(ctx, rdb); err != nil {
		rdb.Close()
		a.fail(err)
		return nil, nil, false
	}
	return verify.NewKeyStore(rdb, cfg.RedisPrefix), rdb.Close, true
}

func apiKeysCreate(ctx context.Context, a *app, args []string) int {
	fs := a.flags("api-keys create", "--relying-party NAME [--scopes verify,match] [--rate N] [--json]")
	rp := fs.String("relying-party", "", "the relying party the key is for (e.g. bank_a, douyin): its person_refs and its audit carry this name")
	scopes := fs.String("scopes", strings.Join(verify.AllScopes(), ","), "comma-separated endpoints the key may call: "+strings.Join(verify.AllScopes(), ", "))
	rate := fs.Int("rate", verify.DefaultRate, "requests per second the key may make (token bucket, per serve process); 0: no limit")
	asJSON := fs.Bool("json", false, "print the key as one JSON document")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if !a.noArgs(fs) {
		return 2
	}
	if *rp == "" {
		fmt.Fprintln(a.stderr, "idlink api-keys create: pass --relying-party NAME (e.g. --relying-party bank_a)")
		return 2
	}
	if why := verify.ValidRelyingParty(*rp); why != "" {
		fmt.Fprintf(a.stderr, "idlink api-keys create: --relying-party %q: %s\n", *rp, why)
		return 2
	}
	sc, err := verify.ParseScopes(*scopes)
	if err != nil {
		fmt.Fprintf(a.stderr, "idlink api-keys create: --scopes: %v\n", err)
		return 2
	}
	if *rate < 0 {
		fmt.Fprintln(a.stderr, "idlink api-keys create: --rate must be 0 (no limit) or a positive number of requests per second")
		return 2
	}
	ks, closeStore, ok := a.keyStore(ctx)
	if !ok {
		return 1
	}
	defer closeStore()
	k, secret, err := ks.Create(ctx, *rp, sc, *rate)
	if err != nil {
		return a.fail(err)
	}
	if *asJSON {
		out := struct {
			*verify.Key
			Secret string `json:"key"`
		}{k, secret}
		if err := json.NewEncoder(a.stdout).Encode(out); err != nil {
			return a.fail(err)
		}
		return 0
	}
	fmt.Fprintf(a.stdout, "id:            %s\nrelying party: %s\nscopes:        %s\nrate:          %s\nkey:           %s\n",
		k.ID, k.RelyingParty, strings.Join(k.Scopes, ","), rateText(k.Rate), secret)
	fmt.Fprintln(a.stderr, "The key is shown this once; idlink keeps only its hash. Callers send it as Authorization: Bearer KEY.")
	return 0
}

func rateText(r int) string {
	if r == 0 {
		return "no limit"
	}
	return fmt.Sprintf("%d/s", r)
}

func apiKeysList(ctx context.Context, a *app, args []string) int {
	fs := a.flags("api-keys list", "[--json]")
	asJSON := fs.Bool("json", false, "print the keys as one JSON array")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if !a.noArgs(fs) {
		return 2
	}
	ks, closeStore, ok := a.keyStore(ctx)
	if !ok {
		return 1
	}
	defer closeStore()
	keys, err := ks.List(ctx)
	if err != nil {
		return a.fail(err)
	}
	if *asJSON {
		if keys == nil {
			keys = []*verify.Key{}
		}
		if err := json.NewEncoder(a.stdout).Encode(keys); err != nil {
			return a.fail(err)
		}
		return 0
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRELYING PARTY\tSCOPES\tRATE\tCREATED\tREVOKED")
	for _, k := range keys {
		revoked := "-"
		if k.Revoked() {
			revoked = k.RevokedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.RelyingParty, strings.Join(k.Scopes, ","), rateText(k.Rate), k.CreatedAt.Format(time.RFC3339), revoked)
	}
	if err := tw.Flush(); err != nil {
		return a.fail(err)
	}
	return 0
}

func apiKeysRevoke(ctx context.Context, a *app, args []string) int {
	fs := a.flags("api-keys revoke", "[--json] ID")
	asJSON := fs.Bool("json", false, "print the revoked key as one JSON document")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(a.stderr, "idlink api-keys revoke: pass the id of one key (see `idlink api-keys list`); flags go before it")
		return 2
	}
	ks, closeStore, ok := a.keyStore(ctx)
	if !ok {
		return 1
	}
	defer closeStore()
	k, err := ks.Revoke(ctx, fs.Arg(0))
	if errors.Is(err, verify.ErrNoKey) {
		fmt.Fprintf(a.stderr, "idlink api-keys revoke: %v\n", err)
		return 3
	}
	if err != nil {
		return a.fail(err)
	}
	if *asJSON {
		if err := json.NewEncoder(a.stdout).Encode(k); err != nil {
			return a.fail(err)
		}
		return 0
	}
	fmt.Fprintf(a.stdout, "revoked %s (%s) at %s; every `idlink serve` refuses it within %s\n", k.ID, k.RelyingParty, k.RevokedAt.Format(time.RFC3339), verify.KeyCacheTTL)
	return 0
}
