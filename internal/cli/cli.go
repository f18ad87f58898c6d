// Package cli holds the command-line plumbing idlink's tools (idlink-bench,
// idlink-chaos) share: a signal-aware main, their flag sets, usage errors
// that exit 2 and comma-separated list flags.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

// Main runs run with the command's arguments and standard streams, under a
// context cancelled by SIGINT or SIGTERM, and exits with the code it
// returns.
func Main(run func(ctx context.Context, args []string, stdout, stderr io.Writer) int) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// FlagSet returns a flag set for the command name that returns its errors
// (ContinueOnError) and prints them and the usage on stderr.
func FlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// UsageError is a bad command line that the command explains itself (the
// message names the fix); see Exit.
type UsageError struct{ err error }

func (e *UsageError) Error() string { return e.err.Error() }
func (e *UsageError) Unwrap() error { return e.err }

// Usagef returns a UsageError with the formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{fmt.Errorf(format, args...)}
}

// Usage marks err as a UsageError, so that Exit prints it (nil stays nil).
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return &UsageError{err}
}

// Exit returns the exit code for a command line the command's flag parsing
// refused with err: 0 for -h (the flag set printed the usage), 2 otherwise.
// A UsageError is printed on stderr as "name: message"; other errors are the
// flag set's own, which it printed already.
func Exit(name string, err error, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if ue := (*UsageError)(nil); errors.As(err, &ue) {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
	}
	return 2
}

// List splits a comma-separated flag value into its distinct non-empty
// items, trimmed, in the order given. bad is the first item not in known
// ("" when all are).
func List(value string, known []string) (items []string, bad string) {
	for _, s := range strings.Split(value, ",") {
		s = strings.TrimSpace(s)
		switch {
		case s == "":
		case !slices.Contains(known, s):
			return nil, s
		case !slices.Contains(items, s):
			items = append(items, s)
		}
	}
	return items, ""
}
