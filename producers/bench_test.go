package producers

import (
	"bufio"
	"bytes"
	"os"
	"testing"

	"github.com/idlink/idlink/schemas"
)

// BenchmarkPrepare measures parse + validate + pseudonymise + Avro encode of
// one line (no Kafka).
func BenchmarkPrepare(b *testing.B) {
	line := line("insurance.code_activated", "nhsa", doc("residence_permit", "820000199002110013")+","+doc("mainland_travel_permit", "M1234567801"), `,"attrs":{"channel":"offline"}`)
	if f := os.Getenv("IDLINK_BENCH_FILE"); f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Scan()
		line = append([]byte(nil), sc.Bytes()...)
	}
	codec, _ := schemas.NewCodec()
	ps := NewPseudonymizer([]byte("k"))
	b.ReportAllocs()
	for b.Loop() {
		in, rj := Parse(line)
		if rj != nil {
			b.Fatal(rj)
		}
		ev, rj := Validate(in, ps)
		if rj != nil {
			b.Fatal(rj)
		}
		if _, err := codec.EncodeEvent(ev); err != nil {
			b.Fatal(err)
		}
	}
}
