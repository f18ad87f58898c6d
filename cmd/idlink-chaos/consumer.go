package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// consumer supervises `idlink run` as a child process: it starts it, restarts
// it at once after a kill -9 we asked for, and after a short pause when it
// exits on its own (counted as an unexpected exit).
type consumer struct {
	bin     string
	env     []string
	logPath string
	log     *logger

	mu         sync.Mutex
	cur        *proc
	stopping   bool
	starts     int
	kills      int
	unexpected []string // why each unexpected exit happened

	done chan struct{}
}

// proc is one run of the child.
type proc struct {
	cmd     *exec.Cmd
	started time.Time
	killed  bool // we sent SIGKILL on purpose
}

// newConsumer returns a supervisor for bin run with env; the child's stdout
// and stderr are appended to logPath.
func newConsumer(bin string, env []string, logPath string, log *logger) *consumer {
	return &consumer{bin: bin, env: env, logPath: logPath, log: log, done: make(chan struct{})}
}

// start launches the first child and supervises it in the background until
// stop.
func (c *consumer) start(ctx context.Context) error {
	p, err := c.spawn()
	if err != nil {
		return err
	}
	go c.supervise(ctx, p)
	return nil
}

func (c *consumer) spawn() (*proc, error) {
	f, err := os.OpenFile(c.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the consumer log: %w", err)
	}
	defer f.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.starts++
	fmt.Fprintf(f, "---- chaos: start #%d at %s\n", c.starts, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(c.bin, "run", "--metrics-addr", "off")
	cmd.Env = c.env
	cmd.Stdout, cmd.Stderr = f, f
	// The child never outlives the chaos tool.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s run: %w", c.bin, err)
	}
	p := &proc{cmd: cmd, started: time.Now()}
	c.cur = p
	return p, nil
}

func (c *consumer) supervise(ctx context.Context, p *proc) {
	defer close(c.done)
	for {
		err := p.cmd.Wait()
		c.mu.Lock()
		killed, stopping := p.killed, c.stopping
		c.mu.Unlock()
		if stopping {
			return
		}
		if !killed {
			why := exitReason(err, c.lastLog())
			c.mu.Lock()
			c.unexpected = append(c.unexpected, why)
			c.mu.Unlock()
			c.log.printf("consumer pid %d exited on its own (%s); restarting in 1s", p.cmd.Process.Pid, why)
			if !sleepCtx(ctx, time.Second) {
				return
			}
		}
		for {
			np, err := c.spawn()
			if err == nil {
				p = np
				break
			}
			c.log.printf("restarting the consumer failed: %v; retrying in 1s", err)
			if !sleepCtx(ctx, time.Second) {
				return
			}
		}
		if killed {
			c.log.printf("consumer restarted: pid %d", p.cmd.Process.Pid)
		}
	}
}

// kill9 sends SIGKILL to the current child; the supervisor restarts it at
// once. If the child has just exited on its own, it waits (up to 30s) for
// the next one. It returns the pid killed.
func (c *consumer) kill9(ctx context.Context) (int, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		pid, err := c.tryKill()
		if err == nil || time.Now().After(deadline) {
			return pid, err
		}
		if !sleepCtx(ctx, 200*time.Millisecond) {
			return 0, ctx.Err()
		}
	}
}

func (c *consumer) tryKill() (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil || c.stopping {
		return 0, errors.New("no consumer running")
	}
	pid := c.cur.cmd.Process.Pid
	if c.cur.killed {
		return pid, fmt.Errorf("consumer pid %d already killed", pid)
	}
	// Signal 0 fails once the process is gone (reaped) or a zombie is
	// waiting; either way it is no longer consuming.
	if err := c.cur.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		return pid, fmt.Errorf("consumer pid %d is not running: %w", pid, err)
	}
	c.cur.killed = true
	if err := c.cur.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		c.cur.killed = false
		return pid, fmt.Errorf("kill -9 %d: %w", pid, err)
	}
	c.kills++
	return pid, nil
}

// upSince returns when the current child was started.
func (c *consumer) upSince() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		return time.Now()
	}
	return c.cur.started
}

// pid returns the current child's pid, or 0.
func (c *consumer) pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		return 0
	}
	return c.cur.cmd.Process.Pid
}

// stats returns how many times the child was started and killed, and why it
// exited on its own.
func (c *consumer) stats() (starts, kills int, unexpected []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.starts, c.kills, append([]string(nil), c.unexpected...)
}

// stop ends supervision: SIGTERM to the child, SIGKILL after timeout.
func (c *consumer) stop(timeout time.Duration) {
	c.mu.Lock()
	c.stopping = true
	cur := c.cur
	c.mu.Unlock()
	if cur != nil {
		_ = cur.cmd.Process.Signal(syscall.SIGTERM)
	}
	select {
	case <-c.done:
	case <-time.After(timeout):
		if cur != nil {
			_ = cur.cmd.Process.Kill()
		}
		<-c.done
	}
}

// lastLog returns the last line of the consumer log.
func (c *consumer) lastLog() string {
	f, err := os.Open(c.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	const tail = 8 << 10
	if st, err := f.Stat(); err == nil && st.Size() > tail {
		if _, err := f.Seek(st.Size()-tail, io.SeekStart); err != nil {
			return ""
		}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(lastLines(string(b), 1))
}

func exitReason(err error, last string) string {
	why := "exit 0"
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		why = ee.ProcessState.String()
	} else if err != nil {
		why = err.Error()
	}
	if last != "" {
		if len(last) > 300 {
			last = last[:300] + "…"
		}
		why += "; last log line: " + last
	}
	return why
}

// rssKiB returns the resident set size of a process from /proc/<pid>/status.
func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(f[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// rssSampler samples the consumer's RSS every second, keeping the peak of the
// whole run and of the current window (e.g. a ClickHouse outage).
type rssSampler struct {
	c *consumer

	mu         sync.Mutex
	last, peak int64 // KiB
	window     bool
	windowPeak int64
	series     []int64 // the window's samples, KiB
	samples    int
}

func (s *rssSampler) run(ctx context.Context) {
	every(ctx, time.Second, s.sample)
}

// sample records the consumer's RSS, if it is running.
func (s *rssSampler) sample() {
	pid := s.c.pid()
	if pid == 0 {
		return
	}
	kib, err := rssKiB(pid)
	if err != nil {
		return // between a kill and the restart
	}
	s.mu.Lock()
	s.last, s.samples = kib, s.samples+1
	s.peak = max(s.peak, kib)
	if s.window {
		s.windowPeak = max(s.windowPeak, kib)
		s.series = append(s.series, kib)
	}
	s.mu.Unlock()
}

// openWindow starts tracking a window (e.g. an outage); closeWindow ends it
// and returns the window's peak and its samples, in KiB.
func (s *rssSampler) openWindow() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.window, s.windowPeak, s.series = true, s.last, nil
}

func (s *rssSampler) closeWindow() (int64, []int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.window = false
	return s.windowPeak, s.series
}

// current returns the latest sample and the run's peak, in KiB.
func (s *rssSampler) current() (last, peak int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last, s.peak
}

func mib(kib int64) string { return fmt.Sprintf("%.0f MiB", float64(kib)/1024) }
