package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs every phase at a tiny size against the local stack and
// checks the output's shape. It asserts no timing: on a loaded machine any
// figure may be anything.
func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	args := []string{"-n", "2000", "-baseline-n", "300", "-sink-n", "2000", "-latency-seconds", "1", "-rate", "1000",
		"-report-rows", "20000", "-report-runs", "1", "-phase-timeout", "5m", "-settle-max", "0",
		"-api-n", "2000", "-api-seconds", "1", "-api-rate", "200",
		"-hub-chain", "100", "-hub-rate", "200", "-hub-latency-rate", "200", "-hub-seconds", "1"}
	if code := run(ctx, args, &out, &errb); code != 0 {
		t.Fatalf("idlink-bench %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	last := lines[len(lines)-1]
	num := `([0-9]+(\.[0-9]+)?|NaN)`
	re := regexp.MustCompile(`^bench: e2e_events_per_s=` + num + ` baseline_events_per_s=` + num + ` speedup=` + num +
		` raw_pipe_events_per_s=` + num + ` raw_ratio=` + num + ` p99_ms=` + num + `$`)
	if !re.MatchString(last) {
		t.Fatalf("last line %q does not have the bench: format\n%s", last, out.String())
	}
	if strings.Contains(last, "NaN") {
		t.Errorf("a figure is missing although no phase was skipped: %q", last)
	}
	for _, want := range []string{"produce_events_per_s=", "resolution_events_per_s=", "analytics_events_per_s=", "peak_rss_mib=",
		"redis_bytes_per_doc=", "sink_insert_events_per_s=", "report_1816_max_ms=", "report_current_max_ms=", "api_verify_per_s=", "api_verify_p99_ms=",
		"hub_redis_bytes_ratio=", "hub_cpu_ratio=", "hub_p99_ratio="} {
		if !strings.Contains(out.String(), "\n"+want) {
			t.Errorf("output lacks %s\n%s", want, out.String())
		}
	}
}

func TestFlags(t *testing.T) {
	var errb bytes.Buffer
	for _, args := range [][]string{{"-n", "10"}, {"-skip", "nonsense"}, {"stray"}, {"-settle-max", "-1s"}, {"-hub-chain", "-5"}} {
		errb.Reset()
		if code := run(context.Background(), args, &bytes.Buffer{}, &errb); code != 2 {
			t.Errorf("%v: exit %d, want 2 (stderr %q)", args, code, errb.String())
		}
	}
	o, err := parseFlags([]string{"-n", "1000", "-skip", "raw,latency"}, &errb)
	if err != nil {
		t.Fatal(err)
	}
	if o.persons != 500 || o.reportRows != 100_000 || o.baselineN != 1000 || o.hubChain != 50 || !o.skip["raw"] || !o.skip["latency"] || o.skip["e2e"] {
		t.Errorf("defaults: %+v", o)
	}
}
