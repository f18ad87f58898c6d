package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/idlink/idlink/eventtypes"
	"github.com/idlink/idlink/pipeline"
)

func cmdRetract(ctx context.Context, a *app, args []string) int {
	fs := a.flags("retract", "--event-id E --reason R --agency A")
	target := fs.String("event-id", "", "the event whose links are wrong (required)")
	reason := fs.String("reason", "", "why its links are wrong, kept in the retraction's attrs (required)")
	agency := fs.String("agency", "", "the agency retracting, one of "+joinQuoted(eventtypes.Agencies())+" (required)")
	if code, ok := a.parse(fs, args); !ok {
		return code
	}
	if !a.noArgs(fs) {
		return 2
	}
	switch {
	case *target == "":
		fmt.Fprintln(a.stderr, "idlink retract: --event-id is required: pass the event_id of the event to withdraw (`idlink why` lists them)")
		return 2
	case *reason == "":
		fmt.Fprintln(a.stderr, "idlink retract: --reason is required: say why the links are wrong, e.g. --reason wrong_document")
		return 2
	case !eventtypes.IsAgency(*agency):
		fmt.Fprintf(a.stderr, "idlink retract: --agency %q: use one of %s\n", *agency, joinQuoted(eventtypes.Agencies()))
		return 2
	}
	cfg, ok := a.config()
	if !ok {
		return 1
	}
	ev := retraction(*target, *reason, *agency, time.Now())
	line, err := json.Marshal(ev)
	if err != nil {
		return a.fail(err)
	}
	res, err := produce(ctx, a, cfg, bytes.NewReader(append(line, '\n')), "retract")
	if err != nil {
		if errors.Is(err, pipeline.ErrKafkaUnreachable) {
			return a.fail(err)
		}
		return a.fail(fmt.Errorf("retract: %w", err))
	}
	if res.Rejected > 0 {
		fmt.Fprintln(a.stderr, "idlink retract: the retraction was rejected (see above): fix --event-id or --reason")
		return 2
	}
	fmt.Fprintf(a.stdout, "published %s %s withdrawing %s (agency %s); running this again publishes the same event, which changes nothing\n", eventtypes.LinkRetracted, ev.EventID, *target, *agency)
	if known, err := eventKnown(ctx, cfg, *target); err == nil && !known {
		fmt.Fprintf(a.stdout, "event %s is not resolved yet: the retraction waits for it\n", *target)
	}
	return 0
}

// retractionEvent is the JSON event `idlink retract` hands the producer.
type retractionEvent struct {
	EventID    string            `json:"event_id"`
	Type       string            `json:"type"`
	Agency     string            `json:"agency"`
	OccurredAt string            `json:"occurred_at"`
	Documents  []struct{}        `json:"documents"`
	Attrs      map[string]string `json:"attrs"`
}

// retraction builds the retraction of target by agency. Its event_id is
// derived from agency and target, so running the command again is a repeat
// of the same event, not a second one.
func retraction(target, reason, agency string, now time.Time) retractionEvent {
	h := sha256.Sum256([]byte(agency + "\x00" + target))
	return retractionEvent{
		EventID:    "retract-" + hex.EncodeToString(h[:8]),
		Type:       eventtypes.LinkRetracted,
		Agency:     agency,
		OccurredAt: now.UTC().Format(time.RFC3339Nano),
		Documents:  []struct{}{},
		Attrs:      map[string]string{"retracts": target, "reason": reason},
	}
}

// eventKnown reports whether the resolver has seen event id.
func eventKnown(ctx context.Context, cfg *pipeline.Config, id string) (bool, error) {
	store, closeStore, err := identityStore(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer closeStore()
	_, evs, err := store.Lookup(ctx, nil, []string{id})
	if err != nil {
		return false, err
	}
	_, ok := evs[id]
	return ok, nil
}
