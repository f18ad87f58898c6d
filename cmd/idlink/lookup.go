package main

import (
	"context"
	"fmt"
)

// TODO(idlink): placeholder until the lookup command lands; it fails loudly.
func cmdLookup(ctx context.Context, a *app, args []string) int {
	fmt.Fprintln(a.stderr, "idlink lookup: not implemented yet")
	return 1
}
