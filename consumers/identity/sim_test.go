package identity

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/internal/stacktest"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/producers"
	"github.com/idlink/idlink/producers/simulator"
	"github.com/idlink/idlink/schemas"
)

// simMessages encodes the valid lines of a simulator data set of n events
// (n/2 persons, as idlink-bench makes them) in arrival order, duplicates
// included, as the agency topics carry them.
func simMessages(tb testing.TB, codec *schemas.Codec, n int) []kafka.Message {
	tb.Helper()
	ds := simulator.Generate(simulator.Options{Seed: 1, Persons: n / 2, Events: n})
	ps := producers.NewPseudonymizer([]byte("sim-test-pseudonym-key"))
	msgs := make([]kafka.Message, 0, len(ds.Lines))
	for _, l := range ds.Lines {
		in, rej := producers.Parse(l)
		if rej != nil {
			continue
		}
		ev, rej := producers.Validate(in, ps)
		if rej != nil {
			continue
		}
		b, err := codec.EncodeEvent(ev)
		if err != nil {
			tb.Fatal(err)
		}
		msgs = append(msgs, kafka.Message{Topic: "events." + ev.Agency, Value: b})
	}
	return msgs
}

// maskReason hides which single-holder type a conflict names: when an event
// conflicted on two types, the reason used to depend on map iteration order
// (it names the type that sorts first now), so digests taken before that fix
// compare only with the type masked.
func maskReason(s string) string {
	return conflictType.ReplaceAllStringFunc(s, func(m string) string {
		if m == ReasonBirthDate {
			return m
		}
		return reasonTypePref + "*"
	})
}

var conflictType = regexp.MustCompile(`conflicting_[a-z_]+`)

// digest is a SHA-256 over sorted lines.
func digest(lines []string) string {
	slices.Sort(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Digests of TestSimGolden's default run (20,000 events in batches of 3,000).
// goldenState last changed when it became a digest of the state's meaning
// (simState) with residence-permit status in it; goldenPublished when a
// round's revision began to come from Store.NextRevision (the same changes,
// with other revision numbers).
// They change only if the resolver's results change: a change meant to leave
// them alone must keep them, and one that changes results on purpose updates
// them and says why.
const (
	goldenPublished = "ce6c001d9c43214fc8021d9c654c9951cbbbdb18435893b114d50e87c8fe0cdf"
	goldenState     = "86c399d9866feaca782903d2a73dd6ca9c366782b2fe0aea6e0d98bbdc15e229"
)

// TestSimGolden runs a simulator data set through one resolver on real Redis
// in batches and compares digests of what it published and of the state's
// meaning (simState) with goldenPublished and goldenState. IDLINK_SIM_GOLDEN (a number of
// events) and IDLINK_SIM_BATCH run another size and only log the digests, to
// compare across a change by hand; IDLINK_SIM_DUMP names a file to write the
// sorted lines to.
func TestSimGolden(t *testing.T) {
	n, batch, pinned := 20000, 3000, true
	if v := os.Getenv("IDLINK_SIM_GOLDEN"); v != "" {
		if _, err := fmt.Sscan(v, &n); err != nil || n <= 0 {
			t.Fatalf("IDLINK_SIM_GOLDEN=%q: want a positive number of events", v)
		}
		pinned = false
	}
	if v := os.Getenv("IDLINK_SIM_BATCH"); v != "" {
		if _, err := fmt.Sscan(v, &batch); err != nil || batch <= 0 {
			t.Fatalf("IDLINK_SIM_BATCH=%q: want a positive batch size", v)
		}
		pinned = false
	}
	codec, _ := schemas.NewCodec()
	msgs := simMessages(t, codec, n)
	// KeepFrom 1 keeps every cluster between batches (extending replays),
	// -1 none (replaying every cluster a batch touches): the same results.
	for _, keep := range []int{-1, 1} {
		t.Run(fmt.Sprintf("KeepFrom=%d", keep), func(t *testing.T) {
			simGolden(t, codec, msgs, n, batch, keep, pinned)
		})
	}
}

func simGolden(t *testing.T, codec *schemas.Codec, msgs []kafka.Message, n, batch, keep int, pinned bool) {
	cfg := stacktest.Config(t)
	rdb := redisClient(t, cfg)
	pub := &memPub{}
	res := New(NewRedisStore(rdb, cfg.RedisPrefix, 0), codec, pub, Options{Topics: (&pipeline.Config{}).Topics(), KeepFrom: keep})
	ctx := context.Background()
	for lo := 0; lo < len(msgs); lo += batch {
		if err := res.Handle(ctx, msgs[lo:min(lo+batch, len(msgs))]); err != nil {
			t.Fatal(err)
		}
	}
	var out []string
	for _, m := range pub.msgs {
		ch, err := codec.DecodeChange(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		ch.Reason = maskReason(ch.Reason)
		out = append(out, fmt.Sprintf("msg %s %s %+v", m.Topic, m.Key, *ch))
	}
	msgDigest := digest(slices.Clone(out))
	state := simState(t, codec, NewRedisStore(rdb, cfg.RedisPrefix, 0), msgs)
	stateDigest := digest(slices.Clone(state))
	t.Logf("events=%d messages=%d published=%d state_lines=%d published_digest=%s state_digest=%s", n, len(msgs), len(pub.msgs), len(state), msgDigest, stateDigest)
	if pinned && (msgDigest != goldenPublished || stateDigest != goldenState) {
		t.Errorf("the resolver's results changed: published digest %s (want %s), state digest %s (want %s)", msgDigest, goldenPublished, stateDigest, goldenState)
	}
	if f := os.Getenv("IDLINK_SIM_DUMP"); f != "" {
		all := append(out, state...)
		slices.Sort(all)
		var buf bytes.Buffer
		for _, l := range all {
			buf.WriteString(l)
			buf.WriteByte('\n')
		}
		if err := os.WriteFile(f, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// simState is the meaning of the resolver's state, one line per fact: each
// document's person, status and the person's event count, and each held
// conflict. It leaves out how the state is stored, so a change of storage
// that keeps the meaning keeps its digest.
func simState(t *testing.T, codec *schemas.Codec, s Store, msgs []kafka.Message) []string {
	ctx := context.Background()
	var tokens []string
	seen := map[string]bool{}
	for _, m := range msgs {
		ev, err := codec.DecodeEvent(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ev.Documents {
			if !seen[d.Token] {
				seen[d.Token] = true
				tokens = append(tokens, d.Token)
			}
		}
	}
	var state []string
	for _, tok := range tokens {
		v, err := LookupDocument(ctx, s, tok)
		if err != nil {
			t.Fatal(err)
		}
		if v == nil {
			t.Fatalf("document %s has no person", tok)
		}
		status := ""
		for _, d := range v.Documents {
			if d.Token == tok {
				status = d.Status
			}
		}
		state = append(state, fmt.Sprintf("doc %s person %s events %d %s", tok, v.PersonID, v.Events, status))
	}
	conflicts, err := ListConflicts(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range conflicts {
		state = append(state, fmt.Sprintf("conflict %s %s %s persons %v documents %v", c.EventID, c.OccurredAt, maskReason(c.Reason), c.PersonIDs, c.Documents))
	}
	return state
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkResolveSim is the resolver on real Redis with a simulator data set
// like idlink-bench's (n/2 persons), in batches of 5,000: one op is the whole
// data set, from empty Redis.
func BenchmarkResolveSim(b *testing.B) {
	const n, batch = 100000, 5000
	codec, _ := schemas.NewCodec()
	msgs := simMessages(b, codec, n)
	ctx := context.Background()
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		cfg := stacktest.Config(b)
		rdb := redisClient(b, cfg)
		res := New(NewRedisStore(rdb, cfg.RedisPrefix, 0), codec, discardPub{}, Options{Topics: (&pipeline.Config{}).Topics()})
		runtime.GC()
		before := processCPU()
		b.StartTimer()
		for lo := 0; lo < len(msgs); lo += batch {
			if err := res.Handle(ctx, msgs[lo:min(lo+batch, len(msgs))]); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		cpu += processCPU() - before
		b.StartTimer()
	}
	events := float64(b.N * len(msgs))
	b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Microseconds())/events, "cpu_us/event")
}
