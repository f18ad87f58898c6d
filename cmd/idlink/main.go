// Command idlink is the one binary of the idlink pipeline: it publishes agency
// events, runs the consumers, answers lookups and reports, and serves the
// dashboard. CONTRACT.md §3 lists the commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/idlink/idlink/pipeline"
)

// app is what every command gets: configuration, streams and a logger.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	lookup         pipeline.Lookup
	log            *slog.Logger
}

// command runs one subcommand and returns its exit code.
type command struct {
	summary string
	run     func(ctx context.Context, a *app, args []string) int
}

func commands() map[string]command {
	return map[string]command{
		"produce":   {"validate, pseudonymise and publish events from a JSON Lines file", cmdProduce},
		"run":       {"run the identity-resolution and analytics consumers", cmdRun},
		"lookup":    {"show the person holding a document", cmdLookup},
		"conflicts": {"list links held back instead of merged", cmdConflicts},
		"why":       {"explain why documents are one person, or why not", cmdWhy},
		"retract":   {"withdraw a wrong link: publish a link.retracted for an event", cmdRetract},
		"stats":     {"print an analytics report from ClickHouse", cmdStats},
		"serve":     {"serve the HTTP API and dashboard", cmdServe},
		"demo":      {"run the whole pipeline on bundled sample data", cmdDemo},
		"migrate":   {"apply the ClickHouse migrations", cmdMigrate},
		"api-keys":  {"create, list and revoke relying parties' keys for the verification API", cmdAPIKeys},
		"audit":     {"list who asked the verification API about a document, and when", cmdAudit},
	}
}

func main() {
	pipeline.SetGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	a := &app{
		stdin:  os.Stdin,
		stdout: os.Stdout,
		stderr: os.Stderr,
		lookup: os.LookupEnv,
		log:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel()})),
	}
	code := a.main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func logLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("IDLINK_LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}

func (a *app) main(ctx context.Context, args []string) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		a.usage(cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(a.stderr, "idlink: unknown command %q; run `idlink help` for the list\n", args[0])
		return 2
	}
	return c.run(ctx, a, args[1:])
}

func (a *app) usage(cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(a.stderr, "usage: idlink COMMAND [flags]\n\ncommands:")
	for _, n := range names {
		fmt.Fprintf(a.stderr, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(a.stderr, "\nRun `idlink COMMAND -h` for a command's flags. Configuration comes from the environment and .stack/idlink.env (see README).")
}

// flags returns a FlagSet that reports errors on stderr and never exits.
func (a *app) flags(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("idlink "+name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	fs.Usage = func() {
		fmt.Fprintf(a.stderr, "usage: idlink %s %s\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags; it returns (exit code, false) when the command must stop.
func (a *app) parse(fs *flag.FlagSet, args []string) (int, bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}

// config loads the configuration, printing the problem on failure.
func (a *app) config() (*pipeline.Config, bool) {
	cfg, err := pipeline.LoadConfig(a.lookup)
	if err != nil {
		a.fail(err)
		return nil, false
	}
	return cfg, true
}

func (a *app) fail(err error) int {
	fmt.Fprintf(a.stderr, "idlink: %v\n", err)
	return 1
}

// noArgs rejects stray positional arguments with a message naming the fix.
func (a *app) noArgs(fs *flag.FlagSet) bool {
	if fs.NArg() > 0 {
		fmt.Fprintf(a.stderr, "idlink: unexpected argument %q: flags go before arguments, and this command takes none (see `%s -h`)\n", fs.Arg(0), fs.Name())
		return false
	}
	return true
}

func joinQuoted(ss []string) string { return strings.Join(ss, ", ") }
