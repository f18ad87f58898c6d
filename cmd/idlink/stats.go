package main

import (
	"context"
	"fmt"
)

// TODO(idlink): placeholder until the stats command lands; it fails loudly.
func cmdStats(ctx context.Context, a *app, args []string) int {
	fmt.Fprintln(a.stderr, "idlink stats: not implemented yet")
	return 1
}
