package main

import (
	"context"
	"fmt"
)

// TODO(idlink): placeholder until the serve command lands; it fails loudly.
func cmdServe(ctx context.Context, a *app, args []string) int {
	fmt.Fprintln(a.stderr, "idlink serve: not implemented yet")
	return 1
}
