package pipeline_test

import (
	"math"
	"os"
	"runtime/debug"
	"testing"

	"github.com/idlink/idlink/pipeline"
)

// TestSetGC checks SetGC's defaults and that GOGC and GOMEMLIMIT, when set,
// win over them. It restores the runtime's settings afterwards.
func TestSetGC(t *testing.T) {
	oldPercent, oldLimit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
	t.Cleanup(func() {
		debug.SetGCPercent(oldPercent)
		debug.SetMemoryLimit(oldLimit)
	})
	unset := func(k string) {
		v, ok := os.LookupEnv(k)
		if ok {
			t.Cleanup(func() { os.Setenv(k, v) })
		}
		os.Unsetenv(k)
	}
	tests := []struct {
		name           string
		gogc, memlimit string // "" for unset
		wantPercent    int
		wantLimit      int64
	}{
		{"defaults", "", "", pipeline.DefaultGCPercent, pipeline.DefaultMemoryLimit},
		{"GOGC set", "150", "", 100, pipeline.DefaultMemoryLimit},
		{"GOMEMLIMIT set", "", "2GiB", pipeline.DefaultGCPercent, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			debug.SetGCPercent(100)
			debug.SetMemoryLimit(math.MaxInt64)
			for k, v := range map[string]string{"GOGC": tt.gogc, "GOMEMLIMIT": tt.memlimit} {
				if v == "" {
					unset(k)
				} else {
					t.Setenv(k, v)
				}
			}
			pipeline.SetGC()
			// SetGC leaves a setting the environment names to the runtime,
			// which read it at start-up; here the values set just above stay.
			if got := debug.SetGCPercent(100); got != tt.wantPercent {
				t.Errorf("GC percent %d, want %d", got, tt.wantPercent)
			}
			if got := debug.SetMemoryLimit(-1); got != tt.wantLimit {
				t.Errorf("memory limit %d, want %d", got, tt.wantLimit)
			}
		})
	}
}
