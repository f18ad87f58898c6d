package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/idlink/idlink/internal/namespace"
	"github.com/idlink/idlink/pipeline"
)

// newNamespace gives cfg topic, consumer-group, Redis-key and ClickHouse-database
// names of its own (internal/namespace, as tests get from internal/stacktest),
// so a chaos run neither sees nor disturbs other users of the stack.
func newNamespace(cfg *pipeline.Config) error {
	id, err := namespace.NewID("chaos")
	if err != nil {
		return err
	}
	return useNamespace(cfg, id)
}

// useNamespace sets cfg's names for the namespace id ("chaos" and 8 hex
// digits, as printed by a run).
func useNamespace(cfg *pipeline.Config, id string) error {
	suffix, ok := strings.CutPrefix(id, "chaos")
	if _, err := hex.DecodeString(suffix); !ok || err != nil || len(suffix) != 8 {
		return fmt.Errorf("%q is not a chaos namespace (chaos and 8 hex digits)", id)
	}
	namespace.Use(cfg, id, "chaos_"+suffix)
	return nil
}

// groups are the consumer groups `idlink run` uses, with their topics.
func groups(cfg *pipeline.Config) map[string][]string {
	t := cfg.Topics()
	return map[string][]string{
		cfg.Group("resolver"):  t.AllAgencies(),
		cfg.Group("analytics"): append(t.AllAgencies(), t.IdentityChanges()),
	}
}

// lag returns how many messages of topics the group has not committed yet.
func lag(ctx context.Context, cfg *pipeline.Config, group string, topics []string) (int64, error) {
	end, err := cfg.EndOffsets(ctx, topics)
	if err != nil {
		return 0, err
	}
	committed, err := cfg.CommittedOffsets(ctx, group, topics)
	if err != nil {
		return 0, err
	}
	var n int64
	for t, ps := range end {
		for p, e := range ps {
			c := max(committed[t][p], 0)
			n += max(e-c, 0)
		}
	}
	return n, nil
}

// cleanup removes everything the run created in cfg's namespace: topics,
// consumer groups, Redis keys and the ClickHouse database.
func cleanup(ctx context.Context, cfg *pipeline.Config) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var ids []string
	for g := range groups(cfg) {
		ids = append(ids, g)
	}
	return namespace.Remove(ctx, cfg, namespace.Options{Groups: ids})
}
