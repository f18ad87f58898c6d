package producers_test

import (
	"fmt"

	"github.com/idlink/idlink/producers"
)

// Parse and Validate turn one JSON line into the event the producer
// publishes: document numbers are replaced by keyed tokens, and a bad line
// gets the reason its dead letter carries.
func ExampleValidate() {
	ps := producers.NewPseudonymizer([]byte("example key"))
	line := `{"event_id":"e-1","type":"insurance.code_activated","agency":"nhsa","occurred_at":"2025-03-14T09:30:00+08:00",` +
		`"documents":[{"type":"residence_permit","number":"820000199002110013"}],"attrs":{"channel":"offline"}}`
	in, rej := producers.Parse([]byte(line))
	if rej != nil {
		fmt.Println(rej)
		return
	}
	ev, rej := producers.Validate(in, ps)
	if rej != nil {
		fmt.Println(rej)
		return
	}
	d := ev.Documents[0]
	fmt.Println(ev.EventID, ev.Type, d.Type, len(d.Token), d.BirthDate)

	in, _ = producers.Parse([]byte(`{"event_id":"e-2","type":"insurance.code_activated","agency":"mps","occurred_at":"2025-03-14T09:30:00+08:00",` +
		`"documents":[{"type":"residence_permit","number":"820000199002110013"}]}`))
	_, rej = producers.Validate(in, ps)
	fmt.Println(rej.Reason)

	_, rej = producers.Parse([]byte(`{"event_id":"e-3","event_id":"e-4"}`))
	fmt.Println(rej.Reason)
	// Output:
	// e-1 insurance.code_activated residence_permit 64 1990-02-11
	// agency_not_allowed
	// duplicate_key
}
