package main

import (
	"context"
	"fmt"
)

// TODO(idlink): placeholder until the migrate command lands; it fails loudly.
func cmdMigrate(ctx context.Context, a *app, args []string) int {
	fmt.Fprintln(a.stderr, "idlink migrate: not implemented yet")
	return 1
}
