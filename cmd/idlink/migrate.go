package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/idlink/idlink/analytics"
)

// cmdMigrate applies the ClickHouse migrations that are not applied yet.
func cmdMigrate(ctx context.Context, a *app, args []string) int {
	fs := a.flags("migrate", "[--json]")
	asJSON := fs.Bool("json", false, `print {"database": ..., "applied": [...], "versions": [...]}`)
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
	store, err := analytics.Open(ctx, cfg)
	if err != nil {
		return a.fail(err)
	}
	defer store.Close()
	applied, err := store.Migrate(ctx)
	if err != nil {
		return a.fail(err)
	}
	done, err := store.AppliedVersions(ctx)
	if err != nil {
		return a.fail(err)
	}
	versions := make([]int, 0, len(done))
	for v := range done {
		versions = append(versions, v)
	}
	sort.Ints(versions)
	names := make([]string, len(applied))
	for i, m := range applied {
		names[i] = m.Name
	}
	if *asJSON {
		out := map[string]any{"database": store.Database(), "applied": names, "versions": versions}
		if err := json.NewEncoder(a.stdout).Encode(out); err != nil {
			return a.fail(err)
		}
		return 0
	}
	if len(applied) == 0 {
		fmt.Fprintf(a.stdout, "ClickHouse database %s at %s is up to date (migration %04d)\n", store.Database(), cfg.ClickHouseAddr, versions[len(versions)-1])
		return 0
	}
	for _, n := range names {
		fmt.Fprintf(a.stdout, "applied %s\n", n)
	}
	fmt.Fprintf(a.stdout, "ClickHouse database %s at %s is at migration %04d\n", store.Database(), cfg.ClickHouseAddr, versions[len(versions)-1])
	return 0
}
