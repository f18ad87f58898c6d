package schemas

import (
	"bytes"
	"testing"
	"time"
)

func TestEncodeChangeFastMatchesGoavro(t *testing.T) {
	c, err := NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	if !c.fastChange {
		t.Fatal("the hand-written encoder is off for the embedded writer schema")
	}
	split := sampleChange()
	split.Kind, split.OtherPersonIDs = ChangeSplit, []string{"P3", "P4", "P5"}
	split.Persons = append(split.Persons, PersonState{PersonID: "P3"})
	for _, tc := range []struct {
		name string
		ch   *IdentityChange
	}{
		{"merged", sampleChange()},
		{"empty", &IdentityChange{}},
		{"created, no others", &IdentityChange{ChangeID: "c", Kind: ChangeCreated, EventID: "e", OccurredAt: time.Unix(1, 0), PersonID: "p", Revision: 1,
			Persons: []PersonState{{PersonID: "p", Documents: []PersonDocument{{Type: "passport", Token: "t"}}}}}},
		{"split with an empty person", split},
		{"negative revision and time", &IdentityChange{Revision: -5, OccurredAt: time.UnixMicro(-1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := c.encodeChangeGeneric(tc.ch)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.EncodeChange(tc.ch)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("fast encoding differs from goavro's:\n got %x\nwant %x", got, want)
			}
		})
	}
}

// FuzzEncodeChange checks the hand-written encoder against goavro on random
// changes.
func FuzzEncodeChange(f *testing.F) {
	c, err := NewCodec()
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{3, 7, 'a', 'b', 'c', 1, 2, 0xff}, 16))
	f.Fuzz(func(t *testing.T, data []byte) {
		ch := (&gen{b: data}).change()
		want, err := c.encodeChangeGeneric(ch)
		if err != nil {
			t.Skip() // goavro refuses it; the fast encoder need not
		}
		if got := encodeChangeFast(ch); !bytes.Equal(got, want) {
			t.Fatalf("fast encoding differs from goavro's:\n got %x\nwant %x", got, want)
		}
	})
}

func BenchmarkEncodeChange(b *testing.B) {
	c, err := NewCodec()
	if err != nil {
		b.Fatal(err)
	}
	ch := sampleChange()
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.EncodeChange(ch); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("goavro", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.encodeChangeGeneric(ch); err != nil {
				b.Fatal(err)
			}
		}
	})
}
