package schemas

import (
	"testing"
	"time"
)

// TestEpochRoundTrips checks that an event and a change at the Unix epoch
// (occurred_at 0 µs) keep that time through every encoder and decoder:
// 0 is a time like any other, not "no time".
func TestEpochRoundTrips(t *testing.T) {
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	epoch := time.Unix(0, 0).UTC()
	ch := &IdentityChange{ChangeID: "c-1", Kind: ChangeCreated, EventID: "e-1", OccurredAt: epoch, PersonID: "p-1"}
	for _, tt := range []struct {
		name string
		enc  func(*IdentityChange) ([]byte, error)
		dec  func([]byte) (*IdentityChange, error)
	}{
		{"fast", c.EncodeChange, c.DecodeChange},
		{"goavro", c.encodeChangeGeneric, c.decodeChangeGeneric},
	} {
		b, err := tt.enc(ch)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tt.dec(b)
		if err != nil {
			t.Fatal(err)
		}
		if !got.OccurredAt.Equal(epoch) || got.OccurredAt.IsZero() {
			t.Errorf("%s: a change at the epoch decodes at %v", tt.name, got.OccurredAt)
		}
	}
	ev := &Event{EventID: "e-1", Type: "identity.verified", Agency: "nia", OccurredAt: epoch,
		Documents: []DocumentRef{{Type: "passport", Token: "ab"}}}
	b, err := c.EncodeEvent(ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.DecodeEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.OccurredAt.Equal(epoch) {
		t.Errorf("an event at the epoch decodes at %v", got.OccurredAt)
	}
}
