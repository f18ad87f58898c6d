package identity

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/segmentio/kafka-go"

	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/schemas"
)

// Consumer is the identity-resolution consumer wired to Redis and Kafka.
type Consumer struct {
	*Resolver
	Store  *RedisStore
	rdb    redis.UniversalClient
	writer *kafka.Writer
	cfg    *pipeline.Config
	opts   pipeline.ConsumerOptions
}

// NewConsumer connects to Redis and Kafka and creates idlink's topics if
// missing.
func NewConsumer(ctx context.Context, cfg *pipeline.Config, codec *schemas.Codec, m *pipeline.Metrics, log *slog.Logger) (*Consumer, error) {
	if err := cfg.EnsureTopics(ctx, cfg.Topics().All()...); err != nil {
		return nil, err
	}
	rdb, err := cfg.Redis()
	if err != nil {
		return nil, err
	}
	if err := cfg.PingRedis(ctx, rdb); err != nil {
		rdb.Close()
		return nil, err
	}
	// Handle publishes a batch's changes in one WriteMessages call and waits
	// for it: a partial batch has nothing more to wait for.
	w, err := cfg.NewWriter(pipeline.WriterOptions{BatchTimeout: time.Millisecond})
	if err != nil {
		rdb.Close()
		return nil, err
	}
	store := NewRedisStore(rdb, cfg.RedisPrefix, 0)
	res := New(store, codec, w, Options{Topics: cfg.Topics(), Metrics: m, Logger: log})
	return &Consumer{
		Resolver: res, Store: store, rdb: rdb, writer: w, cfg: cfg,
		opts: pipeline.ConsumerOptions{
			Name: "resolver", Group: cfg.Group("resolver"), Topics: cfg.Topics().AllAgencies(),
			MaxBatch: 10000, MaxWait: 25 * time.Millisecond, Metrics: m, Logger: log,
		},
	}, nil
}

// Options returns the consumer-group settings for pipeline.RunConsumer.
func (c *Consumer) Options() pipeline.ConsumerOptions { return c.opts }

// Close releases the Redis client and the Kafka writer.
func (c *Consumer) Close() error {
	werr := c.writer.Close()
	rerr := c.rdb.Close()
	if werr != nil {
		return werr
	}
	return rerr
}
