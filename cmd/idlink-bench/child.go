package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/idlink/idlink/internal/namespace"
	"github.com/idlink/idlink/pipeline"
)

// childRun is what one `idlink run` child process measured.
type childRun struct {
	elapsed   time.Duration // from start until done said so
	firstWork time.Duration // from start until the first offset commit was seen
	firstDone float64       // the share of the work committed by then
	maxRSSKiB int64         // peak resident set size of the child
	cpu       time.Duration // user+system CPU time of the child
	busy      float64       // share of the machine's CPU time that was busy
}

// cpuTimes reads the machine's total and busy CPU time (in clock ticks) from
// /proc/stat; zeros where there is none.
func cpuTimes() (total, busy int64) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0
	}
	for i, v := range f[1:] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0
		}
		if i >= 7 { // guest times are already in user and nice
			break
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return total, busy
}

// report prints the child's CPU figures under prefix.
func (r childRun) report(b *bench, prefix string, events int) {
	b.figure(prefix+"_cpu_us_per_event", "%.1f", float64(r.cpu.Microseconds())/float64(max(events, 1)))
	b.figure(prefix+"_machine_cpu_busy_pct", "%.0f", 100*r.busy)
}

// steadyRate is events per second from the first commit seen to the end:
// the rate without process start, group join and the first batch.
func (r childRun) steadyRate(events int) float64 {
	return perSecond(int64(float64(events)*(1-r.firstDone)), r.elapsed-r.firstWork)
}

// waitFunc reports whether the child has done all its work, and how many
// messages of how many its (first) consumer group has committed.
type waitFunc func(ctx context.Context) (done bool, committed, total int64, err error)

// runChild starts `idlink run args...` in cfg's namespaces, polls done every
// 150ms until it says so, then stops the child with SIGTERM and returns the
// timings and the child's peak RSS.
func (b *bench) runChild(ctx context.Context, name string, cfg *pipeline.Config, args []string, done waitFunc) (childRun, error) {
	total0, busy0 := cpuTimes()
	start := time.Now()
	died := make(chan error, 1)
	child, err := b.startChild(ctx, cfg, name, args, func(err error) { died <- err })
	if err != nil {
		return childRun{}, err
	}
	logPath := child.log
	stop := child.stop

	var r childRun
	deadline := time.Now().Add(b.opts.phaseTimeout)
	tick := time.NewTicker(150 * time.Millisecond)
	defer tick.Stop()
	lastReport := start
	for {
		select {
		case err := <-died:
			return r, err
		case <-ctx.Done():
			_ = stop()
			return r, ctx.Err()
		case <-tick.C:
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		ok, committed, total, err := done(pctx)
		cancel()
		now := time.Now()
		if err != nil {
			b.progress("%s: checking progress: %v", name, err)
		}
		if committed > 0 && total > 0 && r.firstWork == 0 {
			r.firstWork, r.firstDone = now.Sub(start), float64(committed)/float64(total)
		}
		if ok {
			r.elapsed = now.Sub(start)
			if total1, busy1 := cpuTimes(); total1 > total0 {
				r.busy = float64(busy1-busy0) / float64(total1-total0)
			}
			break
		}
		if now.Sub(lastReport) >= 5*time.Second {
			lastReport = now
			b.progress("%s: %d of %d messages committed after %s", name, committed, total, now.Sub(start).Round(time.Second))
		}
		if now.After(deadline) {
			_ = stop()
			return r, fmt.Errorf("not done after %s (-phase-timeout); child log %s ends:\n%s", b.opts.phaseTimeout, logPath, tail(logPath, 20))
		}
	}
	// The peak RSS of the child's own address space. (Not wait4's Maxrss:
	// the child is started with vfork semantics, and Linux counts the
	// parent's RSS, shared until exec, into it.)
	r.maxRSSKiB = vmHWM(child.cmd.Process.Pid)
	err = stop()
	if ps := child.cmd.ProcessState; ps != nil {
		r.cpu = ps.UserTime() + ps.SystemTime()
	}
	if err != nil {
		return r, fmt.Errorf("stopping idlink run: %w", err)
	}
	return r, nil
}

// vmHWM returns a process' peak resident set size in KiB (VmHWM in
// /proc/<pid>/status), or 0 where there is no /proc.
func vmHWM(pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// childProcess is an `idlink run` child whose CPU time can be read while it
// runs.
type childProcess struct {
	cmd      *exec.Cmd
	log      string
	what     string // the command, for errors
	exited   chan error
	stopping atomic.Bool
	err      error
}

// startChild starts `idlink run --metrics-addr off args...` in cfg's
// namespaces, logging to name.log. If the child exits before stop is called,
// died is called with the reason and the log's end.
func (b *bench) startChild(ctx context.Context, cfg *pipeline.Config, name string, args []string, died func(error)) (*childProcess, error) {
	logPath := filepath.Join(b.dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("creating the child's log: %w", err)
	}
	cmd := exec.CommandContext(ctx, b.bin, append([]string{"run", "--metrics-addr", "off"}, args...)...)
	cmd.Env = namespace.Env(cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting %s: %w", b.bin, err)
	}
	c := &childProcess{cmd: cmd, log: logPath, what: "idlink run " + strings.Join(args, " "), exited: make(chan error, 1)}
	go func() {
		err := cmd.Wait()
		logf.Close()
		if !c.stopping.Load() {
			died(fmt.Errorf("%s exited early (%v); its log ends:\n%s", c.what, err, tail(logPath, 20)))
		}
		c.exited <- err
	}()
	return c, nil
}

// cpu is the child's user and system CPU time so far (from /proc; zero where
// there is none).
func (c *childProcess) cpu() time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The fields after the command name (which may hold spaces) in parentheses.
	_, rest, ok := strings.Cut(string(raw), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc's CPU times on Linux.
const clockTicks = 100

// stop ends the child with SIGTERM (killing it after 30 s) once; later calls
// return the first one's result.
func (c *childProcess) stop() error {
	if c.stopping.Swap(true) {
		return c.err
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-c.exited:
		if err != nil {
			c.err = fmt.Errorf("%s: %w; its log ends:\n%s", c.what, err, tail(c.log, 20))
		}
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
		c.err = fmt.Errorf("%s did not stop within 30s of SIGTERM; killed", c.what)
	}
	return c.err
}
