package main

import (
	"context"
	"fmt"
)

// TODO(idlink): placeholder until the run command lands; it fails loudly.
func cmdRun(ctx context.Context, a *app, args []string) int {
	fmt.Fprintln(a.stderr, "idlink run: not implemented yet")
	return 1
}
