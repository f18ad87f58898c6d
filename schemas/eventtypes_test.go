package schemas

import (
	"testing"
	"time"

	"github.com/idlink/idlink/eventtypes"
)

// TestEveryVersionReadsEveryEventType writes an event of every registered
// event type, from every agency that may publish it, with every embedded
// agency_event schema version, and reads it back with the current codec:
// event types and attrs are plain strings and a string map, so new types
// need no schema change and messages of every earlier version stay
// readable.
func TestEveryVersionReadsEveryEventType(t *testing.T) {
	c := newCodec(t)
	var versions []*version
	for _, v := range c.byFinger {
		if v.subject == SubjectAgencyEvent {
			versions = append(versions, v)
		}
	}
	if len(versions) < 2 {
		t.Fatalf("%d agency_event versions embedded, want v1 and later", len(versions))
	}
	at := time.Date(2025, 3, 14, 9, 30, 0, 123456000, time.FixedZone("", 8*3600))
	for _, v := range versions {
		for _, typ := range eventtypes.All() {
			attrs := map[string]any{"forward_compatible_key": "kept"}
			for _, a := range typ.Attrs {
				switch {
				case a.Values != nil:
					attrs[a.Key] = a.Values[len(a.Values)-1]
				case a.Examples != nil:
					attrs[a.Key] = a.Examples[0]
				default:
					attrs[a.Key] = "x-1"
				}
			}
			agencies := typ.Agencies
			if agencies == nil {
				agencies = eventtypes.Agencies()
			}
			for _, agency := range agencies {
				native := map[string]any{
					"event_id": "e-" + typ.Name, "type": typ.Name, "agency": agency,
					"occurred_at_us": at.UnixMicro(), "tz_offset_s": int32(8 * 3600),
					"region": "440300", "birth_date": "",
					"documents": []any{map[string]any{"type": "passport", "token": "abc", "birth_date": ""}},
					"attrs":     attrs,
				}
				if v.number >= 2 {
					native["produced_at_us"] = at.Add(time.Second).UnixMicro()
				}
				b, err := v.codec.SingleFromNative(nil, native)
				if err != nil {
					t.Fatalf("v%d %s: %v", v.number, typ.Name, err)
				}
				got, err := c.DecodeEvent(b)
				if err != nil {
					t.Fatalf("v%d %s from %s: not readable: %v", v.number, typ.Name, agency, err)
				}
				if got.Type != typ.Name || got.Agency != agency || !got.OccurredAt.Equal(at) || len(got.Attrs) != len(attrs) || len(got.Documents) != 1 {
					t.Fatalf("v%d %s from %s decoded as %+v", v.number, typ.Name, agency, got)
				}
				for k, want := range attrs {
					if got.Attrs[k] != want {
						t.Fatalf("v%d %s: attrs %v, want %v", v.number, typ.Name, got.Attrs, attrs)
					}
				}
			}
		}
	}
}
