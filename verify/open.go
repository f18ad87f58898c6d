package verify

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/idlink/idlink/consumers/identity"
	"github.com/idlink/idlink/pipeline"
	"github.com/idlink/idlink/schemas"
)

// Open returns the API server `idlink serve` runs over cfg's Redis (keys,
// the resolver's document states, under cfg.RedisPrefix) and Kafka (cfg's
// audit topic, created in the background if it is missing), and a function
// that closes what it opened. Neither service need be up: while one is
// down, calls are answered 503. cfg must hold the pseudonym key.
func Open(ctx context.Context, cfg *pipeline.Config, log *slog.Logger) (*Server, func() error, error) {
	if err := cfg.RequireKey(); err != nil {
		return nil, nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	codec, err := schemas.NewCodec()
	if err != nil {
		return nil, nil, err
	}
	rdb, err := cfg.Redis()
	if err != nil {
		return nil, nil, err
	}
	if err := cfg.PingRedis(ctx, rdb); err != nil {
		log.Warn("the verification API answers 503 until Redis answers", "err", err)
	}
	auditor, err := NewAuditor(cfg, codec)
	if err != nil {
		rdb.Close()
		return nil, nil, err
	}
	topicCtx, stopTopic := context.WithCancel(ctx)
	topicDone := make(chan struct{})
	go func() {
		defer close(topicDone)
		ensureAuditTopic(topicCtx, cfg, log)
	}()
	closeAll := func() error {
		stopTopic()
		<-topicDone
		return errors.Join(auditor.Close(), rdb.Close())
	}
	srv, err := NewServer(Options{
		States:       IdentityStates(identity.NewRedisStore(rdb, cfg.RedisPrefix, 0)),
		Keys:         NewKeyStore(rdb, cfg.RedisPrefix),
		Audit:        auditor,
		PseudonymKey: cfg.PseudonymKey,
		Log:          log,
	})
	if err != nil {
		_ = closeAll()
		return nil, nil, err
	}
	return srv, closeAll, nil
}

// ensureAuditTopic creates the audit topic if it is missing, trying again
// every few seconds while Kafka does not answer, until ctx is done.
func ensureAuditTopic(ctx context.Context, cfg *pipeline.Config, log *slog.Logger) {
	topic := cfg.Topics().AuditLookups()
	for {
		err := cfg.EnsureTopics(ctx, topic)
		if err == nil || ctx.Err() != nil {
			return
		}
		log.Warn("the verification API answers 503 until its audit topic can be written", "topic", topic, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
}
