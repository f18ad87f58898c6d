package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/idlink/idlink/consumers/identity"
	"github.com/idlink/idlink/pipeline"
)

func cmdConflicts(ctx context.Context, a *app, args []string) int {
	fs := a.flags("conflicts", "[--json]")
	asJSON := fs.Bool("json", false, "print the conflicts as one JSON array")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if !a.noArgs(fs) {
		return 2
	}
	cfg, ok := a.config()
	if !ok {
		return 1
	}
	store, closeStore, err := identityStore(ctx, cfg)
	if err != nil {
		return a.fail(err)
	}
	defer closeStore()
	list, err := identity.ListConflicts(ctx, store)
	if err != nil {
		return a.fail(err)
	}
	if *asJSON {
		if err := json.NewEncoder(a.stdout).Encode(list); err != nil {
			return a.fail(err)
		}
		return 0
	}
	fmt.Fprintf(a.stdout, "%d conflicts held for review\n", len(list))
	for _, c := range list {
		fmt.Fprintf(a.stdout, "%s  %-34s %-32s %s held apart from %s (persons: %s)\n", c.OccurredAt, c.EventID, c.Reason, c.PersonID, c.OtherPersonID, strings.Join(c.PersonIDs, ", "))
	}
	return 0
}

// identityStore connects to the resolver's Redis and checks it answers.
func identityStore(ctx context.Context, cfg *pipeline.Config) (*identity.RedisStore, func() error, error) {
	rdb, err := cfg.Redis()
	if err != nil {
		return nil, nil, err
	}
	if err := cfg.PingRedis(ctx, rdb); err != nil {
		rdb.Close()
		return nil, nil, err
	}
	return identity.NewRedisStore(rdb, cfg.RedisPrefix, 0), rdb.Close, nil
}
