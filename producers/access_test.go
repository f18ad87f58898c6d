package producers

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/internal/stacktest"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/schemas"
)

// TestProducerUsesAgencyCredentials checks that the producer publishes an
// agency's events, and the dead letters of lines naming that agency, with
// the agency's own Kafka user, and everything else with the generic one. The
// stack's agency users may write only the real topic names (see
// pipeline/access_test.go), so under this test's prefix a write as
// agency-mps is denied while the generic (idlink) user's succeed: nothing
// reaches the real topics.
func TestProducerUsesAgencyCredentials(t *testing.T) {
	env, err := pipeline.LoadConfig(os.LookupEnv)
	if err != nil {
		t.Fatal(err)
	}
	mps, ok := env.AgencyCredentials["mps"]
	if !ok {
		t.Fatalf("no KAFKA_SASL_USERNAME_MPS in the configuration: the local stack predates access control; run `make reset && make up`")
	}
	cfg := stacktest.Config(t) // the generic user, a prefix of its own
	cfg.AgencyCredentials = map[string]pipeline.Credential{"mps": mps}
	cfg.AgencyPrefixes = nil // mps's user even under this prefix
	codec, err := schemas.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	produce := func(lines ...string) (*Result, error) {
		t.Helper()
		p, err := New(ctx, cfg, codec, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		return p.ProduceFile(ctx, strings.NewReader(strings.Join(lines, "\n")+"\n"), "agencies.jsonl")
	}
	good := rp("810000", "1990-02-11", "123")

	// nhsa has no user of its own, and a line without an agency has no
	// agency: both go out as the generic user.
	nhsa := `{"event_id":"e-2","type":"insurance.code_activated","agency":"nhsa","occurred_at":"2025-03-15T10:00:00+08:00","documents":[{"type":"residence_permit","number":"` + good + `"}],"attrs":{"channel":"offline"}}`
	res, err := produce(nhsa, `{"event_id":"bad-1",`)
	if err != nil || res.Accepted != 1 || res.Rejected != 1 {
		t.Fatalf("generic user: %+v, %v", res, err)
	}
	wantDenied := func(what string, err error) {
		t.Helper()
		// kafka-go reports a topic its user may not see as unknown.
		denied := errors.Is(err, kafka.UnknownTopicOrPartition) || errors.Is(err, kafka.TopicAuthorizationFailed)
		if !denied || !strings.Contains(err.Error(), "as KAFKA_SASL_USERNAME_MPS="+mps.Username) {
			t.Fatalf("%s: want a write as KAFKA_SASL_USERNAME_MPS=%s, denied on this test's topics; got %v", what, mps.Username, err)
		}
	}
	// mps's event, and a bad line naming mps: mps's own user.
	_, err = produce(string(line("residence_permit.issued", "mps", doc("residence_permit", good), "")))
	wantDenied("an mps event", err)
	_, err = produce(`{"event_id":"bad-2","type":"nope","agency":"mps","occurred_at":"2025-03-16T10:00:00+08:00","documents":[{"type":"passport","number":"E12345678"}]}`)
	wantDenied("a dead letter of an mps line", err)
}
