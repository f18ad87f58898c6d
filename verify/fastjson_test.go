package verify

import (
	"encoding/json"
	"reflect"
	"testing"
)

var fastVerifySeeds = []string{
	`{"document":{"type":"hkid","number":"A1234563"}}`,
	`{"document":{"number":"A1234563","type":"hkid"},"person":{"birth_date":"1990-02-11"}}`,
	` { "person" : { "name" : "Chan Tai Man" , "birth_date":"1990-02-11" } ,` + "\n\t" + `"document" : { "type" : "passport" , "number" : "P1234567" } } ` + "\r\n",
	`{"document":{}}`,
	`{}`,
	`{"person":{}}`,
	`{"document":{"type":"hkid"}}`,
	`{"document":{"type":"","number":""}}`,
	// Bodies the fast path leaves to json.Unmarshal.
	`{"Document":{"type":"hkid","number":"A1234563"}}`,
	`{"document":{"TYPE":"hkid","number":"A1234563"}}`,
	`{"document":{"type":"hkid","number":"A1234563","extra":1}}`,
	`{"document":{"type":"hkid","number":"A1234563"},"document":{"type":"passport","number":"P1"}}`,
	`{"document":{"type":"hkid","type":"passport","number":"P1"}}`,
	`{"document":{"type":"h\u006bid","number":"A1234563"}}`,
	`{"document":{"type":"hkid","number":"A123\"4563"}}`,
	`{"document":{"type":"hkid","number":"Ä1234563"}}`,
	`{"document":{"type":"hkid","number":"A1234563"}}x`,
	`{"document":{"type":"hkid","number":"A1234563"}`,
	`{"document":{"type":"hkid","number":"A1234563"},}`,
	`{"document":{"type":"hkid","number":"A1234563",}}`,
	`{"document":{"type":null,"number":"A1234563"}}`,
	`{"document":null}`,
	`{"document":{"type":1,"number":"A1234563"}}`,
	`{"document":[]}`,
	`[]`,
	`null`,
	``,
	`{"document":{"type":"hkid","number":"A1234563"},"person":{"name":"x","name":"y"}}`,
	`{"document":{"type":"hkid" "number":"A1234563"}}`,
	`{"document" {"type":"hkid","number":"A1234563"}}`,
	"{\"document\":{\"type\":\"hk\tid\",\"number\":\"A1234563\"}}",
}

// checkFastVerifyIn fails when fastVerifyIn accepts body and reads it
// otherwise than json.Unmarshal, or accepts a body json.Unmarshal refuses.
func checkFastVerifyIn(t *testing.T, body []byte) (accepted bool) {
	got, ok := fastVerifyIn(body)
	if !ok {
		if !reflect.DeepEqual(got, verifyIn{}) {
			t.Errorf("%q: refused with %+v, want the zero value", body, got)
		}
		return false
	}
	var want verifyIn
	if err := json.Unmarshal(body, &want); err != nil {
		t.Errorf("%q: accepted, json.Unmarshal refuses it: %v", body, err)
		return true
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%q: read as %s, json.Unmarshal reads %s", body, show(got), show(want))
	}
	return true
}

func show(in verifyIn) string {
	b, _ := json.Marshal(in)
	return string(b)
}

// TestFastVerifyIn: the reflection-free reading of a verify body agrees
// with json.Unmarshal on every body it accepts, and accepts the usual ones.
func TestFastVerifyIn(t *testing.T) {
	accepted := 0
	for _, s := range fastVerifySeeds {
		if checkFastVerifyIn(t, []byte(s)) {
			accepted++
		}
	}
	if accepted != 8 {
		t.Errorf("the fast path accepted %d of the seeds, want the first 8", accepted)
	}
	for i, s := range fastVerifySeeds[:8] {
		if _, ok := fastVerifyIn([]byte(s)); !ok {
			t.Errorf("seed %d %q: not accepted", i, s)
		}
	}
}

func FuzzFastVerifyIn(f *testing.F) {
	for _, s := range fastVerifySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkFastVerifyIn(t, body) })
}
