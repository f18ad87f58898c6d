package identity_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/idlink/idlink/consumers/identity"
)

func token(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// A retraction withdraws the link it names as if it had never been made: the
// event it held back is decided again, and applies.
func ExampleReplay() {
	hkA, hkB, permit := token("hkid A"), token("hkid B"), token("travel permit T")
	c := identity.NewCluster("example")
	for _, d := range []identity.Doc{{Token: hkA, Type: "hkid"}, {Token: hkB, Type: "hkid"}, {Token: permit, Type: "mainland_travel_permit"}} {
		c.AddDoc(d)
	}
	c.AddEvent(identity.Event{ID: "e1", At: 1}, []string{hkA, permit})
	c.AddEvent(identity.Event{ID: "e2", At: 2}, []string{hkB, permit}) // two hkids: held while e1 stands

	out := identity.Replay(c)
	fmt.Println("held:", len(out.Conflicts), out.Conflicts[0].EventID, out.Conflicts[0].Reason)
	fmt.Println("permit with hkid A:", out.PersonOf[2] == out.PersonOf[0])

	c.AddEvent(identity.Event{ID: "r1", At: 3, Retract: true, Retracts: "e1"}, nil)
	out = identity.Replay(c)
	fmt.Println("held:", len(out.Conflicts))
	fmt.Println("permit with hkid B:", out.PersonOf[2] == out.PersonOf[1])
	// Output:
	// held: 1 e2 conflicting_hkid
	// permit with hkid A: true
	// held: 0
	// permit with hkid B: true
}
