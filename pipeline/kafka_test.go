package pipeline

import (
	"errors"
	"fmt"
	"testing"

	"github.com/segmentio/kafka-go"
)

// TestTemporary pins which errors make EndOffsets ask again.
func TestTemporary(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"not leader, wrapped as EndOffsets wraps it", fmt.Errorf("end offset of t/2: %w", kafka.NotLeaderForPartition), true},
		{"leader not available", kafka.LeaderNotAvailable, true},
		{"unknown topic or partition", kafka.UnknownTopicOrPartition, true},
		{"topic authorization failed", fmt.Errorf("end offset of t/0: %w", kafka.TopicAuthorizationFailed), false},
		{"not a kafka error", errors.New("connection refused"), false},
		{"nil", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := temporary(tc.err); got != tc.want {
				t.Fatalf("temporary(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
