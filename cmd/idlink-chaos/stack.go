package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// logger prints timestamped progress lines: wall-clock time and seconds
// since the run started.
type logger struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func newLogger(w io.Writer) *logger { return &logger{w: w, start: time.Now()} }

// printf prints one progress line.
func (l *logger) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	fmt.Fprintf(l.w, "chaos %s +%7.1fs  %s\n", now.Format("15:04:05"), now.Sub(l.start).Seconds(), fmt.Sprintf(format, args...))
}

// stack drives the local stack's services through the scripts in compose/
// (the same ones `make up` uses), from the repository root.
type stack struct {
	root string
	log  *logger
}

// findRepoRoot returns the nearest directory at or above the working
// directory that holds compose/restart.sh and compose/lib.sh.
func findRepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "compose", "restart.sh")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "compose", "lib.sh")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("compose/restart.sh not found in the working directory or any parent: run idlink-chaos from the idlink repository (make chaos does)")
		}
		dir = parent
	}
}

// restart stops one service (kafka, redis or clickhouse), starts it again and
// returns once it answers, via compose/restart.sh. It is not cancelled by
// ctx: a half-done restart would leave the stack broken for everyone.
func (s *stack) restart(svc string) (time.Duration, error) {
	start := time.Now()
	cmd := exec.Command("bash", filepath.Join(s.root, "compose", "restart.sh"), svc)
	cmd.Dir = s.root
	detach(cmd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return time.Since(start), fmt.Errorf("compose/restart.sh %s: %w\n%s", svc, err, lastLines(string(out), 15))
	}
	return time.Since(start), nil
}

// outageScript stops a service and keeps it stopped until a line (or EOF)
// arrives on stdin, then starts it and waits until it answers. It holds the
// stack's lock (the one compose/up.sh and restart.sh take) the whole time, so
// a concurrent `make up` waits instead of starting the service early. If the
// chaos tool dies, stdin closes and the service is started again.
const outageScript = `set -euo pipefail
. compose/lib.sh
take_lock
stop_service "$1"
echo stopped
read -r _ || true
start_service "$1"
wait_ready "$1" >/dev/null
echo started
`

// outage is a service stopped by stack.stop.
type outage struct {
	svc    string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	stderr *strings.Builder
}

// stop stops a service and keeps it down until outage.resume.
func (s *stack) stop(svc string) (*outage, error) {
	cmd := exec.Command("bash", "-c", outageScript, "outage", svc)
	cmd.Dir = s.root
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("stopping %s: %w", svc, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("stopping %s: %w", svc, err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("stopping %s: %w", svc, err)
	}
	o := &outage{svc: svc, cmd: cmd, stdin: stdin, lines: bufio.NewScanner(stdout), stderr: &stderr}
	if err := o.expect("stopped"); err != nil {
		_ = stdin.Close()
		_ = cmd.Wait()
		return nil, fmt.Errorf("stopping %s: %w\n%s", svc, err, lastLines(stderr.String(), 15))
	}
	return o, nil
}

// resume starts the service again and returns once it answers.
func (o *outage) resume() error {
	_, _ = io.WriteString(o.stdin, "go\n")
	_ = o.stdin.Close()
	err := o.expect("started")
	if werr := o.cmd.Wait(); err == nil && werr != nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("starting %s again: %w\n%s", o.svc, err, lastLines(o.stderr.String(), 15))
	}
	return nil
}

func (o *outage) expect(word string) error {
	for o.lines.Scan() {
		if strings.TrimSpace(o.lines.Text()) == word {
			return nil
		}
	}
	if err := o.lines.Err(); err != nil {
		return err
	}
	return fmt.Errorf("the stack script ended before printing %q", word)
}

// detach puts a stack script in a process group of its own, so a Ctrl-C
// meant for the chaos tool does not kill it halfway and leave a service
// stopped; the tool finishes or undoes the script's work itself.
func detach(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// sleepCtx sleeps for d or until ctx is done; it reports whether the full
// time passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// every calls fn each period until ctx is done, the first time one period
// from now.
func every(ctx context.Context, period time.Duration, fn func()) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
