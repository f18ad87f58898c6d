package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
	logPath := filepath.Join(b.dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return childRun{}, fmt.Errorf("creating the child's log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(b.bin, append([]string{"run", "--metrics-addr", "off"}, args...)...)
	cmd.Env = namespace.Env(cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	total0, busy0 := cpuTimes()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return childRun{}, fmt.Errorf("starting %s: %w", b.bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		var err error
		select {
		case err = <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			err = <-exited
			if err == nil {
				err = errors.New("did not stop within 30s of SIGTERM; killed")
			}
		}
		return err
	}

	var r childRun
	deadline := time.Now().Add(b.opts.phaseTimeout)
	tick := time.NewTicker(150 * time.Millisecond)
	defer tick.Stop()
	lastReport := start
	for {
		select {
		case err := <-exited:
			return r, fmt.Errorf("idlink run %s exited early (%v); its log ends:\n%s", strings.Join(args, " "), err, tail(logPath, 20))
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
	r.maxRSSKiB = vmHWM(cmd.Process.Pid)
	err = stop()
	r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if err != nil {
		return r, fmt.Errorf("stopping idlink run: %w; its log ends:\n%s", err, tail(logPath, 20))
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
