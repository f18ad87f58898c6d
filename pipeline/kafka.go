package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/scram"
)

// ErrKafkaUnreachable wraps every failure to reach the brokers at all.
var ErrKafkaUnreachable = errors.New("kafka unreachable")

func (c *Config) saslMechanism() (sasl.Mechanism, error) {
	return c.scram(c.KafkaUsername, c.KafkaPassword, "KAFKA_SASL_USERNAME")
}

// scram returns the SASL mechanism for one user, nil for none; variable names
// the setting it came from, for errors.
func (c *Config) scram(username, password, variable string) (sasl.Mechanism, error) {
	if username == "" {
		return nil, nil
	}
	algo := scram.SHA512
	if c.KafkaMechanism == "SCRAM-SHA-256" {
		algo = scram.SHA256
	}
	m, err := scram.Mechanism(algo, username, password)
	if err != nil {
		return nil, fmt.Errorf("setting up SASL %s for %s=%s: %w", c.KafkaMechanism, variable, username, err)
	}
	return m, nil
}

// Transport returns a kafka-go transport with the configured credentials.
func (c *Config) Transport() (*kafka.Transport, error) {
	mech, err := c.saslMechanism()
	if err != nil {
		return nil, err
	}
	return c.newTransport(mech), nil
}

// AgencyCredential returns the agency's own Kafka credential if it has one
// (AgencyCredentials) and it applies under c.TopicPrefix (AgencyPrefixes).
func (c *Config) AgencyCredential(agency string) (Credential, bool) {
	cr, ok := c.AgencyCredentials[agency]
	if !ok || (c.AgencyPrefixes != nil && !slices.Contains(c.AgencyPrefixes, c.TopicPrefix)) {
		return Credential{}, false
	}
	return cr, true
}

// AgencyTransport returns a transport with the agency's own credential
// (AgencyCredential), or with the generic one (Transport) when none applies.
func (c *Config) AgencyTransport(agency string) (*kafka.Transport, error) {
	cr, ok := c.AgencyCredential(agency)
	if !ok {
		return c.Transport()
	}
	mech, err := c.scram(cr.Username, cr.Password, "KAFKA_SASL_USERNAME_"+strings.ToUpper(agency))
	if err != nil {
		return nil, err
	}
	return c.newTransport(mech), nil
}

// newTransport returns a transport with mech (nil: no SASL) and, when Kafka
// TLS is on, TLS (the server name is the broker's host).
func (c *Config) newTransport(mech sasl.Mechanism) *kafka.Transport {
	return &kafka.Transport{
		Dial:        (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		SASL:        mech,
		TLS:         c.KafkaTLS.Config,
		IdleTimeout: 30 * time.Second,
		MetadataTTL: 5 * time.Second,
	}
}

// ForConsumers returns c with the consumers' own Kafka credential, where one
// is set and its ACLs cover c's namespace (the same AgencyPrefixes rule as
// the agency users); otherwise c itself.
func (c *Config) ForConsumers() *Config {
	if c.AgencyPrefixes != nil && !slices.Contains(c.AgencyPrefixes, c.TopicPrefix) {
		return c
	}
	return c.WithKafkaCredential(c.ConsumerCredential)
}

// WithKafkaCredential returns a copy of c that uses cr as its generic Kafka
// credential (KAFKA_SASL_USERNAME/PASSWORD), e.g. c.WithKafkaCredential(
// c.ConsumerCredential) for the consumers. A zero cr returns c unchanged.
func (c *Config) WithKafkaCredential(cr Credential) *Config {
	if cr.Username == "" {
		return c
	}
	cp := *c
	cp.KafkaUsername, cp.KafkaPassword = cr.Username, cr.Password
	return &cp
}

// Dialer returns a kafka-go dialer with the configured credentials, for readers.
func (c *Config) Dialer() (*kafka.Dialer, error) {
	mech, err := c.saslMechanism()
	if err != nil {
		return nil, err
	}
	return &kafka.Dialer{Timeout: 5 * time.Second, DualStack: true, SASLMechanism: mech, TLS: c.KafkaTLS.Config}, nil
}

// KafkaClient returns an admin client for the configured brokers.
func (c *Config) KafkaClient() (*kafka.Client, error) {
	tr, err := c.Transport()
	if err != nil {
		return nil, err
	}
	return &kafka.Client{Addr: kafka.TCP(c.KafkaBrokers...), Timeout: c.Timeout, Transport: tr}, nil
}

func (c *Config) unreachable(err error) error {
	if terr := TLSError(err, "Kafka at KAFKA_BROKERS="+strings.Join(c.KafkaBrokers, ","), "KAFKA_TLS"); terr != err {
		return fmt.Errorf("%w: %w", ErrKafkaUnreachable, terr)
	}
	if errors.Is(err, kafka.SASLAuthenticationFailed) {
		return fmt.Errorf("the Kafka brokers at KAFKA_BROKERS=%s refused the credential of KAFKA_SASL_USERNAME=%s: %w: check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (`make up` writes the local stack's to %s)",
			strings.Join(c.KafkaBrokers, ","), c.KafkaUsername, err, EnvFile)
	}
	if c.KafkaUsername == "" && errors.Is(err, io.ErrUnexpectedEOF) {
		// What a broker that requires SASL does to a client without it.
		return fmt.Errorf("%w: the Kafka brokers at KAFKA_BROKERS=%s closed the connection (%v): if they require SASL, set KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (`make up` writes the local stack's to %s)",
			ErrKafkaUnreachable, strings.Join(c.KafkaBrokers, ","), err, EnvFile)
	}
	return fmt.Errorf("%w: cannot reach Kafka at KAFKA_BROKERS=%s (%v): start it with `make up`, or set KAFKA_BROKERS to a reachable host:port list",
		ErrKafkaUnreachable, strings.Join(c.KafkaBrokers, ","), err)
}

// EnsureTopics creates the given topics with c.Partitions partitions where
// they do not exist yet. It fails within c.Timeout when no broker answers.
// Topics the credential may not create (TopicAuthorizationFailed,
// ClusterAuthorizationFailed) are left alone: they may exist unseen, and a
// write to a missing one fails anyway.
func (c *Config) EnsureTopics(ctx context.Context, topics ...string) error {
	client, err := c.KafkaClient()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return c.unreachable(err)
	}
	have := map[string]bool{}
	for _, t := range md.Topics {
		if t.Error == nil {
			have[t.Name] = true
		}
	}
	var req kafka.CreateTopicsRequest
	for _, t := range topics {
		if !have[t] {
			req.Topics = append(req.Topics, kafka.TopicConfig{Topic: t, NumPartitions: c.Partitions, ReplicationFactor: 1})
		}
	}
	if len(req.Topics) == 0 {
		return nil
	}
	res, err := client.CreateTopics(ctx, &req)
	if denied(err) {
		// A user without the right to create topics (an agency's, say) does
		// not see the topics it may not use either: carry on, and let a
		// missing topic fail the first write.
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating topics: %w", err)
	}
	var created []string
	for _, t := range req.Topics {
		terr := res.Errors[t.Topic]
		switch {
		case terr == nil:
			created = append(created, t.Topic)
		case errors.Is(terr, kafka.TopicAlreadyExists), denied(terr):
		default:
			return fmt.Errorf("creating topic %s: %w", t.Topic, terr)
		}
	}
	if len(created) == 0 {
		return nil
	}
	// Wait until the new topics have leaders, so the first write succeeds.
	deadline := time.Now().Add(c.Timeout)
	for {
		md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: created})
		if err == nil && allLed(md) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topics %v created but have no leader after %s: %w", created, c.Timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// denied reports whether err is Kafka refusing the credential's rights.
func denied(err error) bool {
	return errors.Is(err, kafka.TopicAuthorizationFailed) || errors.Is(err, kafka.ClusterAuthorizationFailed)
}

func allLed(md *kafka.MetadataResponse) bool {
	for _, t := range md.Topics {
		if t.Error != nil || len(t.Partitions) == 0 {
			return false
		}
		for _, p := range t.Partitions {
			if p.Error != nil || p.Leader.Host == "" {
				return false
			}
		}
	}
	return true
}

// WriterOptions tunes NewWriter.
type WriterOptions struct {
	// BatchSize is the most messages in one produce request (default 5000).
	BatchSize int
	// BatchTimeout is how long a partial batch waits (default 5ms; kafka-go's
	// own default of 1s would add a second of latency to every flush).
	BatchTimeout time.Duration
}

// MaxBatchBytes bounds the messages of one produce request to a partition
// (kafka-go counts them before compression). The broker refuses a record
// batch over its message.max.bytes (1,048,588 by default) with Message Size
// Too Large, and a writer retrying a batch it can never send holds its
// consumer up for good: a resolver batch of 50,000 events, whose 45,000
// identity changes made 5,000-message batches of over a megabyte, did so.
const MaxBatchBytes = 1_000_000

// NewWriter returns a synchronous writer that hashes message keys to
// partitions, so all events keyed by one document stay in order. The topic is
// set per message.
func (c *Config) NewWriter(o WriterOptions) (*kafka.Writer, error) {
	tr, err := c.Transport()
	if err != nil {
		return nil, err
	}
	return c.newWriter(tr, o), nil
}

// NewAgencyWriter is NewWriter with the agency's own credential
// (AgencyTransport): the generic one when the agency has none.
func (c *Config) NewAgencyWriter(agency string, o WriterOptions) (*kafka.Writer, error) {
	tr, err := c.AgencyTransport(agency)
	if err != nil {
		return nil, err
	}
	return c.newWriter(tr, o), nil
}

func (c *Config) newWriter(tr *kafka.Transport, o WriterOptions) *kafka.Writer {
	if o.BatchSize == 0 {
		o.BatchSize = 5000
	}
	if o.BatchTimeout == 0 {
		o.BatchTimeout = 5 * time.Millisecond
	}
	return &kafka.Writer{
		Addr:         kafka.TCP(c.KafkaBrokers...),
		Balancer:     &kafka.Hash{},
		BatchSize:    o.BatchSize,
		BatchBytes:   MaxBatchBytes,
		BatchTimeout: o.BatchTimeout,
		RequiredAcks: kafka.RequireAll,
		MaxAttempts:  10,
		Compression:  kafka.Lz4,
		Transport:    tr,
	}
}

// ReaderOptions tunes NewReader.
type ReaderOptions struct {
	Group   string   // consumer group id
	Topics  []string // topics to read
	MaxWait time.Duration
}

// NewReader returns a consumer-group reader. Offsets are committed only by
// explicit CommitMessages calls (at-least-once): the reader sends the latest
// every 100ms, at a rebalance and on Close, so a batch does not wait for a
// commit round trip; after a crash the last 100ms are delivered again.
func (c *Config) NewReader(o ReaderOptions) (*kafka.Reader, error) {
	d, err := c.Dialer()
	if err != nil {
		return nil, err
	}
	if o.MaxWait == 0 {
		o.MaxWait = 100 * time.Millisecond
	}
	return kafka.NewReader(kafka.ReaderConfig{
		Brokers:                c.KafkaBrokers,
		GroupID:                o.Group,
		GroupTopics:            o.Topics,
		Dialer:                 d,
		MinBytes:               1,
		MaxBytes:               16 << 20,
		MaxWait:                o.MaxWait,
		QueueCapacity:          10000,
		StartOffset:            kafka.FirstOffset,
		CommitInterval:         100 * time.Millisecond,
		HeartbeatInterval:      time.Second,
		SessionTimeout:         10 * time.Second,
		RebalanceTimeout:       10 * time.Second,
		JoinGroupBackoff:       500 * time.Millisecond,
		WatchPartitionChanges:  true,
		PartitionWatchInterval: 2 * time.Second,
		ReadBackoffMin:         10 * time.Millisecond,
		ReadBackoffMax:         200 * time.Millisecond,
	}), nil
}

// EndOffsets returns, per topic and partition, the offset one past the last
// message, for deciding when a consumer has caught up. A partition whose
// leader is moving answers with a temporary error (such as Not Leader For
// Partition, right after a topic is created); the request is then made again,
// up to endOffsetAttempts times, 100ms apart.
func (c *Config) EndOffsets(ctx context.Context, topics []string) (map[string]map[int]int64, error) {
	client, err := c.KafkaClient()
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		out, err := c.endOffsets(ctx, client, topics)
		if err == nil || attempt == endOffsetAttempts || !temporary(err) || ctx.Err() != nil {
			return out, err
		}
		sleep(ctx, 100*time.Millisecond)
	}
}

// endOffsetAttempts bounds how often EndOffsets asks again after temporary
// errors.
const endOffsetAttempts = 10

func (c *Config) endOffsets(ctx context.Context, client *kafka.Client, topics []string) (map[string]map[int]int64, error) {
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, c.unreachable(err)
	}
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, t := range md.Topics {
		for _, p := range t.Partitions {
			req.Topics[t.Name] = append(req.Topics[t.Name], kafka.LastOffsetOf(p.ID))
		}
	}
	res, err := client.ListOffsets(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("listing end offsets: %w", err)
	}
	out := map[string]map[int]int64{}
	for t, ps := range res.Topics {
		out[t] = map[int]int64{}
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("end offset of %s/%d: %w", t, p.Partition, p.Error)
			}
			out[t][p.Partition] = p.LastOffset
		}
	}
	return out, nil
}

// temporary reports whether err is a Kafka error the broker calls temporary
// (worth asking again).
func temporary(err error) bool {
	var kerr kafka.Error
	return errors.As(err, &kerr) && kerr.Temporary()
}

// CommittedOffsets returns the group's committed offsets per topic/partition
// (-1 where nothing was committed).
func (c *Config) CommittedOffsets(ctx context.Context, group string, topics []string) (map[string]map[int]int64, error) {
	client, err := c.KafkaClient()
	if err != nil {
		return nil, err
	}
	md, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: topics})
	if err != nil {
		return nil, c.unreachable(err)
	}
	req := &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{}}
	for _, t := range md.Topics {
		for _, p := range t.Partitions {
			req.Topics[t.Name] = append(req.Topics[t.Name], p.ID)
		}
	}
	res, err := client.OffsetFetch(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("fetching offsets of group %s: %w", group, err)
	}
	if res.Error != nil {
		return nil, fmt.Errorf("fetching offsets of group %s: %w", group, res.Error)
	}
	out := map[string]map[int]int64{}
	for t, ps := range res.Topics {
		out[t] = map[int]int64{}
		for _, p := range ps {
			out[t][p.Partition] = p.CommittedOffset
		}
	}
	return out, nil
}
