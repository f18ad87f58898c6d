package main

import (
	"context"
	"fmt"
)

// TODO(idlink): placeholder until the demo command lands; it fails loudly.
func cmdDemo(ctx context.Context, a *app, args []string) int {
	fmt.Fprintln(a.stderr, "idlink demo: not implemented yet")
	return 1
}
