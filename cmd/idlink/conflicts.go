package main

import (
	"context"
	"fmt"
)

// TODO(idlink): placeholder until the conflicts command lands; it fails loudly.
func cmdConflicts(ctx context.Context, a *app, args []string) int {
	fmt.Fprintln(a.stderr, "idlink conflicts: not implemented yet")
	return 1
}
