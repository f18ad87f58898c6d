package cli

import (
	"bytes"
	"errors"
	"flag"
	"reflect"
	"testing"
)

func TestList(t *testing.T) {
	known := []string{"redis", "clickhouse", "kafka"}
	tests := []struct {
		in   string
		want []string
		bad  string
	}{
		{"", nil, ""},
		{" , ,", nil, ""},
		{"kafka, redis,kafka", []string{"kafka", "redis"}, ""},
		{"redis,postgres,nope", nil, "postgres"},
	}
	for _, tt := range tests {
		got, bad := List(tt.in, known)
		if !reflect.DeepEqual(got, tt.want) || bad != tt.bad {
			t.Errorf("List(%q) = %q, %q; want %q, %q", tt.in, got, bad, tt.want, tt.bad)
		}
	}
}

func TestExit(t *testing.T) {
	var stderr bytes.Buffer
	tests := []struct {
		err  error
		code int
		out  string
	}{
		{flag.ErrHelp, 0, ""},
		{Usage(flag.ErrHelp), 0, ""},
		{errors.New("flag provided but not defined: -x"), 2, ""}, // the flag set printed it
		{Usage(errors.New("flag provided but not defined: -x")), 2, "tool: flag provided but not defined: -x\n"},
		{Usagef("-n must be at least %d", 100), 2, "tool: -n must be at least 100\n"},
	}
	for _, tt := range tests {
		stderr.Reset()
		if code := Exit("tool", tt.err, &stderr); code != tt.code || stderr.String() != tt.out {
			t.Errorf("Exit(%v) = %d, printed %q; want %d, %q", tt.err, code, stderr.String(), tt.code, tt.out)
		}
	}
}
