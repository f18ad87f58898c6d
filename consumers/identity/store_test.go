package identity

import (
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// The bucket of a pointer is part of the Redis layout: it must not change
// between versions (tok[:3] for tokens, FNV-1a mod 4096 for ids).
func TestBuckets(t *testing.T) {
	keys := bucketKeys("P", "d")
	for _, id := range []string{"", "e1", "bench-123456", "p-cff5d494fd3fb94912cd", "事件"} {
		h := fnv.New32a()
		h.Write([]byte(id))
		if got, want := keys[idBucket(id)], fmt.Sprintf("Pd:%03x", h.Sum32()&0xfff); got != want {
			t.Errorf("id %q: bucket key %s, want %s", id, got, want)
		}
	}
	for _, tk := range []string{tok("R0"), tok("M1"), "fff" + tok("R0")[3:], "000" + tok("R0")[3:]} {
		if got, want := keys[tokenBucket(tk)], "Pd:"+tk[:3]; got != want {
			t.Errorf("token %s: bucket key %s, want %s", tk, got, want)
		}
	}
}

func TestGroupByBucket(t *testing.T) {
	for _, n := range []int{0, 1, 7, 5000} {
		r := rand.New(rand.NewPCG(uint64(n), 1))
		bs := make([]int, n)
		for i := range bs {
			bs[i] = r.IntN(buckets)
		}
		g := groupByBucket(n, func(i int) int { return bs[i] })
		var seen []int
		prev := -1
		for _, run := range g.runs {
			if run.b <= prev || run.hi <= run.lo {
				t.Fatalf("n=%d: runs not ascending and non-empty: %+v", n, g.runs)
			}
			prev = run.b
			for _, i := range g.order[run.lo:run.hi] {
				if bs[i] != run.b {
					t.Fatalf("n=%d: item %d of bucket %d in run of %d", n, i, bs[i], run.b)
				}
				seen = append(seen, int(i))
			}
		}
		slices.Sort(seen)
		for i, v := range seen {
			if v != i {
				t.Fatalf("n=%d: items %v are not each listed once", n, seen)
			}
		}
		if len(seen) != n {
			t.Fatalf("n=%d: %d items listed", n, len(seen))
		}
	}
}

// tokenFields builds in one allocation what tokenField gives token by token.
func TestTokenFields(t *testing.T) {
	upper := strings.ToUpper(tok("R0"))
	for _, tt := range []struct {
		name   string
		tokens []string
	}{
		{"none", nil},
		{"valid", []string{tok("R0"), tok("M1"), tok("P2")}},
		{"upper case", []string{upper}},
		{"not hex", []string{"zz" + tok("R0")[2:], tok("M1")}},
		{"short hex", []string{"abcd", tok("M1"), "abc"}},
		{"empty", []string{"", tok("M1")}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := tokenFields(tt.tokens)
			if len(got) != len(tt.tokens) {
				t.Fatalf("%d fields for %d tokens", len(got), len(tt.tokens))
			}
			for i, tk := range tt.tokens {
				if got[i] != tokenField(tk) {
					t.Errorf("field of %q = %x, want %x", tk, got[i], tokenField(tk))
				}
			}
		})
	}
}

// Lock names go to the lock scripts as pre-boxed strings; any other name as
// itself.
func TestLockArg(t *testing.T) {
	for _, l := range []string{"00", "0a", "ff", "7c", "FF", "0", "abc", "zz", ""} {
		if got, ok := lockArg(l).(string); !ok || got != l {
			t.Errorf("lockArg(%q) = %v", l, lockArg(l))
		}
	}
}

func TestDecodeToken(t *testing.T) {
	for _, tk := range []string{tok("R0"), strings.ToUpper(tok("M1")), "g" + tok("R0")[1:], tok("R0")[:63] + "G", tok("R0")[:62], strings.Repeat("f", 64), strings.Repeat("0", 64), tok("R0")[:63] + "\xff"} {
		want, err := hex.DecodeString(tk)
		valid := err == nil && len(want) == 32
		var raw [32]byte
		if got := decodeToken(&raw, tk); got != valid || valid && string(raw[:]) != string(want) {
			t.Errorf("decodeToken(%q) = %v %x, want %v %x", tk, got, raw, valid, want)
		}
	}
}
